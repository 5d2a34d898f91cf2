"""Reading a review file into a DataFrame: CSV, TSV, JSON lines or Parquet, plain or inside .gz / .zip.

Nothing is dropped: a text that is not valid UTF-8 is decoded with U+FFFD replacement and its row is
flagged ``encoding``; a JSON line that does not parse becomes a row with missing values, flagged
``unparseable``. The returned frame has one row per input record, in file order.
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from affectkit.exceptions import InvalidInputError

__all__ = ["ReviewFile", "read_reviews", "FORMATS"]

FORMATS = ("csv", "tsv", "jsonl", "parquet")
_EXT = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
        ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class ReviewFile:
    """A read review file: the frame, and per-row problems found while reading (row -> flags)."""

    frame: Any  # pandas.DataFrame
    format: str
    row_flags: dict[int, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _format_of(name: str, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise InvalidInputError(f"The 'format' parameter must be one of {list(FORMATS)}. Got {fmt!r}.")
        return fmt
    suffixes = [s.lower() for s in Path(name).suffixes if s.lower() not in (".gz", ".zip")]
    for suffix in reversed(suffixes):
        if suffix in _EXT:
            return _EXT[suffix]
    raise InvalidInputError(
        f"Cannot tell the format of {Path(name).name!r}: expected .csv, .tsv, .jsonl or .parquet (optionally "
        "inside .gz or .zip). Pass format='csv' (CLI: --format csv) to say it."
    )


def _payload(path: Path) -> tuple[str, bytes]:
    """The file's inner name and bytes, unpacking .gz and single-file .zip archives."""
    suffix = path.suffix.lower()
    if suffix == ".gz":
        try:
            return path.name[:-3], gzip.decompress(path.read_bytes())
        except (OSError, EOFError) as exc:
            raise InvalidInputError(f"{path.name} is not a readable gzip file ({exc}).") from None
    if suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                names = [n for n in zf.namelist() if not n.endswith("/") and not n.startswith("__MACOSX/")
                         and not Path(n).name.startswith(".")]
                if len(names) != 1:
                    raise InvalidInputError(
                        f"{path.name} must hold exactly one data file; it holds {len(names)}: {names[:5]}. "
                        "Unpack it and pass the file you want."
                    )
                return names[0], zf.read(names[0])
        except zipfile.BadZipFile as exc:
            raise InvalidInputError(f"{path.name} is not a readable zip file ({exc}).") from None
    return path.name, path.read_bytes()


def _decode(data: bytes) -> tuple[str, bool]:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), True


def read_reviews(path: str | Path, format: str | None = None, text_col: str | None = None) -> ReviewFile:
    """Read every record of a review file (see the module docstring)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"The input file {str(path)!r} does not exist or is not a file.")
    inner, data = _payload(path)
    fmt = _format_of(inner, format)
    row_flags: dict[int, list[str]] = {}
    notes: list[str] = []
    if fmt == "parquet":
        try:
            frame = pd.read_parquet(io.BytesIO(data))
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise InvalidInputError(f"{inner} is not a readable Parquet file ({exc}).") from None
        return ReviewFile(frame.reset_index(drop=True), fmt, row_flags, notes)
    text, repaired = _decode(data)
    if fmt == "jsonl":
        records: list[dict[str, Any]] = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                obj = None
            if not isinstance(obj, dict):
                row_flags.setdefault(len(records), []).append("unparseable")
                notes.append(f"line {lineno} is not a JSON object; kept as an empty row flagged 'unparseable'")
                obj = {}
            records.append(obj)
        frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    else:
        if not text.strip():
            raise InvalidInputError(f"{inner} is empty: expected a header line and rows.")
        dtype = {text_col: str} if text_col else None
        try:
            frame = pd.read_csv(io.StringIO(text), sep="\t" if fmt == "tsv" else ",", dtype=dtype,
                                keep_default_na=False, na_values=[""], low_memory=False)
        except (pd.errors.ParserError, ValueError) as exc:
            raise InvalidInputError(f"{inner} is not a readable {fmt.upper()} file: {exc}") from None
    frame = frame.reset_index(drop=True)
    if repaired:
        for col in frame.columns:
            if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col].dtype):
                hit = frame[col].map(lambda v: isinstance(v, str) and "\ufffd" in v)
                for i in hit[hit].index:
                    flags = row_flags.setdefault(int(i), [])
                    if "encoding" not in flags:
                        flags.append("encoding")
        notes.append(f"{sum('encoding' in f for f in row_flags.values())} rows held bytes that are not UTF-8; "
                     "they were replaced with U+FFFD and the rows flagged 'encoding'")
    return ReviewFile(frame, fmt, row_flags, notes)
