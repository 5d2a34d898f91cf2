"""Dynamic batching: concurrent requests share model calls, each gets its own outputs in order."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from affectkit.service.batching import Batcher


def _run(coro):
    return asyncio.run(coro)


def test_concurrent_requests_are_batched_and_sliced_in_order():
    calls: list[tuple[list, object]] = []

    def fn(texts, key):
        calls.append((list(texts), key))
        time.sleep(0.05)  # while one batch runs, the next requests queue up
        return [t.upper() for t in texts]

    async def main():
        b = Batcher(fn, ThreadPoolExecutor(1), max_batch=64)
        b.start()
        outs = await asyncio.gather(*(b.submit([f"a{i}", f"b{i}"]) for i in range(20)))
        await b.stop()
        return outs

    outs = _run(main())
    assert outs == [[f"A{i}", f"B{i}"] for i in range(20)]
    assert sum(len(t) for t, _ in calls) == 40
    assert len(calls) < 20  # requests shared calls
    assert max(len(t) for t, _ in calls) <= 64


def test_keys_are_never_mixed_and_max_batch_holds():
    seen: list[tuple[int, object]] = []
    lock = threading.Lock()

    def fn(texts, key):
        with lock:
            seen.append((len(texts), key))
        time.sleep(0.01)
        return [f"{key}:{t}" for t in texts]

    async def main():
        b = Batcher(fn, ThreadPoolExecutor(1), max_batch=4)
        b.start()
        jobs = [b.submit([str(i)], key=("k", i % 2)) for i in range(12)]
        outs = await asyncio.gather(*jobs)
        await b.stop()
        return outs

    outs = _run(main())
    assert outs == [[f"('k', {i % 2}):{i}"] for i in range(12)]
    assert all(n <= 4 for n, _ in seen)


def test_errors_reach_every_request_of_the_batch_and_the_batcher_goes_on():
    def fn(texts, key):
        if "bad" in texts:
            raise ValueError("boom")
        return texts

    async def main():
        b = Batcher(fn, ThreadPoolExecutor(1))
        b.start()
        with pytest.raises(ValueError, match="boom"):
            await b.submit(["bad"])
        ok = await b.submit(["good"])
        empty = await b.submit([])
        await b.stop()
        return ok, empty

    assert _run(main()) == (["good"], [])


def test_submit_before_start_is_an_error():
    async def main():
        await Batcher(lambda t, k: t, ThreadPoolExecutor(1)).submit(["x"])

    with pytest.raises(RuntimeError, match="not started"):
        _run(main())
