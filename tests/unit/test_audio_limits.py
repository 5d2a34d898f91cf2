"""Recordings are read within a duration limit, and files holding less audio than their header says are caught
(issue 19, item 8). Every file is made here with numpy and soundfile."""

from __future__ import annotations

import struct
import warnings

import numpy as np
import pytest

sf = pytest.importorskip("soundfile")

from affectkit.audio.io import TruncatedAudioWarning, iter_audio, load_audio  # noqa: E402
from affectkit.exceptions import InvalidInputError, LimitExceededError  # noqa: E402

SR = 16_000


def _tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def _model_ready() -> bool:
    from affectkit.registry import shipped_model_path

    return (shipped_model_path("speech-emotion-v1") / "model.onnx").is_file()


needs_model = pytest.mark.skipif(not _model_ready(), reason="the speech model is not built")


@pytest.fixture
def silent(tmp_path):
    path = tmp_path / "silent.wav"
    sf.write(path, np.zeros(20 * SR, dtype=np.float32), SR, subtype="PCM_16")  # 20 s of silence
    return path


def _claiming(tmp_path, data_size: int, name: str = "claims.wav"):
    """A wav of 0.5 s whose data chunk says it holds ``data_size`` bytes."""
    path = tmp_path / name
    sf.write(path, _tone(0.5), SR, subtype="PCM_16")
    raw = bytearray(path.read_bytes())
    struct.pack_into("<I", raw, raw.index(b"data") + 4, data_size)
    struct.pack_into("<I", raw, 4, min(0xFFFFFFFF, data_size + 36))
    path.write_bytes(bytes(raw))
    return path


def _cut(tmp_path, fmt: str, subtype: str, ext: str):
    whole = tmp_path / f"whole.{ext}"
    sf.write(whole, _tone(6.0), SR, format=fmt, subtype=subtype)
    data = whole.read_bytes()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: len(data) // 3])
    return cut


def test_a_long_recording_is_refused_from_its_header_before_decoding(silent, monkeypatch):
    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded although the header says it is too long")

    monkeypatch.setattr(sf.SoundFile, "read", no_decoding)
    monkeypatch.setattr(sf, "blocks", no_decoding)
    for read in (lambda: load_audio(silent, max_duration=10), lambda: list(iter_audio(silent, max_duration=10))):
        with pytest.raises(LimitExceededError, match=r"silent\.wav is 20\.0 s long.*limit of 10 s.*'max_duration'"):
            read()


def test_the_default_limit_is_ten_minutes(tmp_path, silent):
    from affectkit.audio import io

    assert io.MAX_DURATION == 600.0
    assert abs(load_audio(silent).duration - 20.0) < 1e-3  # 20 s is fine by default
    assert abs(load_audio(silent, max_duration=None).duration - 20.0) < 1e-3


def test_the_analyzers_refuse_a_long_recording(silent, monkeypatch):
    from affectkit.audio import analyzer as A

    for model in (A.SpeechEmotionAnalyzer(max_duration=10), A.SpeechTextEmotionAnalyzer(max_duration=10, asr=False)):
        with pytest.raises(LimitExceededError, match="max_duration"):
            model.analyze(silent)
    monkeypatch.setattr(A, "STREAM_SECONDS", 5.0)  # the streamed path checks it too, before the first block
    with pytest.raises(LimitExceededError, match="max_duration"):
        A.SpeechEmotionAnalyzer(max_duration=10).analyze(silent)
    with pytest.raises(LimitExceededError, match="max_duration"):  # audio already read is held to it as well
        A.SpeechEmotionAnalyzer(max_duration=10).analyze(load_audio(silent))
    with pytest.raises(InvalidInputError, match="'max_duration' parameter of SpeechEmotionAnalyzer"):
        A.SpeechEmotionAnalyzer(max_duration=-1).analyze(silent)
    with pytest.raises(InvalidInputError, match="'on_truncated' parameter of load_audio"):
        load_audio(silent, on_truncated="ignore")


def test_a_wav_whose_header_claims_more_than_it_holds(tmp_path):
    path = _claiming(tmp_path, 4_000_000_000)  # "4 GB" of audio in a file of 16 kB
    with pytest.raises(InvalidInputError, match=r"truncated.*declares 125000\.00 s.*holds 0\.50 s.*on_truncated"):
        load_audio(path)
    with pytest.warns(TruncatedAudioWarning, match="claims.wav is truncated"):
        audio = load_audio(path, on_truncated="warn")
    assert abs(audio.duration - 0.5) < 1e-3 and any("truncated" in w for w in audio.warnings)
    with pytest.warns(TruncatedAudioWarning):
        blocks = list(iter_audio(path, on_truncated="warn", warnings=(notes := [])))
    assert sum(len(b) for b in blocks) == len(audio.samples) and "truncated" in notes[0]


def test_a_wav_with_unset_sizes_is_read_with_a_note(tmp_path):
    path = _claiming(tmp_path, 0xFFFFFFFF, "streamed.wav")  # as a streaming writer leaves it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        audio = load_audio(path)
    assert abs(audio.duration - 0.5) < 1e-3 and any("does not give the length" in w for w in audio.warnings)


@pytest.mark.parametrize(("fmt", "subtype", "ext"), [("FLAC", "PCM_16", "flac"), ("MP3", "MPEG_LAYER_III", "mp3"),
                                                     ("WAV", "PCM_16", "wav")])
def test_a_file_cut_to_a_third_is_caught(tmp_path, fmt, subtype, ext):
    path = _cut(tmp_path, fmt, subtype, ext)
    with pytest.raises(InvalidInputError, match=r"cut\.\w+ is truncated or damaged: its header .*6\.00 s"):
        load_audio(path)
    with pytest.warns(TruncatedAudioWarning):
        audio = load_audio(path, on_truncated="warn")
    assert 0.3 < audio.duration < 3.0 and any("truncated" in w for w in audio.warnings)
    whole = load_audio(tmp_path / f"whole.{ext}")  # the uncut file is read whole, without a word
    assert abs(whole.duration - 6.0) < 0.01 and not whole.warnings


@needs_model
def test_warn_puts_the_truncation_in_the_result_and_the_parameters_are_saved(tmp_path):
    import affectkit
    from affectkit.audio.analyzer import SpeechEmotionAnalyzer

    path = _cut(tmp_path, "FLAC", "PCM_16", "flac")
    with pytest.raises(InvalidInputError, match="truncated"):
        SpeechEmotionAnalyzer().analyze(path)
    model = SpeechEmotionAnalyzer(max_duration=30.0, on_truncated="warn")
    with pytest.warns(TruncatedAudioWarning):
        result = model.analyze(path)
    assert any("truncated" in w for w in result.warnings) and result.duration_s < 3.0
    loaded = affectkit.load(model.save(tmp_path / "model"))
    assert (loaded.max_duration, loaded.on_truncated) == (30.0, "warn")


@needs_model
def test_cli_audio_flags(tmp_path, silent):
    from typer.testing import CliRunner

    from affectkit.cli.main import app

    runner = CliRunner()
    run = runner.invoke(app, ["audio", str(silent), "--max-duration", "10", "--no-asr"])
    assert run.exit_code == 2 and "over the limit of 10 s" in " ".join(run.output.split())
    cut = _cut(tmp_path, "WAV", "PCM_16", "wav")
    run = runner.invoke(app, ["audio", str(cut), "--no-asr", "--transcript", "fine"])
    assert run.exit_code == 2 and "--allow-truncated" in run.output
    with pytest.warns(TruncatedAudioWarning):
        run = runner.invoke(app, ["audio", str(cut), "--no-asr", "--transcript", "fine", "--allow-truncated", "--json"])
    assert run.exit_code == 0, run.output
    run = runner.invoke(app, ["audio", str(silent), "--max-duration", "soon"])
    assert run.exit_code == 2 and "--max-duration must be a positive number" in run.output


@needs_model
def test_the_service_answers_413_and_422(tmp_path):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from affectkit.service.app import ServiceSettings, create_app

    long = tmp_path / "long.wav"
    sf.write(long, np.zeros(601 * 8_000, dtype=np.int16), 8_000, subtype="PCM_16")  # 601 s at 8 kHz: 9.6 MB
    claims = _claiming(tmp_path, 4_000_000_000)
    cut = _cut(tmp_path, "FLAC", "PCM_16", "flac")
    settings = ServiceSettings(sentiment="lexicon", emotion=None, aspects=False, audio="audio", api_key="",
                               jobs_dir=tmp_path / "jobs")
    with TestClient(create_app(settings)) as client:
        def post(path):
            return client.post("/v1/audio", files={"file": (f"my {path.name}", path.read_bytes())},
                               data={"transcript": "fine"})

        r = post(long)
        assert r.status_code == 413, r.text
        assert "601.0 s long" in r.json()["error"]["message"] and "600 s" in r.json()["error"]["message"]
        for path in (claims, cut):
            r = post(path)
            assert r.status_code == 422, r.text
            assert "truncated" in r.json()["error"]["message"]
