"""Reading audio: any of wav, flac, ogg and mp3, from a path or bytes, as 16 kHz mono float32.

Bad audio gives an :class:`~affectkit.exceptions.InvalidInputError` that says what was wrong
(empty file, no samples, not audio, unreadable format), never a crash. Long recordings can be
read in blocks (:func:`iter_audio`), so a two-hour file never has to sit in memory at once.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from affectkit.exceptions import InvalidInputError, require

log = logging.getLogger(__name__)

__all__ = ["Audio", "SAMPLE_RATE", "load_audio", "iter_audio", "AudioSource"]

SAMPLE_RATE = 16_000
AudioSource = str | Path | bytes | bytearray

_FEATURE = "Speech emotion"


@dataclass
class Audio:
    """Mono float32 samples in [-1, 1] at ``sample_rate``, with notes on how they were read."""

    samples: np.ndarray
    sample_rate: int = SAMPLE_RATE
    source: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return len(self.samples) / float(self.sample_rate)


def _name(source: AudioSource) -> str:
    return Path(source).name if isinstance(source, str | Path) else f"<{len(source)} bytes>"


def _check_source(source: AudioSource) -> None:
    if isinstance(source, bytes | bytearray):
        if len(source) == 0:
            raise InvalidInputError("The audio is empty (0 bytes). Give a wav, flac, ogg or mp3 file.")
        return
    if not isinstance(source, str | Path):
        raise InvalidInputError(
            f"The 'audio' parameter must be a path or the bytes of an audio file. Got {type(source).__name__}."
        )
    path = Path(source)
    if not path.is_file():
        raise InvalidInputError(f"The audio file {str(path)!r} does not exist or is not a file.")
    if path.stat().st_size == 0:
        raise InvalidInputError(f"The audio file {path.name!r} is empty (0 bytes).")


def _mono(data: np.ndarray) -> np.ndarray:
    data = np.asarray(data, dtype=np.float32)
    return data.mean(axis=1) if data.ndim == 2 else data


def _resample(y: np.ndarray, sr: int, target: int) -> np.ndarray:
    if sr == target or len(y) == 0:
        return y.astype(np.float32, copy=False)
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(sr, target)
    return resample_poly(y, target // g, sr // g).astype(np.float32)


def _decode_any(source: AudioSource, max_seconds: float | None = None) -> tuple[np.ndarray, int, bool]:
    """``(samples, rate, cut)``: libsndfile (wav, flac, ogg, mp3), else FFmpeg (PyAV) when installed.

    With ``max_seconds``, libsndfile reads only that much, so a long file's head costs only its head.
    """
    sf = require("soundfile", "audio", _FEATURE)
    handle = io.BytesIO(bytes(source)) if isinstance(source, bytes | bytearray) else str(source)
    try:
        with sf.SoundFile(handle) as f:
            sr = int(f.samplerate)
            frames = f.frames if max_seconds is None else min(f.frames, int(max_seconds * sr))
            cut = frames < f.frames
            data = f.read(frames, dtype="float32", always_2d=False)
        return _mono(data), sr, cut
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as first:
        error = str(first).split(": ")[-1] if ": " in str(first) else str(first)
    import importlib.util

    if all(importlib.util.find_spec(m) for m in ("av", "faster_whisper")):  # m4a, aac, ... via FFmpeg
        from faster_whisper.audio import decode_audio

        try:
            handle = io.BytesIO(bytes(source)) if isinstance(source, bytes | bytearray) else str(source)
            y = decode_audio(handle, sampling_rate=SAMPLE_RATE)
            if len(y):
                cut = max_seconds is not None and len(y) > max_seconds * SAMPLE_RATE
                y = y[: int(max_seconds * SAMPLE_RATE)] if cut else y
                return np.asarray(y, dtype=np.float32), SAMPLE_RATE, bool(cut)
        except Exception:  # noqa: BLE001 - every decoder failure means the same thing to the caller
            pass
    raise InvalidInputError(f"Cannot read {_name(source)} as audio ({error}). Expected a wav, flac, ogg or mp3 file.")


def load_audio(source: AudioSource, sample_rate: int = SAMPLE_RATE, max_seconds: float | None = None) -> Audio:
    """Read ``source`` (a path, or the bytes of a file) as mono float32 at ``sample_rate``."""
    _check_source(source)
    y, sr, cut = _decode_any(source, max_seconds)
    warnings: list[str] = []
    if len(y) == 0:
        raise InvalidInputError(f"{_name(source)} holds no audio samples (0 s).")
    if cut:
        warnings.append(f"only the first {max_seconds:g} s were read")
    if not np.isfinite(y).all():
        y = np.nan_to_num(y, nan=0.0, posinf=1.0, neginf=-1.0)
        warnings.append("non-finite samples were set to 0")
    if sr != sample_rate:
        warnings.append(f"resampled from {sr} Hz to {sample_rate} Hz")
    y = np.clip(_resample(y, sr, sample_rate), -1.0, 1.0)
    if float(np.abs(y).max()) < 1e-4:
        warnings.append("the audio is silent")
    return Audio(y, sample_rate, _name(source), warnings)


def iter_audio(source: str | Path, block_seconds: float = 600.0,
               sample_rate: int = SAMPLE_RATE) -> Iterator[np.ndarray]:
    """Blocks of ``block_seconds`` of mono float32 audio at ``sample_rate``, read as a stream.

    Used for long recordings. Falls back to one :func:`load_audio` for formats that cannot be
    streamed.
    """
    _check_source(source)
    sf = require("soundfile", "audio", _FEATURE)
    try:
        info = sf.info(str(source))
    except (sf.LibsndfileError, RuntimeError):
        yield load_audio(source, sample_rate).samples
        return
    if info.frames == 0:
        raise InvalidInputError(f"{_name(source)} holds no audio samples (0 s).")
    block = max(1, int(block_seconds * info.samplerate))
    for data in sf.blocks(str(source), blocksize=block, dtype="float32", always_2d=False):
        yield np.clip(_resample(_mono(data), int(info.samplerate), sample_rate), -1.0, 1.0)
