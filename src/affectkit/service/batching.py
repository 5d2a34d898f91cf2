"""Dynamic batching of concurrent requests onto one inference thread.

Concurrent requests are queued; one worker takes everything queued (up to ``max_batch``
texts), runs the model once on the whole batch in a single inference thread, and hands
each request its slice. Under load, batches grow by themselves and throughput rises; alone,
a request runs at once with no added wait. Running every model call in one thread keeps
two cores from being oversubscribed by many threads each starting its own thread pool.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["Batcher"]


@dataclass
class _Item:
    texts: list[Any]
    key: Hashable
    future: asyncio.Future = field(repr=False)


class Batcher:
    """Batch calls of ``fn(texts, key) -> list`` (one output per text) across requests.

    Items with different ``key`` (e.g. different requested aspects) are never mixed in one call.
    """

    def __init__(self, fn: Callable[[list[Any], Hashable], Sequence[Any]], executor: ThreadPoolExecutor,
                 max_batch: int = 64, on_batch: Callable[[int], None] | None = None):
        self.fn = fn
        self.executor = executor
        self.max_batch = max_batch
        self.on_batch = on_batch
        self._queue: deque[_Item] = deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        while self._queue:
            item = self._queue.popleft()
            if not item.future.done():
                item.future.set_exception(RuntimeError("The service is shutting down."))

    async def submit(self, texts: list[Any], key: Hashable = None) -> list[Any]:
        """Queue ``texts`` and wait for their outputs (cancel-safe)."""
        if not texts:
            return []
        if self._task is None or self._wake is None:
            raise RuntimeError("The batcher is not started.")
        future = asyncio.get_running_loop().create_future()
        self._queue.append(_Item(list(texts), key, future))
        self._wake.set()
        return await future

    def _take(self) -> list[_Item]:
        first = self._queue.popleft()
        items, n = [first], len(first.texts)
        rest: deque[_Item] = deque()
        while self._queue:
            item = self._queue.popleft()
            if item.key == first.key and n + len(item.texts) <= self.max_batch:
                items.append(item)
                n += len(item.texts)
            else:
                rest.append(item)
        rest.extend(self._queue)
        self._queue = rest
        return [i for i in items if not i.future.done()]  # skip requests cancelled while queued

    async def _run(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                items = self._take()
                if not items:
                    continue
                texts = [t for i in items for t in i.texts]
                try:
                    outs = await loop.run_in_executor(self.executor, self.fn, texts, items[0].key)
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
