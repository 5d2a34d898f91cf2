"""The review job's output files: Parquet, CSV, SQLite, the HTML report and ``summary.json``.

Every file is written to a temporary name beside it and renamed when complete
(:func:`affectkit._files.atomic_path`), so a reader never sees half a file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from affectkit._files import atomic_path, atomic_write_text

__all__ = ["arrow_safe", "write_outputs", "write_summary", "aspect_table"]


def arrow_safe(frame: Any) -> Any:
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


def aspect_table(out: Any) -> Any:
    """One row per aspect found (``row``, ``aspect``, ``start``, ``end``, ``polarity``, ``probability``)."""
    import pandas as pd

    rows = []
    if "aspects" in out:
        for row, cell in zip(out["row"], out["aspects"], strict=True):
            if isinstance(cell, str):
                for a in json.loads(cell):
                    rows.append({"row": int(row), **a})
    return pd.DataFrame(rows, columns=["row", "aspect", "start", "end", "polarity", "probability"])


def write_parquet(frame: Any, path: Path) -> Path:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return path


#: Text cells starting with these are formulas to a spreadsheet (CSV injection, OWASP).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula, else itself."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def write_csv(frame: Any, path: Path) -> Path:
    """``frame`` as CSV, text cells that a spreadsheet would read as formulas quoted with a leading ``'``
    (the Parquet and SQLite outputs keep the text as it is)."""
    text_cols = [c for c in frame.columns if frame[c].dtype.kind in "OSU" or "str" in str(frame[c].dtype)]
    safe = frame.assign(**{c: frame[c].map(spreadsheet_safe) for c in text_cols}) if text_cols else frame
    with atomic_path(path) as tmp:
        safe.to_csv(tmp, index=False)
    return path


def write_sqlite(path: Path, reviews: Any, topic_table: Any, aspects: Any, summary: dict[str, Any]) -> Path:
    """Tables ``reviews``, ``topics``, ``aspects`` and ``run`` (the summary as key / JSON value)."""
    import sqlite3

    import pandas as pd

    with atomic_path(path) as tmp:
        with sqlite3.connect(tmp) as con:
            dates = [c for c in reviews.columns if reviews[c].dtype.kind == "M"]
            sql = reviews.assign(**{c: reviews[c].astype(str) for c in dates}) if dates else reviews
            sql.to_sql("reviews", con, index=False, chunksize=2_000)  # chunks bound the memory of the insert
            topic_table.to_sql("topics", con, index=False)
            aspects.to_sql("aspects", con, index=False, chunksize=10_000)
            pd.DataFrame([{"key": k, "value": json.dumps(v, default=str)} for k, v in summary.items()]).to_sql(
                "run", con, index=False)
            con.execute("CREATE INDEX reviews_row ON reviews(row)")
            con.execute("CREATE INDEX aspects_row ON aspects(row)")
        con.close()
    return path


def _duration(seconds: dict[str, float]) -> float:
    """The run's wall time: its total once the run has one (a renamed run's), else the stages' sum."""
    return float(seconds["total"]) if "total" in seconds else float(sum(seconds.values()))


def report_info(summary: dict[str, Any], *, id_col: str | None, time_col: str | None,
                rating_col: str | None) -> dict[str, Any]:
    """What the report shows about the run, from the summary so far."""
    return {"input": summary["input"], "n_rows": summary["rows"], "n_scored": summary["scored"],
            "n_flagged": summary["flagged"], "models": {k: v for k, v in summary["models"].items() if v},
            "time_col": time_col, "rating_col": rating_col, "duration_s": _duration(summary["seconds"]),
            "created": summary["created"], "notes": summary["notes"], "id_col": id_col}


def write_outputs(out_dir: Path, out: Any, topic_table: Any, summary: dict[str, Any], *, csv: bool, report: bool,
                  id_col: str | None, time_col: str | None, rating_col: str | None) -> dict[str, Path]:
    """Write every output but ``summary.json``; returns their paths by kind."""
    safe = arrow_safe(out)
    files = {"reviews": write_parquet(safe, out_dir / "reviews.parquet"),
             "topics": write_parquet(topic_table, out_dir / "topics.parquet")}
    if csv:
        files["csv"] = write_csv(safe, out_dir / "reviews.csv")
    files["sqlite"] = write_sqlite(out_dir / "reviews.sqlite", safe, topic_table, aspect_table(out), summary)
    if report:
        from affectkit.reviews.report import write_report

        info = report_info(summary, id_col=id_col, time_col=time_col, rating_col=rating_col)
        files["report"] = write_report(out_dir / "report.html", out, topic_table, info)
    return files


def write_summary(out_dir: Path, summary: dict[str, Any]) -> Path:
    return atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
