"""Reading users' files: CSV, TSV and JSON-lines (optionally gzip-compressed).

Bytes that are not valid UTF-8 are replaced (U+FFFD) rather than failing the file, and
the number of rows repaired is reported, so one bad row never stops a job.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from affectkit.exceptions import InvalidInputError

__all__ = ["Table", "LabelledData", "read_table", "read_labelled", "read_lines"]

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass
class Table:
    columns: list[str]
    rows: list[dict[str, Any]]
    repaired_rows: int = 0


@dataclass
class LabelledData:
    texts: list[Any]
    y: list[Any]
    labels: tuple[str, ...] | None
    multi_label: bool
    notes: list[str] = field(default_factory=list)


def _open_text(path: Path) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # noqa: SIM115
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")


def _format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    ext = suffixes[-1] if suffixes else ""
    if ext in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if ext in (".tsv", ".tab"):
        return "tsv"
    if ext in (".csv", ".txt"):
        return "csv"
    raise InvalidInputError(
        f"Cannot read {path.name}: expected a .csv, .tsv or .jsonl file (optionally .gz). Got {ext or 'no extension'!r}."
    )


def read_table(path: str | Path) -> Table:
    """Read a whole CSV/TSV/JSONL file into rows of dicts."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"The input file {str(path)!r} does not exist or is not a file.")
    fmt = _format(path)
    rows: list[dict[str, Any]] = []
    repaired = 0
    with _open_text(path) as fh:
        if fmt == "jsonl":
            columns: list[str] = []
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                repaired += "\ufffd" in line
                try:
                    obj = json.loads(line)
                except (json.JSONDecodeError, RecursionError) as exc:
                    why = getattr(exc, "msg", "nested too deeply")
                    raise InvalidInputError(f"{path.name}, line {lineno}: not valid JSON ({why}).") from None
                if not isinstance(obj, dict):
                    raise InvalidInputError(f"{path.name}, line {lineno}: expected a JSON object per line.")
                for key in obj:
                    if key not in columns:
                        columns.append(key)
                rows.append(obj)
            return Table(columns, rows, repaired)
        reader = csv.DictReader(fh, delimiter="\t" if fmt == "tsv" else ",")
        columns = list(reader.fieldnames or [])
        for row in reader:
            row.pop(None, None)  # extra cells beyond the header
            if any(v is not None and "\ufffd" in v for v in row.values()):
                repaired += 1
            rows.append(row)
    return Table(columns, rows, repaired)


def read_lines(path: str | Path) -> Iterator[str]:
    """Lines of a text file (one text per line), decoded leniently."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"The input file {str(path)!r} does not exist or is not a file.")
    with _open_text(path) as fh:
        for line in fh:
            yield line.rstrip("\r\n")


def _column(table: Table, name: str, param: str, path: Path) -> str:
    if name not in table.columns:
        raise InvalidInputError(
            f"The '{param}' column {name!r} is not in {path.name}. Columns found: {table.columns}."
        )
    return name


def read_labelled(
    path: str | Path,
    text_col: str = "text",
    label_col: str | None = None,
    labels_col: str | None = None,
    label_cols: Sequence[str] | None = None,
    sep: str = ",",
) -> LabelledData:
    """Read texts and labels for training or evaluation.

    One of: ``label_col`` (one label per row, single-label); ``labels_col`` (labels
    separated by ``sep`` in one cell, multi-label); ``label_cols`` (one 0/1 column per
    label, multi-label). With none given: a ``label`` column, else a ``labels`` column.
    """
    path = Path(path)
    table = read_table(path)
    _column(table, text_col, "text_col", path)
    given = sum(x is not None for x in (label_col, labels_col, label_cols))
    if given > 1:
        raise InvalidInputError("Pass only one of label_col, labels_col and label_cols.")
    if given == 0:
        if "label" in table.columns:
            label_col = "label"
        elif "labels" in table.columns:
            labels_col = "labels"
        else:
            raise InvalidInputError(
                f"{path.name} has no 'label' or 'labels' column. Name the label column with --label-col "
                f"(single-label), --labels-col (comma-separated labels) or --label-cols (0/1 columns). "
                f"Columns found: {table.columns}."
            )
    texts = [row.get(text_col) for row in table.rows]
    notes = [f"{table.repaired_rows} rows had invalid UTF-8 bytes (replaced)"] if table.repaired_rows else []
    if label_col is not None:
        _column(table, label_col, "label_col", path)
        ys = [row.get(label_col) for row in table.rows]
        keep = [i for i, v in enumerate(ys) if v is not None and str(v).strip() != ""]
        if len(keep) < len(ys):
            notes.append(f"{len(ys) - len(keep)} rows without a label were skipped")
        return LabelledData([texts[i] for i in keep], [str(ys[i]).strip() for i in keep], None, False, notes)
    if labels_col is not None:
        _column(table, labels_col, "labels_col", path)
        ys = []
        for row in table.rows:
            cell = row.get(labels_col)
            if isinstance(cell, list):
                ys.append(tuple(str(v).strip() for v in cell))
            else:
                ys.append(tuple(v.strip() for v in str(cell or "").split(sep) if v.strip()))
        return LabelledData(texts, ys, None, True, notes)
    assert label_cols is not None
    for c in label_cols:
        _column(table, c, "label_cols", path)
    ys = []
    for lineno, row in enumerate(table.rows, 2):
        chosen = []
        for c in label_cols:
            v = str(row.get(c, "")).strip()
            if v not in ("0", "1", "0.0", "1.0", "True", "False", "true", "false", ""):
                raise InvalidInputError(f"{path.name}, row {lineno}: column {c!r} must be 0 or 1. Got {v!r}.")
            if v in ("1", "1.0", "True", "true"):
                chosen.append(c)
        ys.append(tuple(chosen))
    return LabelledData(texts, ys, tuple(label_cols), True, notes)
