"""The chaos and load suite: hostile probes of the service, the CLI and the review job (issue 19).

    python benchmarks/chaos/run.py [--only NAME ...] [--json]      (or: make chaos)

Each probe does what an attacker or an SRE would (oversized and stalled bodies, requests without
a key, long requests beside short ones, SIGKILL mid-job, zip bombs, hostile files) and prints one
row per check: probe -> expected -> observed, and whether it held. Exit code 1 when a row did not
hold. The probes live in ``probes_*.py`` beside this file (each has ``PROBES``, a list of functions
taking a :class:`Context` and returning :class:`Row` objects); ``--only`` runs the probes whose
function name contains one of the given words.

Servers are started as ``affectkit serve`` subprocesses on free loopback ports (the same
:class:`Server` as ``benchmarks/bench_service.py``); client and server share the machine's cores,
so latencies are upper bounds of what the server alone would do. Not part of the test run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE), str(ROOT / "benchmarks")]


@dataclass
class Row:
    probe: str
    expected: str
    observed: str
    ok: bool


@dataclass
class Context:
    root: Path
    python: str


def discover() -> list[Any]:
    probes = []
    for path in sorted(HERE.glob("probes_*.py")):
        module = importlib.import_module(path.stem)
        probes += list(getattr(module, "PROBES", []))
    return probes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=[], help="run the probes whose name contains one of these")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()
    ctx = Context(ROOT, sys.executable)
    rows: list[Row] = []
    for probe in discover():
        if args.only and not any(word in probe.__name__ for word in args.only):
            continue
        t0 = time.perf_counter()
        print(f"-- {probe.__name__}", file=sys.stderr, flush=True)
        try:
            got = probe(ctx)
        except Exception as exc:  # a probe that crashes is a row that did not hold
            traceback.print_exc()
            got = [Row(probe.__name__, "runs", f"crashed: {type(exc).__name__}: {exc}", False)]
        rows += got
        print(f"   {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
    else:
        print("| probe | expected | observed | held |")
        print("|---|---|---|---|")
        for r in rows:
            print(f"| {r.probe} | {r.expected} | {r.observed} | {'yes' if r.ok else '**no**'} |")
    return 0 if rows and all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
