"""Where the review scorer runs: in this process, in worker processes, or as Ray Data actors.

Each engine takes the rows still to score (a frame with ``row``, ``text`` and ``embed``), the
:class:`ScorerSpec`, and a ``sink`` called with every scored batch as it finishes.

* ``local``: ``workers=1`` scores in this process; more workers are processes, each loading
  the models once, with the cores shared between them, and ending when this process ends (even
  when it is killed: :func:`die_with_parent`);
* ``ray``: the same scorer as Ray Data actors (``map_batches`` with an actor class), on a
  local Ray instance or any cluster (``ray_address``). Results equal the local engine's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from affectkit.exceptions import require
from affectkit.reviews.score import ReviewScorer, ScorerSpec

__all__ = ["ENGINES", "batches", "die_with_parent", "run_engine", "run_local", "run_ray"]

ENGINES = ("local", "ray")

Sink = Callable[[Any], None]


def batches(frame: Any, size: int) -> Iterator[Any]:
    """Consecutive slices of ``frame`` of ``size`` rows (the last may be shorter)."""
    for start in range(0, len(frame), size):
        yield frame.iloc[start : start + size]


def run_engine(engine: str, todo: Any, spec: ScorerSpec, *, workers: int, batch_size: int, sink: Sink,
               ray_address: str | None = None) -> None:
    """Score ``todo`` with ``engine`` (one of :data:`ENGINES`), passing each scored batch to ``sink``."""
    if engine == "ray":
        run_ray(todo, spec, workers, batch_size, sink, ray_address)
    else:
        run_local(todo, spec, workers, batch_size, sink)


# -- local ---------------------------------------------------------------------------------------
_WORKER_SCORER: ReviewScorer | None = None


def die_with_parent(parent_pid: int) -> None:
    """Make this worker process end when its parent ``parent_pid`` does, even by SIGKILL (which runs no
    clean-up in the parent, so the pool's own shutdown never reaches the workers).

    Linux: the kernel sends SIGKILL when the parent exits (``prctl(PR_SET_PDEATHSIG)``). Elsewhere, or
    when that call fails, a daemon thread checks every second whether the parent is still ours
    (``os.getppid()`` changes when the parent is gone) and ends the process when it is not.
    """
    import signal
    import sys
    import threading

    armed = False
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    if armed:
        return

    def watch() -> None:
        import time

        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="affectkit-parent-watch", daemon=True).start()


def _worker_init(spec: dict[str, Any], parent_pid: int | None = None) -> None:
    global _WORKER_SCORER
    if parent_pid is not None:
        die_with_parent(parent_pid)
    _WORKER_SCORER = ReviewScorer(ScorerSpec(**spec))


def _worker_score(batch: Any) -> Any:
    assert _WORKER_SCORER is not None
    return _WORKER_SCORER(batch)


def run_local(todo: Any, spec: ScorerSpec, workers: int, batch_size: int, sink: Sink) -> None:
    """In this process (``workers=1``) or in ``workers`` spawned processes sharing the cores."""
    if workers <= 1:
        scorer = ReviewScorer(spec)
        for batch in batches(todo, batch_size):
            sink(scorer(batch))
        return
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    per_worker = ScorerSpec(**{**spec.to_dict(), "threads": spec.threads or max(1, (os.cpu_count() or 1) // workers)})
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                             initializer=_worker_init, initargs=(per_worker.to_dict(), os.getpid())) as pool:
        pending: set[Any] = set()
        for batch in batches(todo, batch_size):
            if len(pending) >= 2 * workers:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in finished:
                    sink(f.result())
            pending.add(pool.submit(_worker_score, batch))
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                sink(f.result())


# -- Ray -----------------------------------------------------------------------------------------
class RayScorer:
    """A Ray Data actor: loads the models once, then scores batches."""

    def __init__(self, spec: dict[str, Any]):
        self.scorer = ReviewScorer(ScorerSpec(**spec))

    def __call__(self, batch: Any) -> Any:
        return self.scorer(batch)


def run_ray(todo: Any, spec: ScorerSpec, workers: int, batch_size: int, sink: Sink, address: str | None) -> None:
    """As ``workers`` Ray Data actors, on the cluster at ``address`` or a local Ray started for the run."""
    ray = require("ray", "distributed", "The Ray engine")
    require("ray.data", "distributed", "The Ray engine")
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address:
            kwargs["address"] = address
        else:  # actors take one CPU each; leave room for Ray's own tasks
            kwargs["num_cpus"] = max(workers + 1, os.cpu_count() or 1)
        ray.init(**kwargs)
        started = True
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        per_actor = ScorerSpec(**{**spec.to_dict(), "threads": spec.threads or 1})
        # one block per batch, so that the actors share the work and finished batches stream back
        ds = ray.data.from_pandas([b.reset_index(drop=True) for b in batches(todo, batch_size)])
        ds = ds.map_batches(RayScorer, fn_constructor_kwargs={"spec": per_actor.to_dict()},
                            batch_size=batch_size, batch_format="pandas", concurrency=max(workers, 1), num_cpus=1)
        for out in ds.iter_batches(batch_format="pandas", batch_size=None):
            sink(out)
    finally:
        if started:
            ray.shutdown()
