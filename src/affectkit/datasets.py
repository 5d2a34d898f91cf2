"""Readers for the public labelled sets laid out in ``shared/data`` (see its README).

These read the original files in place; nothing of the data is copied into the project.
The root is ``$AFFECTKIT_DATA`` if set, else the first ``shared/data`` found next to the
current directory or one of its parents.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from affectkit.exceptions import InvalidInputError
from affectkit.labels import EMOTION_LABELS, SENTIMENT_LABELS

__all__ = ["Dataset", "AbsaSentence", "data_root", "load_dataset", "load_absa", "read_absa_xml", "is_absa", "DATASETS"]


@dataclass
class Dataset:
    name: str
    split: str
    texts: list[str]
    y: list  # label names (single-label) or tuples of names (multi-label)
    labels: tuple[str, ...]
    multi_label: bool


def data_root(root: str | Path | None = None) -> Path | None:
    """The directory of the shared data sets, or None when it cannot be found."""
    if root is not None:
        return Path(root)
    env = os.environ.get("AFFECTKIT_DATA")
    if env:
        return Path(env)
    here = Path.cwd().resolve()
    for d in (here, *here.parents):
        for cand in (d / "shared" / "data", d.parent / "shared" / "data"):
            if cand.is_dir():
                return cand
    return None


def _semeval2017(root: Path, split: str) -> Dataset:
    if split != "train":
        raise InvalidInputError("semeval2017-sentiment has only the 'train' split here.")
    texts, ys = [], []
    with open(root / "semeval2017-sentiment" / "train.tsv", encoding="utf-8", errors="replace", newline="") as fh:
        for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) >= 3 and row[1] in SENTIMENT_LABELS:
                texts.append(row[2])
                ys.append(row[1])
    return Dataset("semeval2017-sentiment", split, texts, ys, SENTIMENT_LABELS, False)


def _tweeteval(root: Path, split: str) -> Dataset:
    d = root / "tweeteval-sentiment"
    if not (d / f"{split}_text.txt").is_file():
        raise InvalidInputError(f"tweeteval-sentiment has no {split!r} split here (only 'val').")
    texts = (d / f"{split}_text.txt").read_text(encoding="utf-8", errors="replace").split("\n")
    labels = (d / f"{split}_labels.txt").read_text(encoding="utf-8").split()
    texts = texts[: len(labels)]
    return Dataset("tweeteval-sentiment", split, texts, [SENTIMENT_LABELS[int(v)] for v in labels], SENTIMENT_LABELS, False)


def _goemotions(root: Path, split: str) -> Dataset:
    path = root / "goemotions" / f"{split}.tsv"
    if not path.is_file():
        raise InvalidInputError(f"goemotions has no {split!r} split here (train, dev).")
    texts, ys = [], []
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            texts.append(row[0])
            ys.append(tuple(EMOTION_LABELS[int(i)] for i in row[1].split(",")))
    return Dataset("goemotions", split, texts, ys, EMOTION_LABELS, True)


def _multi_domain(root: Path, split: str) -> Dataset:
    """Blitzer et al. 2007 Amazon reviews; the split is the domain (books, dvd, electronics, ...)."""
    import html
    import re

    d = root / "multi-domain-reviews" / split
    if not (d / "positive.review").is_file():
        domains = sorted(p.name for p in (root / "multi-domain-reviews").iterdir() if p.is_dir())
        raise InvalidInputError(f"multi-domain-reviews has no domain {split!r} here ({', '.join(domains)}).")
    texts, ys = [], []
    for label in ("negative", "positive"):
        raw = (d / f"{label}.review").read_text(encoding="latin-1")
        for body in re.findall(r"<review_text>\n?(.*?)\n?</review_text>", raw, flags=re.S):
            texts.append(html.unescape(body.strip()))
            ys.append(label)
    return Dataset("multi-domain-reviews", split, texts, ys, ("negative", "positive"), False)


_SST_FINE = ("negative", "negative", "neutral", "positive", "positive")  # SST-5 -> 3 classes
_PTB = [(re.compile(r"-lrb-", re.I), "("), (re.compile(r"-rrb-", re.I), ")"), (re.compile(r"``\s*|\s*''"), '"'),
        (re.compile(r" (n't|'s|'re|'ve|'m|'ll|'d)\b"), r"\1"), (re.compile(r"\( "), "("),
        (re.compile(r" ([.,!?;:%)])"), r"\1")]


def detokenize_ptb(text: str) -> str:
    """SST's PTB-style tokens back to plain text (``does n't`` -> ``doesn't``, ``-lrb-`` -> ``(``), so
    the sentences are tokenized by our tokenizers as a user's text would be."""
    for pattern, repl in _PTB:
        text = pattern.sub(repl, text)
    return text.strip()


def _sst(root: Path, split: str) -> Dataset:
    """SST sentences (Socher et al. 2013): ``train``/``dev`` are SST-5 mapped to negative / neutral /
    positive (0-1, 2, 3-4); ``binary-train``/``binary-dev`` are SST-2 (neutral sentences removed)."""
    binary = split.startswith("binary-")
    part = split[len("binary-"):] if binary else split
    path = root / "sst" / f"stsa.{'binary' if binary else 'fine'}.{part}"
    if part not in ("train", "dev") or not path.is_file():
        raise InvalidInputError(f"sst has no {split!r} split here (train, dev, binary-train, binary-dev).")
    texts, ys = [], []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        label, _, text = line.partition(" ")
        if not text.strip() or not label.isdigit():
            continue
        texts.append(detokenize_ptb(text))
        ys.append(("negative", "positive")[int(label)] if binary else _SST_FINE[int(label)])
    labels = ("negative", "positive") if binary else SENTIMENT_LABELS
    return Dataset("sst", split, texts, ys, labels, False)


def sentence_polarity(sentence: AbsaSentence) -> str | None:
    """The sentence sentiment that an ABSA sentence's labels imply: the polarity its aspect terms and
    categories all share, or None when they disagree, one is ``conflict``, or it has none."""
    found = {pol for _, _, _, pol in sentence.aspects} | set(sentence.categories.values())
    return found.pop() if len(found) == 1 and not found & {"conflict"} else None


def _absa_sentences(root: Path, split: str) -> Dataset:
    """Sentence sentiment from the SemEval ABSA train files (:func:`sentence_polarity`; sentences whose
    aspects disagree, or without any, are left out). ``val``: the aspect model's validation split of the
    two 2014 files (:func:`absa_split`); ``train``: the rest of them plus the SemEval-2016 restaurant
    sentences whose text is not in ``val``."""
    if split not in ("train", "val"):
        raise InvalidInputError(f"absa-sentences has no {split!r} split (train, val).")
    rows: list[AbsaSentence] = []
    held: set[str] = set()
    for domain in ("restaurants", "laptops"):
        sentences = load_absa(f"semeval2014-absa:{domain}", root)
        val = absa_split(len(sentences))
        held |= {r.text.strip() for r, v in zip(sentences, val, strict=True) if v}
        rows += [r for r, v in zip(sentences, val, strict=True) if v == (split == "val")]
    if split == "train" and (root / "semeval2016-absa" / ABSA_FILES[("semeval2016-absa", "restaurants")]).is_file():
        rows += [r for r in load_absa("semeval2016-absa:restaurants", root) if r.text.strip() not in held]
    texts, ys = [], []
    for r in rows:
        label = sentence_polarity(r)
        if label is not None and r.text.strip():
            texts.append(r.text)
            ys.append(label)
    return Dataset("absa-sentences", split, texts, ys, SENTIMENT_LABELS, False)


def _contrast(root: Path | None, split: str) -> Dataset:
    """affectkit's contrast set (``affectkit/data/contrast.csv``, texts we wrote: negation, value idioms,
    concessions, sarcasm, emoji, plain controls, mixed opinions). ``sentiment``: the 187 texts with a
    negative / neutral / positive label; ``mixed``: the 30 mixed-opinion texts (label ``mixed``, for
    the verdict; see ``benchmarks/contrast.py``); ``all``: both."""
    from importlib.resources import files

    if split not in ("sentiment", "mixed", "all"):
        raise InvalidInputError(f"contrast has no {split!r} split (sentiment, mixed, all).")
    with files("affectkit.data").joinpath("contrast.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    keep = [r for r in rows if split == "all" or (r["label"] == "mixed") == (split == "mixed")]
    labels = (*SENTIMENT_LABELS, "mixed") if split == "all" else ("mixed",) if split == "mixed" else SENTIMENT_LABELS
    return Dataset("contrast", split, [r["text"] for r in keep], [r["label"] for r in keep], labels, False)


DATASETS = {
    "semeval2017-sentiment": _semeval2017,
    "contrast": _contrast,
    "sst": _sst,
    "absa-sentences": _absa_sentences,
    "tweeteval-sentiment": _tweeteval,
    "goemotions": _goemotions,
    "multi-domain-reviews": _multi_domain,
}


#: Sets read from another set's folder.
_FOLDERS = {"absa-sentences": "semeval2014-absa"}
#: Sets that ship inside the package (texts we wrote), found without ``shared/data``.
_PACKAGED = {"contrast"}


def load_dataset(spec: str, root: str | Path | None = None) -> Dataset:
    """Load ``"name:split"`` (e.g. ``"tweeteval-sentiment:val"``) from the shared data."""
    name, _, split = spec.partition(":")
    if name not in DATASETS:
        raise InvalidInputError(f"Unknown dataset {name!r}. Known: {sorted(DATASETS)} (as name:split).")
    if name in _PACKAGED:
        return DATASETS[name](None, split or "sentiment")
    base = data_root(root)
    if base is None or not (base / _FOLDERS.get(name, name)).is_dir():
        raise InvalidInputError(
            f"The data set {name!r} was not found (looked in {base or 'no shared/data directory'}). "
            f"Set AFFECTKIT_DATA to the directory that holds it."
        )
    default_split = {"semeval2017-sentiment": "train", "tweeteval-sentiment": "val", "goemotions": "dev",
                     "multi-domain-reviews": "electronics", "sst": "dev", "absa-sentences": "val"}[name]
    return DATASETS[name](base, split or default_split)


@dataclass
class AbsaSentence:
    text: str
    aspects: list[tuple[str, int, int, str]]  # term, start, end, polarity
    categories: dict[str, str] = field(default_factory=dict)  # category -> polarity
    category_set: str = ""  # "2014", "2016" or "" (see read_absa_xml)


#: The named aspect-term sets: (name, domain) -> file of ``../shared/data/<name>/`` (train files).
ABSA_FILES = {
    ("semeval2014-absa", "restaurants"): "Restaurants_Train_v2.xml",
    ("semeval2014-absa", "laptops"): "Laptop_Train_v2.xml",
    ("semeval2016-absa", "restaurants"): "ABSA16_Restaurants_Train_SB1_v2.xml",
}


def is_absa(spec: str | Path) -> bool:
    """Whether ``--data`` names aspect data: a named set above or a SemEval ``.xml`` file."""
    text = str(spec)
    return text.lower().endswith(".xml") or text.partition(":")[0] in {name for name, _ in ABSA_FILES}


#: The aspect model's validation split: this fraction of a train file's sentences, drawn with this seed.
ABSA_VAL_FRACTION = 0.1
ABSA_SPLIT_SEED = 0


def absa_split(n: int, fraction: float = ABSA_VAL_FRACTION, seed: int = ABSA_SPLIT_SEED) -> np.ndarray:
    """Whether each of ``n`` sentences (in file order) is in the validation split, cut by sentence."""
    idx = np.random.default_rng(seed).permutation(n)
    val = np.zeros(n, dtype=bool)
    val[idx[: int(round(n * fraction))]] = True
    return val


def load_absa(spec: str | Path, root: str | Path | None = None) -> list[AbsaSentence]:
    """Aspect terms with their polarity: a named set (``"semeval2014-absa:restaurants"``, ``":laptops"``,
    ``"semeval2016-absa:restaurants"``) or the path of a SemEval-2014 or SemEval-2016 (SB1) XML file.

    ``semeval2014-absa:restaurants-val`` (``laptops-val``) is the aspect model's validation split:
    10% of the train file's sentences, seed 0 (:func:`absa_split`); ``...-train`` is the rest."""
    text = str(spec)
    for part in ("-val", "-train"):
        if text.endswith(part) and not text.lower().endswith(".xml"):
            rows = load_absa(text[: -len(part)], root)
            val = absa_split(len(rows))
            return [r for r, v in zip(rows, val, strict=True) if v == (part == "-val")]
    if text.lower().endswith(".xml"):
        path = Path(text).expanduser()
        if not path.is_file():
            raise InvalidInputError(f"The aspect data file {text!r} does not exist.")
        return read_absa_xml(path)
    name, _, domain = text.partition(":")
    if (name, domain) not in ABSA_FILES:
        known = ", ".join(f"{n}:{d}" for n, d in ABSA_FILES) + " (each also with -val or -train)"
        raise InvalidInputError(f"Unknown aspect data set {text!r}. Known: {known}, or the path of a SemEval .xml file.")
    base = data_root(root)
    path = None if base is None else base / name / ABSA_FILES[(name, domain)]
    if path is None or not path.is_file():
        raise InvalidInputError(f"{text} was not found (looked in {base}). Set AFFECTKIT_DATA to the data directory.")
    return read_absa_xml(path)


def read_absa_xml(path: str | Path) -> list[AbsaSentence]:
    """Sentences, aspect terms and categories of a SemEval XML file, in either format:

    * 2014 Task 4: ``<aspectTerm term= from= to= polarity=>`` and (restaurants)
      ``<aspectCategory category= polarity=>``;
    * 2016 Task 5 (SB1, sentence level): ``<Opinion target= from= to= category= polarity=>``. Opinions
      without a target (``target="NULL"``: about a category only) count for their category only;
      several opinions on one span (or one category) count once, as ``conflict`` when their
      polarities differ (scored like 2014's conflict: excluded from polarity).

    ``category_set`` is ``"2016"`` for a sentence with ``<Opinions>``, ``"2014"`` for one with
    ``<aspectTerms>`` or ``<aspectCategories>`` (then the categories it does not list are absent),
    else ``""``. Terms whose offsets fall outside the text are dropped.
    """
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise InvalidInputError(f"Cannot read {path} as SemEval XML: {exc}") from None
    out = []
    for sentence in root.iter("sentence"):
        text = sentence.findtext("text") or ""
        spans: dict[tuple[int, int], tuple[str, str]] = {}
        cats: dict[str, str] = {}
        cat_set = "2014" if sentence.find("aspectCategories") is not None or sentence.find("aspectTerms") is not None else ""
        for a in sentence.iter("aspectTerm"):
            spans[(int(a.get("from", 0)), int(a.get("to", 0)))] = (a.get("term", ""), a.get("polarity", ""))
        for c in sentence.iter("aspectCategory"):
            cats[c.get("category", "")] = c.get("polarity", "")
        for o in sentence.iter("Opinion"):
            cat_set = "2016"
            pol, cat, target = o.get("polarity", ""), o.get("category", ""), o.get("target")
            if cat:
                cats[cat] = "conflict" if cat in cats and cats[cat] != pol else pol
            if target and target != "NULL" and o.get("from") is not None:
                span = (int(o.get("from", 0)), int(o.get("to", 0)))
                spans[span] = (target, "conflict" if span in spans and spans[span][1] != pol else pol)
        if sentence.find("Opinions") is not None:
            cat_set = "2016"
        terms = [(term, s, e, pol) for (s, e), (term, pol) in sorted(spans.items()) if 0 <= s < e <= len(text)]
        out.append(AbsaSentence(text, terms, cats, cat_set))
    if not any(s.aspects for s in out):
        raise InvalidInputError(
            f"{path} holds no aspect terms (no <aspectTerm>, and no <Opinion> with a target): "
            f"category-only annotations cannot be scored for terms."
        )
    return out
