"""Load benchmark of the HTTP service (``affectkit serve``) on loopback. A benchmark, not a test.

    python benchmarks/bench_service.py [--requests 10000] [--duration S] [--concurrency 32]
                                       [--route sentiment|emotion|aspects|analyze] [--texts-per-request 1]
                                       [--url http://127.0.0.1:8000] [--json]

Without ``--url`` it starts ``affectkit serve`` (falling back to the uvicorn app factory when the
CLI has no ``serve`` command) on a free port with a temporary ``--jobs-dir``, waits for
``GET /healthz``, sends one warm-up request, runs the load, reads the server's peak RSS (VmHWM)
and stops it. ``--url`` targets a server that is already running instead.

The load: ``--concurrency`` clients on one ``httpx.AsyncClient`` (HTTP/1.1 keep-alive, as many
connections as clients), each posting ``{"texts": [...]}`` to ``/v1/<route>`` back to back, until
``--requests`` requests have been sent or ``--duration`` seconds have passed (whichever comes first
when both are given; 10000 requests when neither is). Texts are short made-up reviews and tweets,
cycled.

Reported: requests, errors (non-2xx by status, exceptions by type, 200s with the wrong number of
results), wall time, throughput of successful requests (req/s and texts/s), their latency
p50/p90/p99/max as the client sees it, the server's own latency for the route (its
``affectkit_request_seconds`` histogram), server peak RSS, CPU seconds of the server, the client and
everything else on the machine (a shared machine skews the numbers), and the mean texts per
inference batch from the server's ``affectkit_batch_texts`` histogram. Server metrics are the
difference of ``/metrics`` before and after the run, so warm-up and earlier traffic are left out;
on ``analyze`` the batches mix sentiment, emotion and aspect batches. Exit code 1 when any request
failed.

The client runs on the same machine as the server, so on a small machine they compete for cores:
the numbers are a lower bound on what the server alone would do.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROUTES = ("sentiment", "emotion", "aspects", "analyze")

# Made up for this benchmark: short review- and tweet-like sentences of mixed polarity.
TEXTS = [
    "The blender is loud but it crushes ice in seconds.",
    "Worst customer service I have dealt with all year.",
    "Honestly this jacket fits perfectly and keeps me warm.",
    "Delivery took three weeks and the box arrived crushed.",
    "Not bad for the price, though the battery drains fast.",
    "I love how quiet the new dishwasher is!",
    "The hotel room was tiny, but the staff were lovely.",
    "Meh. It does what it says, nothing more.",
    "Absolutely thrilled with the sound quality of these headphones.",
    "The app crashes every time I try to upload a photo.",
    "Great coffee, terrible parking.",
    "My kids play with this puzzle every single day.",
    "The screen scratched within a week, very disappointed.",
    "Fast shipping and the seller answered all my questions.",
    "Can't believe they charged me twice for the same order.",
    "The pasta was cold and the waiter ignored us for twenty minutes.",
    "Such a cozy little bookshop, I could spend hours here.",
    "The instructions were confusing but assembly only took an hour.",
    "This update finally fixed the login bug, thank you!",
    "Smells like plastic and the zipper broke on day two.",
    "Decent phone case, nothing special about it.",
    "Wow, the view from the balcony was breathtaking.",
    "I'm scared to fly with this airline again after that landing.",
    "The movie started slow but the ending made me cry.",
    "Battery life is amazing, easily two days on one charge.",
    "The sizing chart is wrong, order one size up.",
    "Pretty happy with it overall, would buy again.",
    "Why does the subscription renew without any warning?",
    "The chef clearly cares about every plate, stunning food.",
    "Ugh, another Monday, another delayed train.",
    "It's okay, I expected a bit more from the reviews.",
    "The fabric feels cheap and the color faded after one wash.",
    "Our tour guide was funny, patient and knew everything.",
    "The keyboard feels great but the trackpad is jumpy.",
    "Returned it, the motor stopped working after a month.",
    "So grateful for the nurse who stayed late to help us.",
    "The gym is clean but way too crowded after work.",
    "Surprisingly good sushi for a place next to a gas station.",
    "I waited on hold for an hour and then got disconnected.",
    "Lightweight, comfortable and the price was right.",
    "The concert was incredible, best night of the summer!",
    "The lamp flickers constantly, what a waste of money.",
    "Nice design, average performance, fair price.",
    "I am furious that my package was left in the rain.",
    "The soup tasted homemade and the bread was still warm.",
    "Setup was painless and the wifi range covers the whole house.",
    "The manual is useless and support never replied.",
    "Cute mug, though it's smaller than it looks in the photos.",
    "Feeling hopeful after the first week with this planner.",
    "The seats were uncomfortable but the show was worth it.",
]


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests only
    statuses: Counter = field(default_factory=Counter)  # non-2xx responses by status
    exceptions: Counter = field(default_factory=Counter)  # by exception type
    bad_results: int = 0  # 200 responses whose ``results`` has the wrong length
    examples: list[str] = field(default_factory=list)  # a few error details
    sent: int = 0

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def errors(self) -> int:
        return sum(self.statuses.values()) + sum(self.exceptions.values()) + self.bad_results

    def note(self, text: str) -> None:
        if len(self.examples) < 5:
            self.examples.append(text[:300])


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    k = max(0, math.ceil(p / 100 * len(sorted_values)) - 1)
    return sorted_values[k]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid: int) -> dict[str, int]:
    """VmHWM / VmRSS of a process in bytes (empty when it cannot be read)."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmHWM", "VmRSS"):
                out[name] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return out


def proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process, from /proc/<pid>/stat."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float | None:
    """CPU seconds all cores spent busy since boot (everything but idle and iowait), from /proc/stat."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    return (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")  # up to steal; guest is in user


def client_cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


_SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def histogram(text: str, metric: str, **labels: str) -> dict[str, Any]:
    """One Prometheus histogram series from the text format: sum, count and cumulative buckets."""
    out: dict[str, Any] = {"sum": 0.0, "count": 0.0, "buckets": {}}
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if not m or not m["name"].startswith(metric + "_"):
            continue
        found = dict(_LABEL.findall(m["labels"] or ""))
        if any(found.get(k) != v for k, v in labels.items()):
            continue
        kind = m["name"][len(metric) + 1 :]
        if kind in ("sum", "count"):
            out[kind] = float(m["value"])
        elif kind == "bucket":
            out["buckets"][found["le"]] = float(m["value"])
    return out


def _delta(before: dict[str, Any], after: dict[str, Any]) -> tuple[float, float, list[tuple[str, float]]]:
    """count, sum and cumulative buckets of what happened between two scrapes."""
    cum = [(le, v - before["buckets"].get(le, 0.0)) for le, v in after["buckets"].items()]
    return after["count"] - before["count"], after["sum"] - before["sum"], cum


def batch_delta(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any] | None:
    """Texts per inference batch over the run: mean and a histogram of batch sizes."""
    if before is None or after is None:
        return None
    n, total, cum = _delta(before["batch"], after["batch"])
    hist: dict[str, int] = {}  # batch sizes (texts) -> batches, e.g. "3-4": 17
    prev, low = 0.0, 1
    for le, c in cum:  # cumulative -> per bucket, in the server's order
        if le == "+Inf":
            name = f">{low - 1}"
        else:
            high = int(float(le))
            name = str(high) if high == low else f"{low}-{high}"
            low = high + 1
        if c - prev:
            hist[name] = int(c - prev)
        prev = c
    return {"batches": int(n), "texts": int(total), "mean_texts_per_batch": total / n if n else None,
            "histogram": hist}


def latency_delta(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any] | None:
    """The server's own view of the route's latency over the run (``affectkit_request_seconds``):
    the mean, and p50 / p99 as the upper bound of their histogram bucket."""
    if before is None or after is None:
        return None
    n, total, cum = _delta(before["latency"], after["latency"])
    if not n:
        return None

    def bound(q: float) -> str:
        le = next((le for le, c in cum if c >= q * n), "+Inf")
        return "<=" + (f"{float(le) * 1000:g} ms" if le != "+Inf" else "+Inf")

    return {"requests": int(n), "mean_ms": total / n * 1000, "p50": bound(0.5), "p99": bound(0.99)}


class Server:
    """``affectkit serve`` (or the uvicorn app factory) as a subprocess on a free port."""

    def __init__(self, startup_timeout: float, extra_args: list[str]):
        self.tmp = tempfile.TemporaryDirectory(prefix="affectkit-bench-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(self.tmp.name) / "server.log"
        jobs_dir = Path(self.tmp.name) / "jobs"
        if self._has_serve_cli():
            self.how = "affectkit serve"
            cmd = [sys.executable, "-m", "affectkit.cli.main", "serve", "--host", "127.0.0.1",
                   "--port", str(self.port), "--jobs-dir", str(jobs_dir), *extra_args]
        else:  # the app's default jobs_dir is relative: the temporary working directory holds it
            self.how = "uvicorn --factory affectkit.service.app:create_app"
            cmd = [sys.executable, "-m", "uvicorn", "--factory", "affectkit.service.app:create_app",
                   "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning", "--no-access-log",
                   *extra_args]
        self.cmd = cmd
        self.startup_timeout = startup_timeout
        self._log = self.log_path.open("wb")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=self.tmp.name, env=env)

    @staticmethod
    def _has_serve_cli() -> bool:
        try:
            r = subprocess.run([sys.executable, "-m", "affectkit.cli.main", "serve", "--help"],
                               capture_output=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return r.returncode == 0

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-n:]
        except OSError:
            return ""

    def wait_healthy(self) -> float:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < self.startup_timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"The server exited with code {self.proc.returncode} while starting:\n"
                                   f"{self.log_tail()}")
            try:
                r = httpx.get(self.url + "/healthz", timeout=2.0)
                if r.status_code == 200 and r.json().get("status") == "ok":
                    return time.perf_counter() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"The server did not answer /healthz within {self.startup_timeout:g} s:\n{self.log_tail()}")

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        code = self.proc.returncode
        self.tmp.cleanup()
        return code


def build_bodies(route: str, per_request: int) -> list[bytes]:
    """Request bodies, cycling through TEXTS; request i uses bodies[i % len(bodies)]."""
    n = len(TEXTS) // math.gcd(len(TEXTS), per_request)
    return [json.dumps({"texts": [TEXTS[(i * per_request + j) % len(TEXTS)] for j in range(per_request)]}).encode()
            for i in range(n)]


async def fetch_metrics(client: httpx.AsyncClient, path: str) -> dict[str, Any] | None:
    try:
        r = await client.get("/metrics")
    except httpx.HTTPError:
        return None
    if r.status_code != 200:
        return None
    return {"batch": histogram(r.text, "affectkit_batch_texts"),
            "latency": histogram(r.text, "affectkit_request_seconds", route=path)}


async def one_request(client: httpx.AsyncClient, path: str, body: bytes, per_request: int,
                      stats: Stats) -> None:
    t0 = time.perf_counter()
    try:
        r = await client.post(path, content=body, headers={"content-type": "application/json"})
    except Exception as exc:  # counted, never raised: the load goes on
        stats.exceptions[type(exc).__name__] += 1
        stats.note(f"{type(exc).__name__}: {exc}")
        return
    elapsed = time.perf_counter() - t0
    if not 200 <= r.status_code < 300:
        stats.statuses[r.status_code] += 1
        stats.note(f"HTTP {r.status_code}: {r.text}")
        return
    if r.status_code == 200:
        try:
            n = len(r.json()["results"])
        except Exception as exc:
            n = -1
            stats.note(f"unreadable 200 body ({type(exc).__name__}): {r.text}")
        if n != per_request:
            stats.bad_results += 1
            if n >= 0:
                stats.note(f"200 with {n} results for {per_request} texts")
            return
    stats.latencies.append(elapsed)


async def run_load(args: argparse.Namespace, base_url: str, headers: dict[str, str]) -> dict[str, Any]:
    path = f"/v1/{args.route}"
    bodies = build_bodies(args.route, args.texts_per_request)
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    timeout = httpx.Timeout(args.timeout, connect=10.0)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=timeout,
                                 http1=True, http2=False) as client:
        warm = await client.post(path, content=bodies[0], headers={"content-type": "application/json"})
        if warm.status_code != 200:
            raise RuntimeError(f"The warm-up request to {path} answered {warm.status_code}: {warm.text[:500]}")
        before = await fetch_metrics(client, path)

        stats = Stats()
        total = args.requests
        deadline = None
        next_index = 0

        def claim() -> int | None:
            nonlocal next_index
            if total is not None and next_index >= total:
                return None
            if deadline is not None and time.perf_counter() >= deadline:
                return None
            i = next_index
            next_index += 1
            return i

        async def worker() -> None:
            while (i := claim()) is not None:
                stats.sent += 1
                await one_request(client, path, bodies[i % len(bodies)], args.texts_per_request, stats)

        async def progress(t0: float) -> None:
            while True:
                await asyncio.sleep(args.progress)
                done = stats.ok + stats.errors
                print(f"  ... {done} done, {stats.errors} errors, {done / (time.perf_counter() - t0):.0f} req/s",
                      file=sys.stderr, flush=True)

        cpu0, busy0 = client_cpu_seconds(), machine_busy_seconds()
        t0 = time.perf_counter()
        if args.duration is not None:
            deadline = t0 + args.duration
        reporter = asyncio.create_task(progress(t0)) if args.progress > 0 else None
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        wall = time.perf_counter() - t0
        client_cpu = client_cpu_seconds() - cpu0
        busy1 = machine_busy_seconds()
        machine_cpu = busy1 - busy0 if busy0 is not None and busy1 is not None else None
        if reporter is not None:
            reporter.cancel()
        after = await fetch_metrics(client, path)
    return {"stats": stats, "wall": wall, "client_cpu": client_cpu, "machine_cpu": machine_cpu,
            "batches": batch_delta(before, after), "server_latency": latency_delta(before, after)}


def report(args: argparse.Namespace, how: str, url: str, load: dict[str, Any], server: dict[str, Any]) -> dict[str, Any]:
    stats: Stats = load["stats"]
    wall = load["wall"]
    lat = sorted(stats.latencies)
    ms = {f"p{p}": percentile(lat, p) * 1000 for p in (50, 90, 99)}
    ms["max"] = lat[-1] * 1000 if lat else float("nan")
    ms["mean"] = sum(lat) / len(lat) * 1000 if lat else float("nan")
    return {
        "server": how, "url": url, "route": args.route, "concurrency": args.concurrency,
        "texts_per_request": args.texts_per_request, "requests_limit": args.requests, "duration_limit_s": args.duration,
        "cpu_count": os.cpu_count(),
        "requests": stats.sent, "ok": stats.ok, "errors": stats.errors,
        "errors_by_status": {str(k): v for k, v in sorted(stats.statuses.items())},
        "errors_by_exception": dict(stats.exceptions), "bad_results": stats.bad_results,
        "error_examples": stats.examples,
        "wall_s": wall, "throughput_req_s": stats.ok / wall if wall else None,
        "throughput_texts_s": stats.ok * args.texts_per_request / wall if wall else None,
        "latency_ms": ms, "client_cpu_s": load["client_cpu"], "machine_busy_cpu_s": load["machine_cpu"], **server,
        "batches": load["batches"], "server_latency_ms": load["server_latency"],
    }


def _mib(v: int | None) -> str:
    return f"{v / 2**20:.1f} MiB" if v else "n/a"


def cpu_line(r: dict[str, Any]) -> str:
    """Server, client and everything else on the machine, in CPU seconds over the run."""
    server, client, machine = r.get("server_cpu_s"), r["client_cpu_s"], r.get("machine_busy_cpu_s")
    parts = [f"server {server:.1f} s" if server is not None else "server n/a", f"client {client:.1f} s"]
    if machine is not None:
        if server is not None:
            parts.append(f"other processes {max(0.0, machine - server - client):.1f} s")
        parts.append(f"machine busy {machine:.1f} of {r['wall_s'] * (r['cpu_count'] or 1):.1f} core-s")
    return ", ".join(parts)


def server_latency_line(s: dict[str, Any] | None) -> str:
    if not s:
        return "n/a"
    return f"p50 {s['p50']}, p99 {s['p99']} (histogram buckets), mean {s['mean_ms']:.1f} ms, from /metrics"


def print_table(r: dict[str, Any]) -> None:
    lat = r["latency_ms"]
    b = r["batches"] or {}
    mean_batch = b.get("mean_texts_per_batch")
    rows = [
        ("server", f"{r['server']} at {r['url']}"),
        ("load", f"POST /v1/{r['route']}, {r['texts_per_request']} text(s)/request, concurrency {r['concurrency']}, "
                 f"{r['cpu_count']} CPUs (client and server share them)"),
        ("requests", f"{r['requests']} ({r['ok']} ok)"),
        ("errors", str(r["errors"]) + (f"  by status {r['errors_by_status']}" if r["errors_by_status"] else "")
         + (f"  by exception {r['errors_by_exception']}" if r["errors_by_exception"] else "")
         + (f"  wrong result count {r['bad_results']}" if r["bad_results"] else "")),
        ("wall", f"{r['wall_s']:.2f} s"),
        ("throughput", f"{r['throughput_req_s']:.1f} req/s, {r['throughput_texts_s']:.1f} texts/s"),
        ("latency (ok)", f"p50 {lat['p50']:.1f} ms, p90 {lat['p90']:.1f} ms, p99 {lat['p99']:.1f} ms, "
                         f"max {lat['max']:.1f} ms (mean {lat['mean']:.1f} ms)"),
        ("server-side latency", server_latency_line(r.get("server_latency_ms"))),
        ("server peak RSS", _mib(r.get("server_peak_rss_bytes"))
         + (f" (RSS at end {_mib(r.get('server_rss_bytes'))})" if r.get("server_rss_bytes") else "")),
        ("CPU seconds", cpu_line(r)),
        ("batches", f"{b.get('batches')} batches, mean {mean_batch:.2f} texts/batch" if mean_batch else "n/a"),
        ("batch sizes", ", ".join(f"{k}: {v}" for k, v in b.get("histogram", {}).items()) or "n/a"),
    ]
    if r.get("server_startup_s") is not None:
        rows.insert(1, ("server startup", f"{r['server_startup_s']:.1f} s to healthy"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    for e in r["error_examples"]:
        print(f"{'error example':<{width}}  {e}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="target this running server instead of starting one")
    parser.add_argument("--requests", type=int, help="requests in all (default 10000 unless --duration is given)")
    parser.add_argument("--duration", type=float, help="stop sending after this many seconds")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent clients = connections (default 32)")
    parser.add_argument("--route", choices=ROUTES, default="sentiment")
    parser.add_argument("--texts-per-request", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=90.0, help="client timeout per request, s (default 90)")
    parser.add_argument("--api-key", default=os.environ.get("AFFECTKIT_API_KEY") or None,
                        help="sent as X-API-Key (default: $AFFECTKIT_API_KEY)")
    parser.add_argument("--startup-timeout", type=float, default=300.0, help="seconds to wait for /healthz")
    parser.add_argument("--server-arg", action="append", default=[],
                        help="extra argument for the started server (repeatable, e.g. --server-arg=--emotion=none)")
    parser.add_argument("--progress", type=float, default=10.0, help="progress line on stderr every S s (0: off)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args()
    if args.requests is None and args.duration is None:
        args.requests = 10000
    for name in ("requests", "concurrency", "texts_per_request"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.duration is not None and args.duration <= 0:
        parser.error("--duration must be positive")

    headers = {"X-API-Key": args.api_key} if args.api_key else {}
    server: Server | None = None
    server_info: dict[str, Any] = {}
    try:
        if args.url:
            url, how = args.url.rstrip("/"), "external"
        else:
            server = Server(args.startup_timeout, args.server_arg)
            url, how = server.url, server.how
            print(f"starting: {' '.join(server.cmd)}", file=sys.stderr, flush=True)
            server_info["server_startup_s"] = server.wait_healthy()
        cpu0 = proc_cpu_seconds(server.proc.pid) if server else None
        load = asyncio.run(run_load(args, url, headers))
        if server is not None:
            mem = proc_status(server.proc.pid)
            cpu1 = proc_cpu_seconds(server.proc.pid)
            server_info.update(server_pid=server.proc.pid, server_peak_rss_bytes=mem.get("VmHWM"),
                               server_rss_bytes=mem.get("VmRSS"),
                               server_cpu_s=cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None,
                               server_alive_at_end=server.proc.poll() is None)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            log = server.log_tail()
            code = server.stop()
            server_info["server_exit_code"] = code
            server_info["server_log_tail"] = log
    result = report(args, how, url, load, server_info)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
        if result.get("server_log_tail", "").strip():
            print("server log (tail):")
            print(result["server_log_tail"].rstrip())
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
