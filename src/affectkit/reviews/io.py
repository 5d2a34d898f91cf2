"""Reading a review file into a DataFrame: CSV, TSV, JSON lines or Parquet, plain or inside .gz / .zip.

Nothing is dropped: a text that is not valid UTF-8 is decoded with U+FFFD replacement and its row is
flagged ``encoding``; a JSON line that does not parse becomes a row with missing values, flagged
``unparseable``. The returned frame has one row per input record, in file order.

The file is read as a stream: a ``.gz`` or ``.zip`` is decompressed as it is parsed, never unpacked
whole in memory, and reading stops with a :class:`~affectkit.exceptions.LimitExceededError` as soon as

- the decompressed data passes ``max_input_bytes`` (default :data:`MAX_INPUT_BYTES`, 4 GiB);
- a compressed file expands more than ``max_input_ratio`` times its size (default :data:`MAX_INPUT_RATIO`,
  100; the first :data:`RATIO_FREE_BYTES` are always allowed), which is what a decompression bomb does and
  real review files do not (CSV text compresses 3 to 10 times);
- the file holds more than ``max_rows`` records (default :data:`MAX_ROWS`, 5 million).

Each limit is ``None`` for none. A ``.zip`` must hold exactly one data file, and an archive inside an
archive (a ``.gz`` in a ``.zip``, a gzip of a gzip) is refused: unpack the outer one first.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import shutil
import tempfile
import zipfile
import zlib
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from affectkit.exceptions import InvalidInputError, LimitExceededError

__all__ = ["ReviewFile", "read_reviews", "FORMATS", "MAX_INPUT_BYTES", "MAX_ROWS", "MAX_INPUT_RATIO",
           "RATIO_FREE_BYTES", "check_limits"]

FORMATS = ("csv", "tsv", "jsonl", "parquet")
_EXT = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
        ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet"}

MiB = 1 << 20
GiB = 1 << 30
#: Decompressed bytes read at most (a million long reviews with their columns are about 1 GiB).
MAX_INPUT_BYTES = 4 * GiB
#: Records read at most.
MAX_ROWS = 5_000_000
#: How many times its own size a compressed file may expand (past :data:`RATIO_FREE_BYTES`).
MAX_INPUT_RATIO = 100.0
#: Decompressed bytes always allowed, whatever the ratio (a small, very repetitive file).
RATIO_FREE_BYTES = 64 * MiB
#: Bytes read from the file at a time.
_CHUNK = MiB

_MAGIC = {b"\x1f\x8b": "gzip", b"PK\x03\x04": "zip"}
_WHERE = {"max_input_bytes": ("--max-input-bytes", "AFFECTKIT_MAX_JOB_INPUT_BYTES"),
          "max_rows": ("--max-rows", "AFFECTKIT_MAX_JOB_ROWS"),
          "max_input_ratio": ("--max-input-ratio", "AFFECTKIT_MAX_JOB_INPUT_RATIO")}


@dataclass
class ReviewFile:
    """A read review file: the frame, and per-row problems found while reading (row -> flags)."""

    frame: Any  # pandas.DataFrame
    format: str
    row_flags: dict[int, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _raise_it(name: str) -> str:
    flag, env = _WHERE[name]
    return f"raise {name} (CLI: {flag}; service: {env})"


def check_limits(max_input_bytes: int | None, max_rows: int | None, max_input_ratio: float | None) -> None:
    """Check the three reading limits (each a positive number or ``None``)."""
    for name, value in (("max_input_bytes", max_input_bytes), ("max_rows", max_rows),
                        ("max_input_ratio", max_input_ratio)):
        kind = float if name == "max_input_ratio" else int
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0 or (
                kind is int and not float(value).is_integer()):
            raise InvalidInputError(f"The '{name}' parameter must be a positive {kind.__name__} or None (no "
                                    f"limit). Got {value!r}.")


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


def _size(n: float) -> str:
    for unit, name in ((GiB, "GiB"), (MiB, "MiB"), (1 << 10, "KiB")):
        if n >= unit:
            return f"{n / unit:.3g} {name}"
    return f"{int(n)} bytes"


class _Bounded(io.RawIOBase):
    """A read-only stream over ``source`` that counts the bytes it gives and stops past a limit.

    It also checks, as the bytes go by, whether they are valid UTF-8 (``valid_utf8``).
    """

    def __init__(self, source: IO[bytes], name: str, archive: str | None, *, max_bytes: int | None,
                 max_ratio: float | None, packed: int):
        super().__init__()
        self._source, self._name, self.archive = source, name, archive
        self._max_bytes = max_bytes
        self._ratio_limit = None
        if archive is not None and max_ratio is not None:
            self._ratio_limit = max(RATIO_FREE_BYTES, int(max_ratio * packed))
        self._max_ratio, self._packed = max_ratio, packed
        self.total = 0
        self.valid_utf8 = True
        self._utf8 = codecs.getincrementaldecoder("utf-8")()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            n = self._source.readinto(buffer)
        except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
            if self.archive is None:
                raise
            raise InvalidInputError(f"{self._name} is not a readable {self.archive} file ({exc}).") from None
        n = n or 0
        self.total += n
        if self._max_bytes is not None and self.total > self._max_bytes:
            raise LimitExceededError(
                f"{self._name} holds more than {_size(self._max_bytes)} ({self._max_bytes} bytes) of data"
                f"{' once decompressed' if self.archive else ''}: the 'max_input_bytes' limit. If the file "
                f"is genuine, {_raise_it('max_input_bytes')}, or split it."
            )
        if self._ratio_limit is not None and self.total > self._ratio_limit:
            raise LimitExceededError(
                f"{self._name} ({_size(self._packed)}) expands past {_size(self._ratio_limit)} when decompressed, "
                f"more than {self._max_ratio:g} times its size (the 'max_input_ratio' limit): it looks like a "
                f"decompression bomb. If the file is genuine, {_raise_it('max_input_ratio')}, or pass it "
                "uncompressed."
            )
        if self.valid_utf8:
            try:
                self._utf8.decode(bytes(memoryview(buffer)[:n]), final=n == 0)
            except UnicodeDecodeError:
                self.valid_utf8 = False
        return n


def _members(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    return [i for i in zf.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX/")
            and not Path(i.filename).name.startswith(".")]


def _open(path: Path, stack: ExitStack, *, max_bytes: int | None, max_ratio: float | None
          ) -> tuple[str, io.BufferedReader, _Bounded]:
    """The file's inner name and a bounded, buffered stream of its (decompressed) bytes."""
    suffix = path.suffix.lower()
    packed = path.stat().st_size
    archive: str | None = None
    if suffix == ".gz":
        inner, archive = path.name[:-3], "gzip"
        source: IO[bytes] = stack.enter_context(gzip.open(path, "rb"))
    elif suffix == ".zip":
        inner, archive = path.name, "zip"
        try:
            zf = stack.enter_context(zipfile.ZipFile(path))
        except zipfile.BadZipFile as exc:
            raise InvalidInputError(f"{path.name} is not a readable zip file ({exc}).") from None
        members = _members(zf)
        if len(members) != 1:
            names = [m.filename for m in members]
            raise InvalidInputError(
                f"{path.name} must hold exactly one data file; it holds {len(names)}: {names[:5]}. "
                "Unpack it and pass the file you want."
            )
        inner, packed = members[0].filename, members[0].compress_size
        try:
            source = stack.enter_context(zf.open(members[0]))
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:  # damaged, or encrypted
            raise InvalidInputError(f"{path.name} is not a readable zip file ({exc}).") from None
    else:
        inner, source = path.name, stack.enter_context(path.open("rb", buffering=0))
    bounded = _Bounded(source, path.name, archive, max_bytes=max_bytes, max_ratio=max_ratio, packed=packed)
    stream = stack.enter_context(io.BufferedReader(bounded, _CHUNK))
    if archive is not None:
        head = stream.peek(4)[:4]
        nested = next((kind for magic, kind in _MAGIC.items() if head.startswith(magic)), None)
        if nested is not None or Path(inner).suffix.lower() in (".gz", ".zip"):
            raise InvalidInputError(
                f"{path.name} holds another archive ({Path(inner).name}, {nested or 'compressed'}); archives "
                "inside archives are not read. Unpack the outer one and pass the file inside it."
            )
    return inner, stream, bounded


def _too_many_rows(name: str, max_rows: int) -> LimitExceededError:
    return LimitExceededError(f"{name} has more than {max_rows} rows: the 'max_rows' limit. If the file is "
                              f"genuine, {_raise_it('max_rows')}, or split it.")


def _read_parquet(name: str, inner: str, source: Path | IO[bytes], max_bytes: int | None,
                  max_rows: int | None) -> Any:
    """A Parquet file, its size and rows checked from its metadata first. A decompressed stream is
    spooled to a temporary file (Parquet needs to seek); a plain file is read where it is."""
    import pandas as pd
    import pyarrow.parquet as pq

    with ExitStack() as stack:
        if isinstance(source, Path):
            handle: Any = source
        else:
            handle = stack.enter_context(tempfile.TemporaryFile())
            shutil.copyfileobj(source, handle, _CHUNK)
        try:
            if not isinstance(handle, Path):
                handle.seek(0)
            meta = pq.ParquetFile(handle).metadata
            unpacked = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
            if max_rows is not None and meta.num_rows > max_rows:
                raise _too_many_rows(name, max_rows)
            if max_bytes is not None and unpacked > max_bytes:
                raise LimitExceededError(
                    f"{name} holds {_size(unpacked)} of column data once decoded, more than {_size(max_bytes)} "
                    f"({max_bytes} bytes): the 'max_input_bytes' limit. If the file is genuine, "
                    f"{_raise_it('max_input_bytes')}, or split it."
                )
            if not isinstance(handle, Path):
                handle.seek(0)
            return pd.read_parquet(handle)
        except InvalidInputError:
            raise
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise InvalidInputError(f"{inner} is not a readable Parquet file ({exc}).") from None


def _read_jsonl(name: str, stream: IO[bytes], max_rows: int | None, row_flags: dict[int, list[str]],
                notes: list[str]) -> Any:
    import pandas as pd

    records: list[dict[str, Any]] = []
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace")
    for lineno, line in enumerate(text, 1):
        if not line.strip():
            continue
        if max_rows is not None and len(records) >= max_rows:
            raise _too_many_rows(name, max_rows)
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            obj = None
        if not isinstance(obj, dict):
            row_flags.setdefault(len(records), []).append("unparseable")
            notes.append(f"line {lineno} is not a JSON object; kept as an empty row flagged 'unparseable'")
            obj = {}
        records.append(obj)
    text.detach()
    return pd.DataFrame.from_records(records) if records else pd.DataFrame()


def _read_table(name: str, inner: str, fmt: str, stream: IO[bytes], max_rows: int | None,
                text_col: str | None) -> Any:
    import pandas as pd

    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    dtype = {text_col: str} if text_col else None
    try:
        # one pass over the stream: the parser reads it a buffer at a time and stops after max_rows + 1 rows
        frame = pd.read_csv(text, sep="\t" if fmt == "tsv" else ",", dtype=dtype, keep_default_na=False,
                            na_values=[""], low_memory=False, nrows=None if max_rows is None else max_rows + 1)
    except InvalidInputError:
        raise
    except pd.errors.EmptyDataError:
        raise InvalidInputError(f"{inner} is empty: expected a header line and rows.") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise InvalidInputError(f"{inner} is not a readable {fmt.upper()} file: {exc}") from None
    finally:
        text.detach()
    if max_rows is not None and len(frame) > max_rows:
        raise _too_many_rows(name, max_rows)
    return frame


def read_reviews(path: str | Path, format: str | None = None, text_col: str | None = None, *,
                 max_input_bytes: int | None = MAX_INPUT_BYTES, max_rows: int | None = MAX_ROWS,
                 max_input_ratio: float | None = MAX_INPUT_RATIO) -> ReviewFile:
    """Read every record of a review file, as a stream within the limits (see the module docstring)."""
    import pandas as pd

    check_limits(max_input_bytes, max_rows, max_input_ratio)
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"The input file {str(path)!r} does not exist or is not a file.")
    row_flags: dict[int, list[str]] = {}
    notes: list[str] = []
    with ExitStack() as stack:
        inner, stream, bounded = _open(path, stack, max_bytes=max_input_bytes, max_ratio=max_input_ratio)
        fmt = _format_of(inner, format)
        if fmt == "parquet":
            source = path if bounded.archive is None else stream
            frame = _read_parquet(path.name, inner, source, max_input_bytes, max_rows)
            return ReviewFile(frame.reset_index(drop=True), fmt, row_flags, notes)
        if fmt == "jsonl":
            frame = _read_jsonl(path.name, stream, max_rows, row_flags, notes)
        else:
            frame = _read_table(path.name, inner, fmt, stream, max_rows, text_col)
        repaired = not bounded.valid_utf8
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
