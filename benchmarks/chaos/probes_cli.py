"""Probes of the command line and the review job: hostile rows, output folders, archives, workers, stdin."""

from __future__ import annotations

import csv
import gzip
import json
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from run import Context, Row

HOSTILE = ['=HYPERLINK("http://example.invalid","click")', "+1+2", "-3+4", "@SUM(A1)", "\tleading tab",
           "plain text, nothing to see"]


def _cli(ctx: Context, *args: str, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([ctx.python, "-m", "affectkit.cli.main", *args], capture_output=True, text=True,
                          timeout=timeout, **kw)


def _write_reviews(path: Path, texts: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text"])
        for i, t in enumerate(texts):
            w.writerow([i, t])


def probe_formula_cells_and_finished_outputs(ctx: Context) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "hostile.csv"
        _write_reviews(src, HOSTILE)
        out = Path(tmp) / "out"
        r = _cli(ctx, "reviews", str(src), "--text-col", "text", "--id-col", "id", "--out", str(out), "--csv",
                 "--fast", "--no-topics")
        cells = []
        if (out / "reviews.csv").exists():
            with (out / "reviews.csv").open(encoding="utf-8") as fh:
                cells = [row["text"] for row in csv.DictReader(fh)]
        risky = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
        rows.append(Row("--csv with cells that start =, +, -, @, tab", "no cell a spreadsheet would run",
                        f"exit {r.returncode}, {len(cells)} rows, {len(risky)} risky cells",
                        r.returncode == 0 and len(cells) == len(HOSTILE) and not risky))
        other = Path(tmp) / "other.csv"
        _write_reviews(other, ["a different file", "with other rows"])
        r2 = _cli(ctx, "reviews", str(other), "--text-col", "text", "--out", str(out), "--fast", "--no-topics")
        rows.append(Row("another input into a finished --out, without --overwrite", "refused, results kept",
                        f"exit {r2.returncode}: {(r2.stderr.strip().splitlines() or [''])[-1][:90]}",
                        r2.returncode != 0 and (out / "reviews.parquet").exists()))
        bad = Path(tmp) / "missing.csv"
        fresh = Path(tmp) / "fresh-out"
        r3 = _cli(ctx, "reviews", str(bad), "--text-col", "text", "--out", str(fresh), "--fast")
        rows.append(Row("a run that fails (missing input)", "clear error, no empty folder left",
                        f"exit {r3.returncode}, folder left: {fresh.exists()}", r3.returncode != 0 and not fresh.exists()))
    return rows


def probe_gzip_bomb(ctx: Context) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        bomb = Path(tmp) / "bomb.csv.gz"
        line = b"1,this line repeats for ever and ever\n"
        with gzip.open(bomb, "wb", compresslevel=9) as fh:
            fh.write(b"id,text\n")
            block = line * 100_000
            for _ in range(1500):  # ~5.7 GB once decompressed
                fh.write(block)
        size = bomb.stat().st_size
        t0 = time.perf_counter()
        r = subprocess.run(["/usr/bin/time", "-v", ctx.python, "-m", "affectkit.cli.main", "reviews", str(bomb),
                            "--text-col", "text", "--out", str(Path(tmp) / "out"), "--fast", "--no-topics"],
                           capture_output=True, text=True, timeout=600)
        dt = time.perf_counter() - t0
        rss = next((int(x.split(":")[1]) for x in r.stderr.splitlines() if "Maximum resident" in x), 0) / 1024
        msg = next((x for x in r.stderr.splitlines() if "--max-input" in x or "limit" in x.lower()), "")[:90]
        return [Row(f"a {size / 2**20:.1f} MB .csv.gz that expands to ~5.7 GB", "fails fast, clear message, bounded memory",
                    f"exit {r.returncode} after {dt:.1f} s, peak RSS {rss:.0f} MiB: {msg}",
                    r.returncode != 0 and dt < 120 and rss < 1500 and bool(msg))]


def probe_workers_die_with_their_parent(ctx: Context) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "many.csv"
        _write_reviews(src, [f"review number {i}: the fabric is soft but the zip broke" for i in range(20_000)])
        p = subprocess.Popen([ctx.python, "-m", "affectkit.cli.main", "reviews", str(src), "--text-col", "text",
                              "--out", str(Path(tmp) / "out"), "--workers", "2", "--no-topics"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        children: list[int] = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < 120 and len(children) < 2:
            time.sleep(0.5)
            children = _children(p.pid)
        p.send_signal(signal.SIGKILL)
        p.wait()
        t1 = time.monotonic()
        alive = children
        while alive and time.monotonic() - t1 < 10:
            time.sleep(0.2)
            alive = [c for c in alive if _alive(c)]
        return [Row("SIGKILL of `affectkit reviews --workers 2`", "its worker processes exit too",
                    f"{len(children)} workers, {len(alive)} alive {time.monotonic() - t1:.1f} s later",
                    bool(children) and not alive)]


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def probe_stdin_is_streamed(ctx: Context) -> list[Row]:
    p = subprocess.Popen([ctx.python, "-m", "affectkit.cli.main", "analyze", "-", "--json", "--model", "lexicon"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert p.stdin is not None and p.stdout is not None
    t0 = time.perf_counter()
    for i in range(2000):
        p.stdin.write(f"line {i}: this is fine, I suppose\n")
    p.stdin.flush()
    first = p.stdout.readline()  # before stdin is closed
    dt = time.perf_counter() - t0
    p.stdin.close()
    rest = p.stdout.read().splitlines()
    p.wait()
    ok = bool(first) and json.loads(first).get("text", "").startswith("line 0")
    return [Row("`affectkit analyze - --json` with stdin still open", "results stream out before stdin ends",
                f"first result after {dt:.1f} s, {1 + len(rest)} results in all", ok and 1 + len(rest) == 2000)]


PROBES = [probe_formula_cells_and_finished_outputs, probe_gzip_bomb, probe_workers_die_with_their_parent,
          probe_stdin_is_streamed]


def probe_topics_are_reproducible(ctx: Context) -> list[Row]:
    import random

    import pandas as pd

    rng = random.Random(3)
    subjects = ["the zip broke after a week", "battery dies fast", "colour faded after washing",
                "delivery took two weeks", "runs a size small, order one up", "strong chemical smell", "love it!",
                "great value for the price", "fabric is thin and see-through", "customer service never answered",
                "terrible, returned it", "fits perfectly and looks lovely", "the seams came apart", "ok"]
    texts = []
    for _ in range(3000):  # reviews repeat, as real ones do
        a, b = rng.choice(subjects), rng.choice(subjects)
        texts.append(a if rng.random() < 0.4 else f"{a}. {b}")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "repeats.csv"
        _write_reviews(src, texts)
        topics = []
        for k in (1, 2):
            out = Path(tmp) / f"out{k}"
            r = _cli(ctx, "reviews", str(src), "--text-col", "text", "--id-col", "id", "--out", str(out), "--fast")
            topics.append(pd.read_parquet(out / "reviews.parquet")["topic"].to_numpy() if r.returncode == 0 else None)
        ok = all(t is not None for t in topics) and (topics[0] == topics[1]).all()
        moved = int((topics[0] != topics[1]).sum()) if ok or all(t is not None for t in topics) else -1
        found = [len(set(t.tolist()) - {-1}) if t is not None else None for t in topics]
        return [Row("two identical runs on 3,000 reviews with repeats", "the same topics",
                    f"{found[0]} and {found[1]} topics, {moved} rows placed differently", ok)]


PROBES.append(probe_topics_are_reproducible)
