"""Topic names: what a topic is about, and the names a user gives.

BERTopic's own c-TF-IDF words mix what reviews are about with how they feel and with filler
("setting, lovely, burnt, uneven"; "arrived, days, way, exactly"). A topic is named instead by
its **aspect terms**: the noun phrases that its reviews talk about, ranked by the same c-TF-IDF
(BERTopic's :class:`~bertopic.vectorizers.ClassTfidfTransformer`) over the terms rather than
over every word. Without ``reduce_frequent_words``: over a vocabulary of a few hundred terms
the square-root damping let terms that two reviews mention outrank the topic's main one (on
``examples/reviews.csv``, "dishwasher" (2) and "handle" (2) above "kettle" (6) and "lid" (5)).

* the terms come from the run's aspect column (the aspect model's or the rules' extractions)
  or, where a run scored no aspects, from :class:`affectkit.aspects.extract.RuleAspectExtractor`
  over the review text;
* terms are case-folded, a plural is counted with its singular ("sizes" -> "size"; the group is
  shown by its most frequent form, :func:`affectkit.reviews.terms.term_groups`), and a term
  whose last word is a function word, an opinion word (VADER's, and :data:`affectkit.reviews.terms.DESCRIPTIVE`), a
  common verb or a generic noun ("works", "love", "cheap", "days") is dropped;
* each review counts a term once, and a term needs :data:`MIN_REVIEWS` reviews of the topic;
* a topic with fewer than two such terms is completed with its c-TF-IDF words that pass the
  same word filter.

:func:`read_names` reads the names a user gives (``{topic id: name}`` as JSON, or a CSV/TSV
with the columns ``topic`` and ``name``); :func:`rename_topics` applies them to a finished run's
outputs without scoring again.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from affectkit.exceptions import InvalidInputError
from affectkit.reviews.terms import fold_term, is_about_term, term_groups

__all__ = ["MIN_REVIEWS", "LABEL_TERMS", "about_terms", "name_topics", "read_names", "check_names", "rename_topics"]

#: A term names a topic only when at least this many of its reviews mention it.
MIN_REVIEWS = 2
#: Terms in a topic's label.
LABEL_TERMS = 4
#: A user's topic name is at most this long.
MAX_NAME_CHARS = 80


def about_terms(texts: Sequence[str | None], aspect_cells: Sequence[Any] | None = None) -> list[list[str]]:
    """The case-folded aspect terms of each text, each once, in text order.

    ``aspect_cells`` (one per text: a JSON list of ``{"aspect": ...}`` as the review job writes
    it, or ``None``) gives the terms where the run scored aspects; texts without a cell get the
    rule extractor's terms.
    """
    from affectkit.aspects.extract import RuleAspectExtractor

    rules = RuleAspectExtractor()
    out: list[list[str]] = []
    cells = list(aspect_cells) if aspect_cells is not None else [None] * len(texts)
    if len(cells) != len(texts):
        raise InvalidInputError(f"about_terms needs one aspect cell per text. Got {len(cells)} for {len(texts)} texts.")
    for text, cell in zip(texts, cells, strict=True):
        if not isinstance(text, str) or not text.strip():
            out.append([])
            continue
        found: list[str] | None = None
        if isinstance(cell, str) and cell.strip():
            try:
                items = json.loads(cell)
            except ValueError:
                items = None
            if isinstance(items, list):
                found = [str(a.get("aspect", "")) for a in items if isinstance(a, Mapping)]
        if found is None:
            found = [text[a:b] for a, b in rules.extract(text)]
        out.append(list(dict.fromkeys(t for t in (fold_term(x) for x in found) if t and is_about_term(t))))
    return out


def name_topics(topic_ids: Sequence[int] | np.ndarray, terms: Sequence[Sequence[str]],
                fallback: Mapping[int, Sequence[str]] | None = None, k: int = LABEL_TERMS) -> dict[int, list[str]]:
    """Up to ``k`` terms naming each topic (ids >= 0), best first (see the module docstring).

    ``topic_ids`` and ``terms`` are per review; ``fallback`` gives each topic's c-TF-IDF words.
    """
    topic_ids = np.asarray(topic_ids, dtype=np.int64)
    if len(topic_ids) != len(terms):
        raise InvalidInputError(f"name_topics needs one term list per review. Got {len(terms)} for {len(topic_ids)}.")
    fallback = fallback or {}
    topics = sorted({int(t) for t in topic_ids.tolist() if t >= 0} | {int(t) for t in fallback if t >= 0})
    group = term_groups(Counter(t for row in terms for t in row))
    counts: dict[int, Counter[str]] = {t: Counter() for t in topics}
    for tid, row in zip(topic_ids.tolist(), terms, strict=True):
        if tid >= 0:
            counts[tid].update({group[t] for t in row})
    vocab = sorted({t for c in counts.values() for t, n in c.items() if n >= MIN_REVIEWS})
    ranked: dict[int, list[str]] = {t: [] for t in topics}
    if vocab and topics:
        from scipy.sparse import csr_matrix

        from affectkit.reviews._libs import topic_libraries

        bertopic = topic_libraries()[0]
        index = {w: j for j, w in enumerate(vocab)}
        m = np.zeros((len(topics), len(vocab)))
        for i, t in enumerate(topics):
            for w, n in counts[t].items():
                if n >= MIN_REVIEWS:
                    m[i, index[w]] = n
        weights = bertopic.vectorizers.ClassTfidfTransformer().fit_transform(csr_matrix(m))
        weights = np.asarray(weights.todense())
        for i, t in enumerate(topics):
            order = np.argsort(-weights[i], kind="stable")
            ranked[t] = [vocab[j] for j in order if m[i, j] > 0]
    out: dict[int, list[str]] = {}
    for t in topics:
        chosen = _without_overlap(ranked[t], k)
        if len(chosen) < 2:
            extra = [w for w in (fold_term(x) for x in fallback.get(t, [])) if is_about_term(w)]
            chosen = _without_overlap(chosen + extra, k)
        out[t] = chosen or [fold_term(x) for x in fallback.get(t, [])][:k]
    return out


def _without_overlap(terms: Sequence[str], k: int) -> list[str]:
    """The first ``k`` terms, a term left out when a chosen one contains it or it contains a chosen one."""
    chosen: list[str] = []
    for t in terms:
        words = set(t.split())
        if any(words <= set(c.split()) or set(c.split()) <= words for c in chosen):
            continue
        chosen.append(t)
        if len(chosen) == k:
            break
    return chosen


# -- the names a user gives ----------------------------------------------------------------------
def check_names(names: Mapping[Any, Any], parameter: str = "topic_names") -> dict[int, str]:
    """``{topic id: name}`` with int ids and clean one-line names; a clear error otherwise."""
    if not isinstance(names, Mapping):
        raise InvalidInputError(f"The '{parameter}' parameter must map topic ids to names. Got {type(names).__name__}.")
    out: dict[int, str] = {}
    for key, value in names.items():
        try:
            tid = int(str(key).strip())
        except ValueError:
            raise InvalidInputError(
                f"The '{parameter}' topic ids must be whole numbers (as in topics.parquet's 'topic' column). "
                f"Got {key!r}.") from None
        name = " ".join(str(value if value is not None else "").split())
        if not name:
            raise InvalidInputError(f"The '{parameter}' name of topic {tid} is empty; give a name or leave the topic out.")
        if len(name) > MAX_NAME_CHARS:
            raise InvalidInputError(
                f"The '{parameter}' name of topic {tid} has {len(name)} characters; at most {MAX_NAME_CHARS} are allowed.")
        out[tid] = name
    return out


def read_names(path: str | Path) -> dict[int, str]:
    """Topic names from a file: a JSON object ``{"3": "Delivery"}``, or CSV/TSV with columns ``topic,name``."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"The topic names file {str(path)!r} does not exist.")
    raw = path.read_bytes().decode("utf-8-sig", errors="replace")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise InvalidInputError(f"The topic names file {path.name!r} is not valid JSON ({exc}).") from None
        return check_names(data, "names file")
    rows = list(csv.DictReader(raw.splitlines(), delimiter="\t" if path.suffix.lower() == ".tsv" else ","))
    if not rows or not {"topic", "name"} <= set(rows[0]):
        raise InvalidInputError(
            f"The topic names file {path.name!r} needs the columns 'topic' and 'name' "
            f"(e.g. a line '3,Delivery delays'). Got columns {list(rows[0]) if rows else []}.")
    return check_names({r["topic"]: r["name"] for r in rows if (r.get("topic") or "").strip()}, "names file")


def rename_topics(out_dir: str | Path, names: Mapping[Any, Any]) -> dict[int, str]:
    """Give the topics of a finished review run the names ``names`` (``{topic id: name}``).

    Rewrites ``topics.parquet`` (``label``), ``reviews.parquet`` (``topic_label``), the SQLite
    tables, ``reviews.csv`` where the run wrote one, ``report.html`` and ``summary.json``
    (``topic_names``: every name given so far), each atomically; nothing is scored again. A name
    for a topic id the run does not have is an error. Returns the names in force.
    """
    import pandas as pd

    from affectkit.reviews.outputs import write_outputs, write_summary

    out_dir = Path(out_dir)
    wanted = check_names(names)
    needed = [out_dir / n for n in ("reviews.parquet", "topics.parquet", "summary.json")]
    absent = [p.name for p in needed if not p.is_file()]
    if absent:
        raise InvalidInputError(
            f"{str(out_dir)!r} is not a finished review run (no {', '.join(absent)}). Run 'affectkit reviews' first.")
    summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    reviews = pd.read_parquet(out_dir / "reviews.parquet")
    table = pd.read_parquet(out_dir / "topics.parquet")
    known = {int(t) for t in table["topic"].tolist() if int(t) >= 0}
    unknown = sorted(set(wanted) - known)
    if unknown:
        raise InvalidInputError(f"This run has no topic {unknown[0]}; its topics are {sorted(known)}.")
    if "auto_label" not in table:
        table["auto_label"] = table["label"]
    given = {int(k): v for k, v in (summary.get("topic_names") or {}).items()} | wanted
    auto = dict(zip(table["topic"].astype(int), table["auto_label"], strict=True))
    label = {t: given.get(t, auto.get(t, "")) for t in auto}
    table["label"] = [label[int(t)] for t in table["topic"]]
    if "topic" in reviews:
        reviews["topic_label"] = [label.get(int(t), "") if int(t) >= 0 else "" for t in reviews["topic"]]
    summary["topic_names"] = {str(k): v for k, v in sorted(given.items())}
    summary["top_topics"] = table[table["topic"] >= 0].nlargest(10, "size")["label"].tolist()
    cols = summary.get("columns") or {}
    write_outputs(out_dir, reviews, table, summary, csv=(out_dir / "reviews.csv").is_file(),
                  report=(out_dir / "report.html").is_file(), id_col=cols.get("id_col"),
                  time_col=cols.get("time_col"), rating_col=cols.get("rating_col"))
    write_summary(out_dir, summary)
    return given
