"""Files written whole or not at all, and JSON read with a bound on its nesting (standard library only at import)."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from affectkit.exceptions import ModelFormatError

__all__ = ["MAX_JSON_DEPTH", "atomic_path", "atomic_write_text", "json_depth_error", "read_json"]

#: How deeply the JSON files of a model directory may nest. Ours nest 5 levels at most; a file nested
#: deeper is not one we wrote, and Python's JSON reader would end in a RecursionError on it.
MAX_JSON_DEPTH = 64


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; it replaces ``path`` when the block ends.

    Readers see the old file or the complete new one, never a partial one. If the block raises,
    the temporary file is removed and ``path`` is left as it was::

        with atomic_path(out / "reviews.parquet") as tmp:
            frame.to_parquet(tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def json_depth_error(value: Any, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Where ``value`` (parsed JSON) nests deeper than ``max_depth`` levels, as a key path such as
    ``params.members[0].x``; ``None`` when it does not. Walks with a stack, never recursion."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, where, depth = stack.pop()
        if not isinstance(item, dict | list):
            continue
        if depth >= max_depth:
            return where or "the top level"
        pairs = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in pairs:
            if isinstance(child, dict | list):
                step = f"[{key}]" if isinstance(item, list) else (f".{key}" if where else str(key))
                stack.append((child, where + step, depth + 1))
    return None


def read_json(path: str | Path, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The JSON value in the file ``path``, nested at most ``max_depth`` levels.

    A file that cannot be read, is not UTF-8 JSON, or nests deeper gives a
    :class:`~affectkit.exceptions.ModelFormatError` that names the file (and the key), never a
    ``RecursionError``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ModelFormatError(f"{path} is not UTF-8 text ({exc}); expected a JSON file.") from exc
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelFormatError(f"{path} is not valid JSON: {exc}") from exc
    except RecursionError:  # nested beyond the interpreter's limit: the reader gave up mid-file
        where = "a depth Python's JSON reader cannot reach"
    else:
        where = json_depth_error(value, max_depth)
        if where is None:
            return value
    shown = where if len(where) <= 120 else where[:117] + "..."
    raise ModelFormatError(
        f"{path} nests its JSON more than {max_depth} levels deep (at {shown}); affectkit's model files nest "
        f"a few levels. The file is damaged or not an affectkit file: save the model again with analyzer.save(path)."
    )
