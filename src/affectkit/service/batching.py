"""Dynamic batching of concurrent requests, in two lanes, with cancellation at batch boundaries.

Concurrent requests are queued; a worker takes what is queued (up to ``max_batch`` texts and
``lane_cost`` characters of work), runs the model once on the whole batch in its inference
thread, and hands each request its slice. Under load, batches grow by themselves and
throughput rises; alone, a request runs at once with no added wait.

**Two lanes.** A request whose work (its cost, in characters) is over ``lane_cost`` goes to the
*heavy* lane: its own queue and its own inference thread, one request per model call. So a
long request never sits in front of a short one: short requests wait for at most one model
call of the fast lane, whose calls are bounded by ``lane_cost``. Each lane is one thread, so
two cores are never oversubscribed by many threads each starting its own thread pool.

**Cancellation.** When nobody waits for a request any more (its deadline passed and the route
answered 504, or its client went away and the route cancelled the wait), its work is dropped
at the model's next batch or segment boundary (:func:`affectkit._cancel.checkpoint`), unless it
shares the call with requests that still wait.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from affectkit._cancel import Cancelled, cancellable

log = logging.getLogger(__name__)

__all__ = ["Batcher", "run_cancellable"]

T = TypeVar("T")


@dataclass
class _Item:
    texts: list[Any]
    key: Hashable
    cost: int
    future: asyncio.Future = field(repr=False)
    #: Set (from the event loop) once nobody waits for the outputs; read by the inference thread.
    gone: threading.Event = field(default_factory=threading.Event, repr=False)
    deadline: float | None = None


def text_cost(texts: Sequence[Any]) -> int:
    """The work of ``texts`` in characters (a text costs at least 1: every text is a model input)."""
    return sum(max(1, len(t)) if isinstance(t, str) else 1 for t in texts)


class _Lane:
    def __init__(self, name: str, executor: Executor, max_batch: int, max_cost: float):
        self.name, self.executor, self.max_batch, self.max_cost = name, executor, max_batch, max_cost
        self.queue: deque[_Item] = deque()
        self.wake = asyncio.Event()
        self.task: asyncio.Task | None = None


class Batcher:
    """Batch calls of ``fn(texts, key) -> list`` (one output per text) across requests.

    Items with different ``key`` (e.g. different requested aspects) are never mixed in one call.

    Parameters
    ----------
    fn:
        The model call, run in an inference thread.
    executor:
        The fast lane's inference thread.
    max_batch:
        Texts per model call.
    heavy_executor:
        The heavy lane's inference thread; ``None`` keeps one lane (every request in ``executor``).
    lane_cost:
        Characters of work that a request may cost to run in the fast lane, and that one model
        call of the fast lane may take (``inf``: no bound).
    """

    def __init__(self, fn: Callable[[list[Any], Hashable], Sequence[Any]], executor: Executor,
                 max_batch: int = 64, on_batch: Callable[[int], None] | None = None, *,
                 heavy_executor: Executor | None = None, lane_cost: float = float("inf"),
                 on_cancel: Callable[[int], None] | None = None):
        self.fn = fn
        self.executor = executor
        self.max_batch = max_batch
        self.on_batch = on_batch
        self.on_cancel = on_cancel
        self.lane_cost = lane_cost
        self.heavy_executor = heavy_executor
        self._lanes: dict[str, _Lane] = {}

    def start(self) -> None:
        self._lanes = {"fast": _Lane("fast", self.executor, self.max_batch, self.lane_cost)}
        if self.heavy_executor is not None:
            self._lanes["heavy"] = _Lane("heavy", self.heavy_executor, self.max_batch, 0)  # one request per call
        loop = asyncio.get_running_loop()
        for lane in self._lanes.values():
            lane.task = loop.create_task(self._run(lane))

    async def stop(self) -> None:
        for lane in self._lanes.values():
            if lane.task is not None:
                lane.task.cancel()
                try:
                    await lane.task
                except asyncio.CancelledError:
                    pass
                lane.task = None
            while lane.queue:
                item = lane.queue.popleft()
                if not item.future.done():
                    item.future.set_exception(RuntimeError("The service is shutting down."))
        self._lanes = {}

    def lane_of(self, cost: int) -> str:
        """The lane that a request of ``cost`` characters runs in."""
        return "heavy" if "heavy" in self._lanes and cost > self.lane_cost else "fast"

    async def submit(self, texts: list[Any], key: Hashable = None, *, cost: int | None = None,
                     deadline: float | None = None) -> list[Any]:
        """Queue ``texts`` and wait for their outputs (cancel-safe: a cancelled wait drops the work).

        ``cost`` (default: the texts' characters) picks the lane; ``deadline`` (a
        :func:`time.monotonic` time) drops the work once it passes.
        """
        if not texts:
            return []
        if not self._lanes:
            raise RuntimeError("The batcher is not started.")
        cost = text_cost(texts) if cost is None else cost
        lane = self._lanes[self.lane_of(cost)]
        future = asyncio.get_running_loop().create_future()
        item = _Item(list(texts), key, cost, future, deadline=deadline)
        future.add_done_callback(lambda _: item.gone.set())
        lane.queue.append(item)
        lane.wake.set()
        return await future

    def _take(self, lane: _Lane) -> list[_Item]:
        first = lane.queue.popleft()
        items, n, cost = [first], len(first.texts), first.cost
        rest: deque[_Item] = deque()
        while lane.queue:
            item = lane.queue.popleft()
            if (item.key == first.key and n + len(item.texts) <= lane.max_batch
                    and cost + item.cost <= lane.max_cost):
                items.append(item)
                n += len(item.texts)
                cost += item.cost
            else:
                rest.append(item)
        lane.queue = rest
        return [i for i in items if not i.future.done()]  # skip requests cancelled while queued

    def _call(self, items: list[_Item], texts: list[Any]) -> Sequence[Any]:
        deadlines = [i.deadline for i in items]
        deadline = max(deadlines) if None not in deadlines else None  # type: ignore[type-var]
        with cancellable(lambda: all(i.gone.is_set() for i in items), deadline):
            return self.fn(texts, items[0].key)

    async def _run(self, lane: _Lane) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await lane.wake.wait()
            lane.wake.clear()
            while lane.queue:
                items = self._take(lane)
                if not items:
                    continue
                texts = [t for i in items for t in i.texts]
                try:
                    outs = await loop.run_in_executor(lane.executor, self._call, items, texts)
                except Cancelled:
                    log.info("dropped a call of %d texts in the %s lane: nobody waits for it", len(texts), lane.name)
                    if self.on_cancel:
                        self.on_cancel(len(texts))
                    for i in items:
                        if not i.future.done():
                            i.future.set_exception(TimeoutError("The analysis passed its deadline."))
                    continue
                except Exception as exc:  # handed to every waiting request
                    log.exception("batch of %d texts failed", len(texts))
                    for i in items:
                        if not i.future.done():
                            i.future.set_exception(exc)
                    continue
                if self.on_batch:
                    self.on_batch(len(texts))
                k = 0
                for i in items:
                    part = list(outs[k : k + len(i.texts)])
                    k += len(i.texts)
                    if not i.future.done():
                        i.future.set_result(part)


async def run_cancellable(executor: Executor, fn: Callable[[], T], deadline: float | None = None) -> T:
    """Run ``fn()`` in ``executor``; when the wait is cancelled (or ``deadline`` passes), ``fn``
    stops at its next :func:`affectkit._cancel.checkpoint`."""
    gone = threading.Event()

    def call() -> T:
        with cancellable(gone.is_set, deadline):
            return fn()

    try:
        return await asyncio.get_running_loop().run_in_executor(executor, call)
    except asyncio.CancelledError:
        gone.set()
        raise
    except Cancelled:
        raise TimeoutError("The analysis passed its deadline.") from None

