"""The review job's checkpoint: scored batches kept on disk until the outputs are written.

Finished batches are written to ``OUT/.checkpoint/parts``, each to a temporary name and then
renamed, so a part is either whole or absent. ``manifest.json`` says what the parts were made
from (the input's digest and the analyses); a run with other settings refuses to mix them in.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from affectkit._files import atomic_path
from affectkit.exceptions import InvalidInputError

__all__ = ["Checkpoint", "file_digest", "CHECKPOINT", "MANIFEST_VERSION"]

CHECKPOINT = ".checkpoint"
#: Written beside the outputs when a run finishes: the manifest the outputs were made with.
FINISHED = ".finished.json"
MANIFEST_VERSION = 1


def file_digest(path: Path) -> str:
    """The SHA-256 of the file at ``path`` (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Checkpoint:
    """The parts of an unfinished run in ``out_dir``, for the settings in ``manifest``.

    ``overwrite=True`` drops any earlier parts; otherwise parts made with another manifest raise
    :class:`InvalidInputError` naming what changed.
    """

    def __init__(self, out_dir: Path, manifest: dict[str, Any], overwrite: bool):
        self.dir = out_dir / CHECKPOINT
        self.parts = self.dir / "parts"
        path = self.dir / "manifest.json"
        if overwrite and self.dir.exists():
            shutil.rmtree(self.dir)
        if path.is_file():
            old = json.loads(path.read_text(encoding="utf-8"))
            if old != manifest:
                changed = changed_keys(old, manifest)
                raise InvalidInputError(
                    f"The output folder {str(out_dir)!r} holds an unfinished run made with a different "
                    f"{', '.join(changed)}. Re-run the same command to resume it, pass --overwrite "
                    "(overwrite=True) to start again, or choose another --out folder."
                )
        self.parts.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")

    def done_rows(self) -> set[int]:
        """The ``row`` numbers some part already holds."""
        import pyarrow.parquet as pq

        done: set[int] = set()
        for part in self.parts.glob("part-*.parquet"):
            done.update(pq.read_table(part, columns=["row"]).column("row").to_pylist())
        return done

    def write(self, frame: Any) -> None:
        """Add one scored batch (a frame with a ``row`` column) as a part, whole or not at all."""
        first = int(frame["row"].min()) if len(frame) else 0
        with atomic_path(self.parts / f"part-{first:010d}-{uuid.uuid4().hex[:8]}.parquet") as tmp:
            frame.to_parquet(tmp, index=False)

    def read_all(self) -> Any:
        """Every part in one frame (parts in name order; a frame with only ``row`` when there is none)."""
        import pandas as pd

        parts = sorted(self.parts.glob("part-*.parquet"))
        frames = [pd.read_parquet(p) for p in parts]
        if not frames:
            return pd.DataFrame({"row": pd.Series(dtype=np.int64)})
        return pd.concat(frames, ignore_index=True)

    def remove(self) -> None:
        """Delete the checkpoint (once the outputs are written)."""
        shutil.rmtree(self.dir, ignore_errors=True)


def changed_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The manifest keys whose values differ (``["settings"]`` when none can be named)."""
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k)) or ["settings"]


def check_finished(out_dir: Path, manifest: dict[str, Any], overwrite: bool) -> None:
    """Refuse to replace the finished outputs of another run (other input or settings) unless
    ``overwrite``; the same command again may rewrite them."""
    marker = out_dir / FINISHED
    if overwrite or not marker.is_file():
        return
    try:
        old = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = {}
    if old != manifest:
        changed = changed_keys(old, manifest)
        raise InvalidInputError(
            f"The output folder {str(out_dir)!r} holds the finished results of a run with a different "
            f"{', '.join(changed)}. Pass --overwrite (overwrite=True) to replace them, or choose another --out folder."
        )


def mark_finished(out_dir: Path, manifest: dict[str, Any]) -> None:
    """Record that ``out_dir`` holds the complete outputs of ``manifest``'s run."""
    from affectkit._files import atomic_write_text

    atomic_write_text(out_dir / FINISHED, json.dumps(manifest, indent=2, sort_keys=True))


def tidy_failed(out_dir: Path, created: bool) -> None:
    """After a failed run: drop a checkpoint that holds no scored part yet, and ``out_dir`` itself
    when this run created it and nothing is left in it. Scored parts stay, so the run can resume."""
    ckpt = out_dir / CHECKPOINT
    if ckpt.is_dir() and not any((ckpt / "parts").glob("part-*.parquet")):
        shutil.rmtree(ckpt, ignore_errors=True)
    if created and out_dir.is_dir() and not any(out_dir.iterdir()):
        out_dir.rmdir()
