"""Probes of hostile recordings and hostile model directories."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from run import Context, Row


def _audio(ctx: Context, path: Path) -> tuple[int, float, str]:
    t0 = time.perf_counter()
    r = subprocess.run([ctx.python, "-m", "affectkit.cli.main", "audio", str(path), "--transcript", "hello there",
                        "--json"], capture_output=True, text=True, timeout=600)
    last = (r.stderr.strip().splitlines() or [""])[-1]
    return r.returncode, time.perf_counter() - t0, last[:90]


def probe_hostile_recordings(ctx: Context) -> list[Row]:
    import soundfile as sf

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        silent = Path(tmp) / "hour.wav"
        with sf.SoundFile(silent, "w", samplerate=16000, channels=1, subtype="PCM_16") as fh:
            block = np.zeros(16000 * 60, dtype=np.int16)
            for _ in range(60):
                fh.write(block)
        code, dt, msg = _audio(ctx, silent)
        rows.append(Row("a 1-hour silent wav", "refused from its header, at once", f"exit {code}, {dt:.1f} s: {msg}",
                        code != 0 and dt < 30 and ("max-duration" in msg or "max_duration" in msg)))
        tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(16000 * 3) / 16000).astype(np.float32)
        flac = Path(tmp) / "cut.flac"
        sf.write(flac, tone, 16000)
        data = flac.read_bytes()
        flac.write_bytes(data[: len(data) // 3])
        code, dt, msg = _audio(ctx, flac)
        rows.append(Row("a FLAC cut to a third", "a clear error (or a warning), not a silent answer",
                        f"exit {code}: {msg}", code != 0))
        wav = Path(tmp) / "claims4gb.wav"
        sf.write(wav, tone[:1000], 16000, subtype="PCM_16")
        raw = bytearray(wav.read_bytes())
        at = raw.find(b"data")
        raw[at + 4: at + 8] = struct.pack("<I", 4_000_000_000)
        wav.write_bytes(bytes(raw))
        code, dt, msg = _audio(ctx, wav)
        rows.append(Row("a wav whose header claims 4 GB", "a clear error (or a warning)", f"exit {code}: {msg}",
                        code != 0))
    return rows


def _load(path: Path) -> tuple[str, str]:
    import affectkit

    try:
        affectkit.load(str(path))
    except RecursionError as exc:
        return "RecursionError", str(exc)[:80]
    except Exception as exc:
        return type(exc).__name__, str(exc).splitlines()[0][:90]
    return "loaded", ""


def probe_hostile_model_directories(ctx: Context) -> list[Row]:
    from affectkit.analyzers.classic import ClassicAnalyzer
    from affectkit.analyzers.ensemble import EnsembleAnalyzer

    texts = ["What a lovely surprise", "This is broken again", "The shop is on Main Street",
             "I adore this", "Awful, just awful", "It opens at nine"] * 5
    labels = ["positive", "negative", "neutral"] * 10
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        classic = ClassicAnalyzer(features={"max_word_features": 500, "max_char_features": 500, "min_df": 1}).fit(
            texts, labels)
        classic.save(root / "victim")
        EnsembleAnalyzer([classic, "lexicon"]).save(root / "ens")
        config_path = root / "ens" / "config.json"
        pristine = config_path.read_text()

        def member(value: dict) -> tuple[str, str]:
            config = json.loads(pristine)
            config["params"]["members"][0] = value
            config_path.write_text(json.dumps(config))
            return _load(root / "ens")

        for label, value in (("'../victim'", {"path": "../victim"}), ("an absolute path", {"path": str(root / "victim")}),
                             ("'.' (the ensemble itself)", {"path": "."}), ("a path stored as a name",
                                                                           {"name": str(root / "victim")})):
            kind, msg = member(value)
            rows.append(Row(f"ensemble member {label}", "refused with a clear error", f"{kind}: {msg}",
                            kind not in ("loaded", "RecursionError")))
        config_path.write_text("[" * 100_000 + "]" * 100_000)
        kind, msg = _load(root / "ens")
        rows.append(Row("a config.json nested 100,000 deep", "a clear error, no RecursionError", f"{kind}: {msg}",
                        kind not in ("loaded", "RecursionError")))
        shutil.copytree(root / "victim", root / "badvocab")
        vocab = next((p for p in (root / "badvocab").rglob("vocab*.json")), None)
        if vocab is not None:
            words = json.loads(vocab.read_text())
            if isinstance(words, dict):  # {"word": [...], "char": [...]}: drop half of each list
                words = {k: v[: len(v) // 2] if isinstance(v, list) else v for k, v in words.items()}
            elif isinstance(words, list):
                words = words[: max(1, len(words) // 2)]
            vocab.write_text(json.dumps(words))
            kind, msg = _load(root / "badvocab")
            rows.append(Row("a vocabulary that does not match the weights", "refused at load", f"{kind}: {msg}",
                            kind not in ("loaded", "RecursionError")))
    return rows


PROBES = [probe_hostile_recordings, probe_hostile_model_directories]
