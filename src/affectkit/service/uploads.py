"""Streaming an uploaded file to disk, a chunk at a time (never the whole file in memory)."""

from __future__ import annotations

from pathlib import Path

from fastapi import UploadFile

from affectkit.service.errors import ApiError

__all__ = ["CHUNK", "HEAD", "save_upload"]

#: Bytes read from the upload at a time.
CHUNK = 1 << 20
#: Bytes of the file's start kept to tell its type.
HEAD = 4096


async def save_upload(file: UploadFile, target: Path, max_bytes: int | None = None) -> tuple[int, bytes]:
    """Write ``file`` to ``target``; return its size and its first bytes.

    Over ``max_bytes``, the partial file is removed and the upload answered with 413.
    """
    size, head = 0, b""
    with target.open("wb") as fh:
        while chunk := await file.read(CHUNK):
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                fh.close()
                target.unlink(missing_ok=True)
                raise ApiError(413, "payload_too_large", f"The upload is over the limit of {max_bytes} bytes.")
            head = head or chunk[:HEAD]
            fh.write(chunk)
    return size, head
