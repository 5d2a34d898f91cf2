"""The CLI, as a user runs it (Typer's CliRunner: same process, real commands)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import affectkit
from affectkit.cli.main import app
from conftest import EMOTION_TEXTS, EMOTION_Y, SENTIMENT_TEXTS, SENTIMENT_Y

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "reviews.csv")


def run(*args, input=None):
    return runner.invoke(app, list(args), input=input)


def test_analyze_text_human():
    r = run("analyze", "I love this, it is wonderful!", "--model", "lexicon")
    assert r.exit_code == 0, r.output
    assert "positive" in r.output


def test_analyze_json_single():
    r = run("analyze", "I love this", "--json", "-m", "lexicon")
    assert r.exit_code == 0
    obj = json.loads(r.stdout)
    assert obj["label"] == "positive" and set(obj["scores"]) == {"negative", "neutral", "positive"}


def test_analyze_stdin_json_lines():
    r = run("analyze", "-", "--json", "-m", "lexicon", input="great\nterrible\n\n")
    assert r.exit_code == 0
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["label"] for row in rows] == ["positive", "negative", "neutral"]
    assert rows[2]["empty"] is True


def test_analyze_stdin_streams_batches_in_order():
    """'-' reads stdin a line at a time and answers batch by batch: the texts and their order are
    those of the whole input split into lines, whatever the line ends and bytes."""
    data = b"great\r\nterrible\n\n\x0cform feed\nbad \xff bytes\nlone\rreturn\n" + b"so-so\n" * 7 + b"no newline"
    r = runner.invoke(app, ["analyze", "-", "--json", "-m", "lexicon", "--batch-size", "3"], input=data)
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    texts = data.decode("utf-8", errors="replace").splitlines()
    assert [row["text"] for row in rows] == texts and len(texts) == 16
    expected = [res.to_dict() for res in affectkit.load("lexicon").analyze(texts)]
    assert rows == json.loads(json.dumps(expected))
    table = run("analyze", "-", "-m", "lexicon", "--batch-size", "3", input="good\nbad\nfine\nawful\n")
    assert table.exit_code == 0 and [n for n in "1234" if f"│ {n} │" in table.stdout] == list("1234")


def test_analyze_stdin_answers_before_the_input_ends():
    """The first batch's results come out while stdin is still open (a pipe that is not closed yet)."""
    import queue
    import subprocess
    import sys
    import threading

    command = [sys.executable, "-c", "from affectkit.cli.main import main; main()", "analyze", "-", "--json",
               "-m", "lexicon", "--batch-size", "2"]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          cwd=ROOT) as proc:
        lines: queue.Queue = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True)
        reader.start()
        try:
            proc.stdin.write(b"I love it\nawful service\n")
            proc.stdin.flush()
            first = [json.loads(lines.get(timeout=120)) for _ in range(2)]  # stdin is still open here
            assert [row["text"] for row in first] == ["I love it", "awful service"]
            assert [row["label"] for row in first] == ["positive", "negative"]
            proc.stdin.write(b"the bus is blue\n")
            proc.stdin.close()
            assert proc.wait(timeout=120) == 0, proc.stderr.read()
            reader.join(timeout=10)
            assert json.loads(lines.get(timeout=10))["text"] == "the bus is blue"
        finally:
            proc.kill()


def test_analyze_file_with_invalid_utf8(tmp_path):
    f = tmp_path / "in.csv"
    f.write_bytes(b"id,text\n1,good \xff\xfe stuff\n2,\n3,awful\n")
    r = run("analyze", "--input", str(f), "--json", "-m", "lexicon")
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == 3
    assert "\ufffd" in rows[0]["text"]
    assert rows[1]["empty"]


def test_analyze_example_file_with_defaults():
    r = run("analyze", "--input", EXAMPLE, "--json")
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == 123 and rows[10]["empty"]


def test_emotion_levels_in_output():
    r = run("analyze", "Thank you so much, I'm thrilled!", "-m", "emotion", "--json")
    assert r.exit_code == 0
    obj = json.loads(r.stdout)
    assert set(obj["levels"]) == {"ekman", "polarity"}
    assert obj["multi_label"] is True


@pytest.mark.parametrize(
    "args,code,message",
    [
        (["analyze", "x", "-m", "nope"], 2, "Unknown model 'nope'"),
        (["analyze"], 2, "Give a TEXT"),
        (["analyze", "--input", "missing.csv"], 2, "does not exist"),
        (["analyze", "--input", EXAMPLE, "--text-col", "body"], 2, "Columns found"),
        (["evaluate", "--data", "no-such-file.csv"], 2, "does not exist"),
    ],
)
def test_clear_errors_and_exit_codes(args, code, message):
    r = run(*args)
    assert r.exit_code == code
    assert message in r.stderr
    assert "Traceback" not in r.output


def _write_csv(path, header, rows):
    import csv

    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def test_train_single_label_then_load(tmp_path):
    data = tmp_path / "train.csv"
    _write_csv(data, ["text", "label"], list(zip(SENTIMENT_TEXTS * 2, SENTIMENT_Y * 2, strict=True)))
    r = run("train", str(data), "--out", str(tmp_path / "m"), "--arch", "svm")
    assert r.exit_code == 0, r.output
    import affectkit

    m = affectkit.load(tmp_path / "m")
    assert m.labels_ == ("negative", "neutral", "positive")
    assert (tmp_path / "m" / "README.md").is_file()
    r = run("analyze", "what a great day", "-m", str(tmp_path / "m"), "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["label"] in m.labels_


def test_train_textcnn(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    data = tmp_path / "train.csv"
    _write_csv(data, ["text", "label"], list(zip(SENTIMENT_TEXTS, SENTIMENT_Y, strict=True)))
    r = run("train", str(data), "--out", str(tmp_path / "m"), "--arch", "textcnn", "--epochs", "2")
    assert r.exit_code == 0, r.output
    import affectkit

    m = affectkit.load(tmp_path / "m")
    assert m.kind == "textcnn" and m.labels_ == ("negative", "neutral", "positive")
    assert "TextCNN" in (tmp_path / "m" / "README.md").read_text(encoding="utf-8")
    r = run("analyze", "ok", "-m", str(tmp_path / "m"), "--json")  # one word: shorter than the widest kernel
    assert r.exit_code == 0 and json.loads(r.stdout)["label"] in m.labels_


def test_train_comma_separated_multilabel(tmp_path):
    data = tmp_path / "train.tsv"
    rows = ["text\tlabels"] + [f"{t}\t{','.join(y)}" for t, y in zip(EMOTION_TEXTS * 2, EMOTION_Y * 2, strict=True)]
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    r = run("train", str(data), "--out", str(tmp_path / "m"), "--labels-col", "labels", "--task", "emotion")
    assert r.exit_code == 0, r.output
    import affectkit

    m = affectkit.load(tmp_path / "m")
    assert m.tags.multi_label and "gratitude" in m.labels_


def test_train_indicator_columns_jsonl(tmp_path):
    data = tmp_path / "train.jsonl"
    lines = [
        json.dumps({"text": t, "thanks": int("gratitude" in y), "angry": int("anger" in y)})
        for t, y in zip(EMOTION_TEXTS * 2, EMOTION_Y * 2, strict=True)
    ]
    data.write_text("\n".join(lines), encoding="utf-8")
    r = run("train", str(data), "--out", str(tmp_path / "m"), "--label-cols", "thanks,angry", "--arch", "nb")
    assert r.exit_code == 0, r.output
    import affectkit

    m = affectkit.load(tmp_path / "m")
    assert m.labels_ == ("thanks", "angry")


def test_train_bad_label_column(tmp_path):
    data = tmp_path / "train.csv"
    _write_csv(data, ["text", "y"], [("a", "x"), ("b", "y")])
    r = run("train", str(data), "--out", str(tmp_path / "m"))
    assert r.exit_code == 2
    assert "no 'label' or 'labels' column" in r.stderr


def test_evaluate_file_writes_table_and_png(tmp_path):
    data = tmp_path / "eval.csv"
    _write_csv(data, ["text", "label"], list(zip(SENTIMENT_TEXTS, SENTIMENT_Y, strict=True)))
    png = tmp_path / "cm.png"
    r = run("evaluate", "--data", str(data), "--models", "lexicon,classic", "--plot", str(png))
    assert r.exit_code == 0, r.output
    for col in ("macro-recall", "macro-f1", "accuracy", "texts/s", "peak MB"):
        assert col in r.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_json_multilabel(tmp_path):
    data = tmp_path / "eval.jsonl"
    data.write_text(
        "\n".join(json.dumps({"text": t, "labels": list(y)}) for t, y in zip(EMOTION_TEXTS, EMOTION_Y, strict=True)),
        encoding="utf-8",
    )
    r = run("evaluate", "--data", str(data), "--models", "emotion", "--json", "--plot", str(tmp_path / "e.png"))
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)["results"][0]
    assert {"macro_f1", "micro_f1", "jaccard", "texts_per_s", "peak_rss_mb"} <= set(res)
    assert (tmp_path / "e.png").is_file()


def test_evaluate_wrong_task_is_clear(tmp_path):
    data = tmp_path / "eval.csv"
    _write_csv(data, ["text", "label"], list(zip(SENTIMENT_TEXTS, SENTIMENT_Y, strict=True)))
    r = run("evaluate", "--data", str(data), "--models", "emotion")
    assert r.exit_code == 2
    assert "does not know" in r.stderr


def test_models_lists_names():
    r = run("models")
    assert r.exit_code == 0
    for name in ("sentiment-classic-v1", "emotion-classic-v1", "sentiment-lexicon-v1"):
        assert name in r.stdout


def test_models_json():
    r = run("models", "--json")
    assert r.exit_code == 0
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert "classic" in rows["sentiment-classic-v1"]["aliases"]
    assert "sentiment" in rows["sentiment-transformer-v1"]["aliases"]
    assert "emotion" in rows["emotion-transformer-v1"]["aliases"]


# -- error reporting: one decorator, bugs keep their traceback -----------------------------------
@pytest.mark.parametrize("command", ["analyze", "aspects", "reviews", "train", "evaluate", "calibrate", "export",
                                     "audio"])
def test_commands_report_errors_and_keep_their_options(command):
    import inspect

    import typer

    callback = next(c.callback for c in app.registered_commands if (c.name or c.callback.__name__) == command)
    wrapped = callback.__wrapped__  # @_reports_errors, under @app.command()
    click_command = typer.main.get_command(app).commands[command]
    assert [p.name for p in click_command.params] == list(inspect.signature(wrapped).parameters)
    assert run(command, "--help").exit_code == 0


def test_a_key_error_is_a_bug_not_bad_input(monkeypatch):
    import affectkit.registry

    def broken(*args, **kwargs):
        raise KeyError("internal")

    monkeypatch.setattr(affectkit.registry, "load", broken)
    r = run("analyze", "x", "-m", "lexicon")
    assert r.exit_code == 1 and isinstance(r.exception, KeyError)  # a traceback, not "Error: 'internal'" (exit 2)
    assert "Error:" not in r.stderr


def test_library_errors_keep_exit_codes(monkeypatch):
    import affectkit.registry
    from affectkit.exceptions import ModelFormatError

    def broken(*args, **kwargs):
        raise ModelFormatError("the model directory is damaged")

    monkeypatch.setattr(affectkit.registry, "load", broken)
    r = run("analyze", "x", "-m", "lexicon")
    assert r.exit_code == 1 and "Error: the model directory is damaged" in r.stderr and "Traceback" not in r.output


def test_serve_without_the_extra_is_a_clear_error(monkeypatch):
    import affectkit.exceptions

    def missing(module, extra, feature):
        raise affectkit.exceptions.MissingDependencyError(f"{feature} needs {module}: pip install 'affectkit[{extra}]'")

    monkeypatch.setattr(affectkit.exceptions, "require", missing)
    r = run("serve")
    assert r.exit_code == 1 and "pip install 'affectkit[serve]'" in r.stderr and "Traceback" not in r.output


def test_calibrate_on_labels_of_another_task_is_bad_input(tmp_path):
    data = tmp_path / "val.csv"
    _write_csv(data, ["text", "label"], list(zip(SENTIMENT_TEXTS, SENTIMENT_Y, strict=True)))
    r = run("calibrate", "emotion", "--data", str(data))
    assert r.exit_code == 2 and "positive" in r.stderr


def test_serve_options_not_given_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the service makes its jobs folder in the working directory
    pytest.importorskip("fastapi")
    uvicorn = pytest.importorskip("uvicorn")
    apps = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: apps.append(self.config.app))
    monkeypatch.setenv("AFFECTKIT_MAX_TEXTS", "7")
    monkeypatch.setenv("AFFECTKIT_MAX_CHARS", "900")
    r = run("serve", "--audio", "none", "--sentiment", "lexicon", "--emotion", "none", "--max-chars", "1000")
    assert r.exit_code == 0, r.output
    settings = apps[0].state.settings
    assert settings.max_texts == 7  # not on the command line: the environment's
    assert settings.max_chars == 1000  # on the command line: wins over the environment
    assert settings.sentiment == "lexicon" and settings.emotion is None


# -- the first hour: help, errors, leftovers (issue 20) -----------------------------------------------
COMMANDS = ("analyze", "aspects", "reviews", "models", "train", "evaluate", "calibrate", "audio", "serve")


def test_help_keeps_extra_names_shows_examples_and_no_type_of_flags():
    assert "affectkit[serve]" in run("serve", "--help").stdout
    assert "[audio]" in run("serve", "--help").stdout
    for command in COMMANDS:
        page = run(command, "--help").stdout
        assert "<bool>" not in page, command
        assert "Example" in page, command


def test_unknown_arch_fails_before_training_and_names_the_flag(tmp_path):
    from affectkit.analyzers.classic.model import ESTIMATORS
    from affectkit.cli.main import TRAIN_ARCHS

    assert set(ESTIMATORS) <= set(TRAIN_ARCHS)
    data = str(ROOT / "examples" / "sentiment.csv")
    r = run("train", data, "--out", str(tmp_path / "m"), "--arch", "svn")
    assert r.exit_code == 2
    message = " ".join(r.stderr.split())  # the console wraps long lines
    assert "--arch" in message and "Did you mean 'svm'?" in message and "training" not in r.output
    assert not (tmp_path / "m").exists()
    r = run("train", data, "--out", str(tmp_path / "m"), "--labels-col", "tags")
    assert r.exit_code == 2 and "--labels-col" in r.stderr and "labels_col" not in r.stderr


def test_a_failed_run_leaves_no_empty_folder(tmp_path, monkeypatch):
    import affectkit.train.classic as classic

    def fails(data, out_dir, **kwargs):
        Path(out_dir).mkdir(parents=True)
        raise ValueError("the estimator could not be fitted")

    monkeypatch.setattr(classic, "train_classic", fails)
    r = run("train", str(ROOT / "examples" / "sentiment.csv"), "--out", str(tmp_path / "new" / "m"))
    assert r.exit_code == 1 and "could not be fitted" in r.stderr
    assert not (tmp_path / "new" / "m").exists()
    (tmp_path / "kept").mkdir()  # a folder that was there before is never removed
    r = run("train", str(ROOT / "examples" / "sentiment.csv"), "--out", str(tmp_path / "kept"))
    assert r.exit_code == 1 and (tmp_path / "kept").is_dir()


def test_serve_on_a_busy_port_says_so_before_serving():
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        r = run("serve", "--port", str(busy.getsockname()[1]), "--audio", "none")
    assert r.exit_code == 2
    assert "Cannot listen" in r.stderr and "--port" in r.stderr and "serving" not in r.output


def test_json_lines_carry_the_id_column(tmp_path):
    data = tmp_path / "rows.csv"
    _write_csv(data, ["id", "text"], [("a7", "great"), ("b9", "terrible")])
    r = run("analyze", "--input", str(data), "--json", "-m", "lexicon")
    assert r.exit_code == 0, r.output
    assert [json.loads(line)["id"] for line in r.stdout.splitlines()] == ["a7", "b9"]
    r = run("aspects", "--input", str(data), "--json", "-m", "lexicon")
    assert [json.loads(line)["id"] for line in r.stdout.splitlines()] == ["a7", "b9"]


def test_evaluate_writes_no_png_unasked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run("evaluate", "--data", str(ROOT / "examples" / "sentiment.csv"), "--models", "lexicon")
    assert r.exit_code == 0, r.output
    assert list(tmp_path.iterdir()) == []


def test_emotion_without_a_label_over_its_threshold_says_why():
    import affectkit

    emotion = affectkit.load("emotion")
    r = emotion.analyze("the weather report", threshold=0.99)
    assert r.labels == () and any("no label reached its threshold" in w for w in r.warnings)
    out = runner.invoke(app, ["analyze", "the weather report", "-m", "emotion", "--threshold", "0.99"],
                        env={"COLUMNS": "250"})
    assert out.exit_code == 0 and "none reached its threshold" in out.stdout
