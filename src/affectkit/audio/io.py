"""Reading audio: any of wav, flac, ogg and mp3, from a path or bytes, as 16 kHz mono float32.

Bad audio gives an :class:`~affectkit.exceptions.InvalidInputError` that says what was wrong
(empty file, no samples, not audio, unreadable format), never a crash. Long recordings can be
read in blocks (:func:`iter_audio`), so a two-hour file never has to sit in memory at once.

Two checks guard against files that are not what they say:

- ``max_duration`` (default :data:`MAX_DURATION`, ten minutes; ``None``: no limit): a longer
  recording gives a :class:`~affectkit.exceptions.LimitExceededError`, from the header's length
  before anything is decoded, and as decoding goes where the header does not say.
- truncation: a file holding less audio than its header declares (a FLAC or MP3 cut short, a wav
  whose data chunk claims more bytes than there are) gives an ``InvalidInputError`` with
  ``on_truncated="error"`` (the default); with ``"warn"`` the part that is there is read, with a
  warning in ``Audio.warnings`` (and so in the analyzers' results) and a
  :class:`TruncatedAudioWarning`. A wav whose size fields are unset (``0xFFFFFFFF``, as streaming
  writers leave them) is read to its end with a note. A format whose header gives no length (Ogg
  read by FFmpeg) can only be checked for decoding errors.
"""

from __future__ import annotations

import io
import logging
import struct
import warnings as warnings_module
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from affectkit.exceptions import InvalidInputError, LimitExceededError, require
from affectkit.params import Interval, Options, validate_params

log = logging.getLogger(__name__)

__all__ = ["Audio", "SAMPLE_RATE", "MAX_DURATION", "TruncatedAudioWarning", "load_audio", "iter_audio",
           "AudioSource", "READ_CONSTRAINTS", "check_read_params"]

SAMPLE_RATE = 16_000
AudioSource = str | Path | bytes | bytearray
#: Seconds of a recording read at most, unless ``max_duration`` says otherwise (ten minutes).
MAX_DURATION = 600.0
#: The reading parameters' constraints (shared by the speech analyzers).
READ_CONSTRAINTS = {"max_duration": [Interval(float, 0, None, closed="neither"), None],
                    "on_truncated": [Options(("error", "warn"))]}
#: Frames decoded at a time (a damaged stream loses at most one block before the damage).
_BLOCK = 16_384
#: Bytes of a wav file's start searched for its header's chunks.
_HEAD = 1 << 16
#: wav size fields a streaming writer leaves unset: the header then says nothing about the length.
_UNSET_SIZES = (0xFFFFFFFF, 0x7FFFFFFF)


class TruncatedAudioWarning(UserWarning):
    """A recording holds less audio than its header declares and only the part there was read."""

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


def check_read_params(owner: str, max_duration: float | None, on_truncated: str) -> None:
    """Check the reading limits of ``owner`` (``max_duration`` seconds or None; ``on_truncated``)."""
    validate_params(owner, {"max_duration": max_duration, "on_truncated": on_truncated}, READ_CONSTRAINTS)


def _check_duration(name: str, seconds: float, max_duration: float | None, said: str = "") -> None:
    if max_duration is not None and seconds > max_duration:
        raise LimitExceededError(
            f"{name} is {seconds:.1f} s long{said}, over the limit of {max_duration:g} s (the 'max_duration' "
            "parameter). Pass a larger max_duration, or None for no limit (CLI: --max-duration), or cut the "
            "recording."
        )


def _wav_claim(source: AudioSource) -> tuple[int, int] | None:
    """``(data bytes the header declares, bytes per frame)`` of a RIFF/WAVE file, None when not found."""
    if isinstance(source, bytes | bytearray):
        head = bytes(source[:_HEAD])
    else:
        with open(source, "rb") as fh:
            head = fh.read(_HEAD)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos, align = 12, None
    while pos + 8 <= len(head):
        cid, size = head[pos : pos + 4], struct.unpack_from("<I", head, pos + 4)[0]
        if cid == b"fmt " and pos + 22 <= len(head):
            align = struct.unpack_from("<H", head, pos + 20)[0]
        elif cid == b"data":
            return (size, align) if align else None
        pos += 8 + size + (size & 1)
    return None


def _wav_problem(source: AudioSource, frames: int, sr: int) -> tuple[str | None, str | None]:
    """``(problem, note)``: whether a WAV's header declares more audio than the file holds (libsndfile
    reads what is there and says nothing)."""
    claim = _wav_claim(source)
    if claim is None:
        return None, None
    size, align = claim
    if size in _UNSET_SIZES:
        return None, (f"the wav header does not give the length (its size fields are unset, as a streaming "
                      f"writer leaves them); read the {frames / sr:.2f} s the file holds")
    declared = size // align
    if declared > frames + _slack(sr):
        return (f"its header declares {declared / sr:.2f} s of audio ({size} bytes) but the file holds "
                f"{frames / sr:.2f} s"), None
    return None, None


def _slack(sr: int) -> int:
    return max(1, sr // 100)  # 10 ms


def _truncated(name: str, problem: str, on_truncated: str, warnings: list[str], stacklevel: int = 3) -> None:
    """A recording shorter than its header says: an error, or (``on_truncated="warn"``) a warning."""
    message = f"{name} is truncated or damaged: {problem}"
    if on_truncated == "error":
        raise InvalidInputError(f"{message}. Pass on_truncated='warn' (CLI: --allow-truncated) to analyse the part "
                                "that is there.")
    log.warning("%s; analysing the part that is there", message)
    warnings_module.warn(f"{message}; analysing the part that is there", TruncatedAudioWarning, stacklevel=stacklevel)
    warnings.append(f"the file is truncated or damaged ({problem}): only the part that is there was analysed")


@dataclass
class _Decoded:
    samples: np.ndarray  # mono float32
    rate: int
    cut: bool  # only the head was read (max_seconds)
    problem: str | None = None  # why less audio was decoded than the header declares
    notes: list[str] = field(default_factory=list)


def _decode_any(source: AudioSource, max_seconds: float | None = None,
                max_duration: float | None = None) -> _Decoded:
    """libsndfile (wav, flac, ogg, mp3), else FFmpeg (PyAV) when installed; a block at a time.

    With ``max_seconds``, only that much is read, so a long file's head costs only its head. Over
    ``max_duration`` (from the header before decoding, and as decoding goes), a
    :class:`~affectkit.exceptions.LimitExceededError`.
    """
    sf = require("soundfile", "audio", _FEATURE)
    name = _name(source)
    handle = io.BytesIO(bytes(source)) if isinstance(source, bytes | bytearray) else str(source)
    expected: tuple[int, int] | None = None  # (frames, rate) the header gives
    try:
        f = sf.SoundFile(handle)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as first:
        error = str(first).split(": ")[-1] if ": " in str(first) else str(first)
    else:
        with f:
            sr, frames = int(f.samplerate), int(f.frames)
            _check_duration(name, frames / sr, max_duration, " (as its header says)")
            problem, note = _wav_problem(source, frames, sr) if f.format == "WAV" else (None, None)
            want = frames if max_seconds is None else min(frames, int(max_seconds * sr))
            blocks, n, failed = [], 0, None
            while n < want:
                try:
                    data = f.read(min(_BLOCK, want - n), dtype="float32", always_2d=True)
                except (sf.LibsndfileError, RuntimeError) as exc:  # a damaged or cut stream
                    failed = exc
                    break
                if not len(data):
                    break
                blocks.append(_mono(data))
                n += len(data)
        if n or failed is None:
            if problem is None and n < want - _slack(sr):
                problem = f"its header gives {want / sr:.2f} s of audio but decoding stopped at {n / sr:.2f} s"
                problem += f" ({_reason(failed)})" if failed is not None else ""
            y = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
            return _Decoded(y, sr, want < frames, problem, [note] if note else [])
        error, expected = _reason(failed), (frames, sr)
    import importlib.util

    if importlib.util.find_spec("av") is not None:  # m4a, aac, ... via FFmpeg
        decoded = _decode_av(source, max_seconds, max_duration, expected)
        if decoded is not None:
            return decoded
    raise InvalidInputError(f"Cannot read {name} as audio ({error}). Expected a wav, flac, ogg or mp3 file.")


def _reason(exc: BaseException | None) -> str:
    text = str(exc)
    return text.split(": ")[-1] if ": " in text else text


def _decode_av(source: AudioSource, max_seconds: float | None, max_duration: float | None,
               expected: tuple[int, int] | None) -> _Decoded | None:
    """FFmpeg's decoders (PyAV), resampled to 16 kHz mono as frames come; None when it cannot read the file."""
    import av

    name = _name(source)
    handle = io.BytesIO(bytes(source)) if isinstance(source, bytes | bytearray) else str(source)
    blocks: list[np.ndarray] = []
    n, limit, failed, early = 0, None if max_seconds is None else int(max_seconds * SAMPLE_RATE), None, False
    try:
        container = av.open(handle, mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, ValueError):
        return None
    with container:
        if not container.streams.audio:
            return None
        if container.duration:
            _check_duration(name, container.duration / 1e6, max_duration, " (as its header says)")
        resampler = av.audio.resampler.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        try:
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    blocks.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
                    n += len(blocks[-1])
                _check_duration(name, n / SAMPLE_RATE, max_duration)
                if limit is not None and n >= limit:
                    early = True
                    break
            else:
                for out in resampler.resample(None):
                    blocks.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
                    n += len(blocks[-1])
        except av.error.FFmpegError as exc:  # a damaged or cut stream: what came before it is kept
            failed = exc
    if n == 0:
        return None
    y = np.concatenate(blocks)[:limit]
    seconds = len(y) / SAMPLE_RATE
    problem = f"decoding stopped at {seconds:.2f} s ({failed})" if failed is not None else None
    if expected is not None:  # libsndfile read the header but not the audio
        want = expected[0] / expected[1] if max_seconds is None else min(expected[0] / expected[1], max_seconds)
        if seconds < want - 0.01:
            problem = f"its header gives {want:.2f} s of audio but decoding stopped at {seconds:.2f} s"
    return _Decoded(y, SAMPLE_RATE, early, problem)


def load_audio(source: AudioSource, sample_rate: int = SAMPLE_RATE, max_seconds: float | None = None, *,
               max_duration: float | None = MAX_DURATION, on_truncated: str = "error") -> Audio:
    """Read ``source`` (a path, or the bytes of a file) as mono float32 at ``sample_rate``.

    ``max_seconds`` reads only the recording's head. A recording longer than ``max_duration``
    seconds (``None``: no limit) gives a :class:`~affectkit.exceptions.LimitExceededError`, from the
    header before anything is decoded where the format says its length. A file that holds less audio
    than its header declares (cut short, or a header that lies) gives an
    :class:`~affectkit.exceptions.InvalidInputError` with ``on_truncated="error"`` (the default);
    with ``"warn"``, the part that is there is read, with a warning in ``Audio.warnings`` and a
    :class:`TruncatedAudioWarning`.
    """
    check_read_params("load_audio", max_duration, on_truncated)
    _check_source(source)
    decoded = _decode_any(source, max_seconds, max_duration)
    y, sr = decoded.samples, decoded.rate
    warnings: list[str] = list(decoded.notes)
    if len(y) == 0:
        extra = f" ({decoded.problem})" if decoded.problem else ""
        raise InvalidInputError(f"{_name(source)} holds no audio samples (0 s){extra}.")
    if decoded.problem:
        _truncated(_name(source), decoded.problem, on_truncated, warnings)
    if decoded.cut:
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


def iter_audio(source: str | Path, block_seconds: float = 600.0, sample_rate: int = SAMPLE_RATE, *,
               max_duration: float | None = MAX_DURATION, on_truncated: str = "error",
               warnings: list[str] | None = None) -> Iterator[np.ndarray]:
    """Blocks of ``block_seconds`` of mono float32 audio at ``sample_rate``, read as a stream.

    Used for long recordings. Falls back to one :func:`load_audio` for formats that cannot be
    streamed. ``max_duration`` and ``on_truncated`` are :func:`load_audio`'s; notes on the reading
    (a truncated file read with ``on_truncated="warn"``) are appended to ``warnings``.
    """
    check_read_params("iter_audio", max_duration, on_truncated)
    _check_source(source)
    sf = require("soundfile", "audio", _FEATURE)
    notes = warnings if warnings is not None else []
    name = _name(source)
    try:
        info = sf.info(str(source))
    except (sf.LibsndfileError, RuntimeError):
        audio = load_audio(source, sample_rate, max_duration=max_duration, on_truncated=on_truncated)
        notes += audio.warnings
        yield audio.samples
        return
    sr, frames = int(info.samplerate), int(info.frames)
    if frames == 0:
        raise InvalidInputError(f"{name} holds no audio samples (0 s).")
    _check_duration(name, frames / sr, max_duration, " (as its header says)")
    problem, note = _wav_problem(source, frames, sr) if info.format == "WAV" else (None, None)
    if problem is not None:
        _truncated(name, problem, on_truncated, notes)
    notes += [note] if note else []
    block = max(1, int(block_seconds * sr))
    n, failed = 0, None
    blocks = sf.blocks(str(source), blocksize=block, dtype="float32", always_2d=False)
    while True:
        try:
            data = next(blocks)
        except StopIteration:
            break
        except (sf.LibsndfileError, RuntimeError) as exc:  # a damaged or cut stream
            failed = exc
            break
        n += len(data)
        yield np.clip(_resample(_mono(data), sr, sample_rate), -1.0, 1.0)
    if problem is None and n < frames - _slack(sr):
        problem = f"its header gives {frames / sr:.2f} s of audio but decoding stopped at {n / sr:.2f} s"
        _truncated(name, problem + (f" ({_reason(failed)})" if failed is not None else ""), on_truncated, notes)
