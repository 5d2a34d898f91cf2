"""Review files are read as a stream within limits: decompressed bytes, rows, compression ratio (issue 19, item 3)."""

from __future__ import annotations

import gzip
import json
import zipfile

import pytest

from affectkit.exceptions import InvalidInputError, LimitExceededError
from affectkit.reviews import io as rio
from affectkit.reviews.io import read_reviews

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

MiB = 1 << 20
LINE = b"7,The kettle is lovely and it boils water in no time at all,5\n"


def _bomb(path, mib: int = 24):
    """A small gzip (tens of KiB) that expands to ``mib`` MiB of CSV rows."""
    block = LINE * (MiB // len(LINE))
    with gzip.open(path, "wb", compresslevel=9) as fh:
        fh.write(b"id,text,stars\n")
        for _ in range(mib):
            fh.write(block)
    return path


def _counting_gzip(monkeypatch):
    """Count the decompressed bytes the reader takes from gzip."""
    taken = {"bytes": 0}

    class Counted(gzip.GzipFile):
        def readinto(self, b):
            n = super().readinto(b)
            taken["bytes"] += n
            return n

    def open_counted(path, mode="rb"):
        assert mode == "rb"
        return Counted(path, mode)

    monkeypatch.setattr(rio.gzip, "open", open_counted)
    return taken


def test_a_gzip_bomb_stops_at_the_byte_limit_and_reads_no_further(tmp_path, monkeypatch):
    path = _bomb(tmp_path / "bomb.csv.gz")
    assert path.stat().st_size < MiB // 4
    taken = _counting_gzip(monkeypatch)
    with pytest.raises(LimitExceededError, match=r"max_input_bytes.*--max-input-bytes") as info:
        read_reviews(path, text_col="text", max_input_bytes=2 * MiB, max_input_ratio=None)
    assert "bomb.csv.gz" in str(info.value) and "once decompressed" in str(info.value)
    assert isinstance(info.value, InvalidInputError)  # still a bad input for callers that catch that
    assert 2 * MiB < taken["bytes"] <= 2 * MiB + rio._CHUNK  # one buffer past the limit at most, never the whole


def test_a_gzip_bomb_stops_at_the_ratio_limit(tmp_path, monkeypatch):
    path = _bomb(tmp_path / "bomb.csv.gz")
    monkeypatch.setattr(rio, "RATIO_FREE_BYTES", MiB)
    taken = _counting_gzip(monkeypatch)
    with pytest.raises(LimitExceededError, match=r"max_input_ratio.*decompression bomb.*--max-input-ratio"):
        read_reviews(path, text_col="text", max_input_ratio=10)
    assert taken["bytes"] <= MiB + rio._CHUNK
    # the ratio only applies past RATIO_FREE_BYTES
    monkeypatch.setattr(rio, "RATIO_FREE_BYTES", 64 * MiB)
    assert len(read_reviews(path, text_col="text", max_input_ratio=10).frame) > 300_000


def test_the_same_limit_holds_for_a_zip_member_and_a_plain_file(tmp_path):
    plain = tmp_path / "big.csv"
    plain.write_bytes(b"id,text,stars\n" + LINE * 40_000)  # 2.4 MiB
    packed = tmp_path / "big.zip"
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(plain, "big.csv")
    for path in (plain, packed):
        with pytest.raises(LimitExceededError, match="max_input_bytes"):
            read_reviews(path, max_input_bytes=MiB)
        assert len(read_reviews(path, max_input_bytes=4 * MiB).frame) == 40_000


@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet", "csv.gz", "jsonl.gz", "parquet.gz", "tsv.zip"])
def test_the_row_limit(tmp_path, kind):
    frame = pd.DataFrame({"id": range(10), "text": [f"review number {i}" for i in range(10)]})
    base = kind.split(".")[0]
    plain = tmp_path / f"r.{base}"
    if base == "jsonl":
        frame.to_json(plain, orient="records", lines=True)
    elif base == "parquet":
        frame.to_parquet(plain, index=False)
    else:
        frame.to_csv(plain, index=False, sep="\t" if base == "tsv" else ",")
    path = plain
    if kind.endswith(".gz"):
        path = tmp_path / f"r.{kind}"
        path.write_bytes(gzip.compress(plain.read_bytes()))
    elif kind.endswith(".zip"):
        path = tmp_path / f"r.{kind}"
        with zipfile.ZipFile(path, "w") as zf:
            zf.write(plain, plain.name)
    with pytest.raises(LimitExceededError, match=r"more than 9 rows.*max_rows.*--max-rows"):
        read_reviews(path, text_col="text", max_rows=9)
    got = read_reviews(path, text_col="text", max_rows=10)
    assert got.frame["text"].tolist() == frame["text"].tolist()
    assert got.frame["id"].astype(int).tolist() == list(range(10))
    assert len(read_reviews(path, max_rows=None, max_input_bytes=None, max_input_ratio=None).frame) == 10


def test_streamed_reading_keeps_what_the_whole_file_reading_did(tmp_path):
    # bad UTF-8 flagged, a BOM dropped, quoted newlines kept, a column typed from all its rows
    path = tmp_path / "r.csv.gz"
    rows = b"\xef\xbb\xbfid,text\n1,\"two\nlines\"\n2,caf\xe9\n" + b"".join(b"%d,ok\n" % i for i in range(3, 2000))
    path.write_bytes(gzip.compress(rows + b"x,last\n"))
    got = read_reviews(path, text_col="text")
    assert list(got.frame.columns) == ["id", "text"] and len(got.frame) == 2000
    assert got.frame["text"].iloc[0] == "two\nlines"
    assert got.row_flags == {1: ["encoding"]}
    assert got.frame["id"].iloc[-1] == "x" and got.frame["id"].iloc[0] == "1"  # one type for the whole column
    lines = tmp_path / "r.jsonl.gz"
    lines.write_bytes(gzip.compress(json.dumps({"text": "a\u2028b"}, ensure_ascii=False).encode() + b"\n\n{bad\n"))
    got = read_reviews(lines)
    assert len(got.frame) == 2 and got.frame["text"].iloc[0] == "a\u2028b" and got.row_flags == {1: ["unparseable"]}


def test_archives_inside_archives_are_refused(tmp_path):
    inner = gzip.compress(b"text\nhello\n")
    nested = tmp_path / "r.zip"
    with zipfile.ZipFile(nested, "w") as zf:
        zf.writestr("r.csv.gz", inner)
    with pytest.raises(InvalidInputError, match="archives inside archives"):
        read_reviews(nested)
    twice = tmp_path / "r.csv.gz"
    twice.write_bytes(gzip.compress(inner))
    with pytest.raises(InvalidInputError, match=r"another archive.*gzip"):
        read_reviews(twice)
    cut = tmp_path / "cut.csv.gz"
    whole = gzip.compress(b"text\n" + b"".join(b"review %d\n" % i for i in range(5000)))
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InvalidInputError, match="not a readable gzip file"):
        read_reviews(cut)


@pytest.mark.parametrize("given", [{"max_rows": 0}, {"max_input_bytes": -1}, {"max_rows": 2.5},
                                   {"max_input_ratio": 0}, {"max_input_bytes": "1G"}])
def test_bad_limits_are_named(tmp_path, given):
    path = tmp_path / "r.csv"
    path.write_text("text\nok\n")
    name = next(iter(given))
    with pytest.raises(InvalidInputError, match=f"'{name}' parameter must be a positive"):
        read_reviews(path, **given)


def test_the_cli_flags_reach_the_reader_and_no_folder_is_left(tmp_path):
    from typer.testing import CliRunner

    from affectkit.cli.main import app

    bomb = _bomb(tmp_path / "bomb.csv.gz", mib=8)
    out = tmp_path / "out"
    runner = CliRunner()
    r = runner.invoke(app, ["reviews", str(bomb), "--text-col", "text", "--out", str(out), "--max-input-bytes",
                            "1M", "--max-input-ratio", "none", "--sentiment", "lexicon", "--emotion", "none"])
    assert r.exit_code == 2, r.output
    assert "--max-input-bytes" in r.output and "1 MiB" in r.output and not out.exists()
    r = runner.invoke(app, ["reviews", str(bomb), "--text-col", "text", "--out", str(out), "--max-rows", "100",
                            "--sentiment", "lexicon", "--emotion", "none"])
    assert r.exit_code == 2 and "more than 100 rows" in r.output and "--max-rows" in r.output
    r = runner.invoke(app, ["reviews", str(bomb), "--text-col", "text", "--out", str(out), "--max-rows", "lots"])
    assert r.exit_code == 2 and "--max-rows must be a positive number" in r.output


def test_the_service_passes_its_limits_to_the_job(tmp_path):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    import time

    from fastapi.testclient import TestClient

    from affectkit.service.app import ServiceSettings, create_app

    defaults = ServiceSettings(jobs_dir=tmp_path)
    assert (defaults.max_job_input_bytes, defaults.max_job_rows, defaults.max_job_input_ratio) == (
        rio.MAX_INPUT_BYTES, rio.MAX_ROWS, rio.MAX_INPUT_RATIO)
    settings = ServiceSettings(sentiment="lexicon", emotion=None, aspects=False, jobs_dir=tmp_path, api_key="",
                               max_job_input_bytes=MiB, max_job_rows=20_000)
    bomb = _bomb(tmp_path / "bomb.csv.gz", mib=4).read_bytes()
    with TestClient(create_app(settings)) as client:
        ids = [client.post("/v1/jobs", files={"file": (name, data)}, data={"text_col": "text", "topics": "false"}
                           ).json()["id"] for name, data in (("bomb.csv.gz", bomb),
                                                             ("many.csv", b"text\n" + b"fine\n" * 20_001))]
        jobs = []
        for job_id in ids:
            deadline = time.monotonic() + 120
            while (job := client.get(f"/v1/jobs/{job_id}").json())["status"] not in ("done", "failed"):
                assert time.monotonic() < deadline, job
                time.sleep(0.3)
            jobs.append(job)
    assert jobs[0]["status"] == "failed" and "bomb.csv.gz" in jobs[0]["error"]
    assert "AFFECTKIT_MAX_JOB_INPUT_BYTES" in jobs[0]["error"]
    assert jobs[1]["status"] == "failed" and "more than 20000 rows" in jobs[1]["error"]
    assert "AFFECTKIT_MAX_JOB_ROWS" in jobs[1]["error"]
