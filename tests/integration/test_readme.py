"""The README's examples are executed: every Python block, and every `affectkit` command line."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from affectkit.cli.main import app
from conftest import shared_data_dir

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    (tmp_path / "examples").mkdir()
    for path in (ROOT / "examples").iterdir():  # the example files the README names, as a fresh clone has them
        (tmp_path / "examples" / path.name).write_bytes(path.read_bytes())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_python_blocks_run(workdir, capsys):
    code = blocks("python")
    assert len(code) >= 2
    for block in code:  # each block on its own, as a reader copies one
        exec(compile(block, "README.md", "exec"), {})  # noqa: S102
    out = capsys.readouterr().out
    assert "positive" in out
    assert "mixed True" in out  # the abstain example abstains
    assert (workdir / "my-model" / "config.json").is_file()


def commands() -> list[str]:
    lines = []
    for block in blocks("bash"):
        for line in block.splitlines():
            if line.startswith("affectkit "):
                lines.append(line)
    return lines


@pytest.mark.parametrize("line", commands())
def test_cli_lines_run(workdir, line, monkeypatch):
    args = shlex.split(line, comments=True)[1:]
    if any(a.startswith(("tweeteval-", "semeval2014-absa", "goemotions:")) for a in args):
        data = shared_data_dir()
        if data is None:
            pytest.skip("needs ../shared/data")
        monkeypatch.setenv("AFFECTKIT_DATA", str(data))
    if "my-model" in line and args[0] != "train":
        CliRunner().invoke(app, ["train", "examples/sentiment.csv", "--out", "my-model", "--label-col", "label"])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output


def test_setup_commands_are_in_ci():
    ci = (ROOT / ".ci" / "run").read_text()
    setup = [b for b in blocks("bash") if "python3 -m venv" in b]
    assert len(setup) == 2
    assert "pip install -e '.[dev,train]'" in setup[1] and "-m pytest" in setup[1]
    assert "pip install -q -e '.[dev,train]'" in ci and "-m pytest" in ci
