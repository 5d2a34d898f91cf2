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


def test_a_heavy_request_runs_in_its_own_lane_and_short_ones_pass_it():
    heavy_started, release = threading.Event(), threading.Event()
    threads: dict[str, str] = {}

    def fn(texts, key):
        threads[texts[0][:5]] = threading.current_thread().name
        if texts[0].startswith("heavy"):
            heavy_started.set()
            assert release.wait(10)
        return [len(t) for t in texts]

    async def main():
        b = Batcher(fn, ThreadPoolExecutor(1, thread_name_prefix="fast"), lane_cost=100,
                    heavy_executor=ThreadPoolExecutor(1, thread_name_prefix="heavy"))
        b.start()
        assert b.lane_of(100) == "fast" and b.lane_of(101) == "heavy"
        heavy = asyncio.ensure_future(b.submit(["heavy" + "x" * 200]))
        await asyncio.to_thread(heavy_started.wait, 10)
        short = await asyncio.wait_for(b.submit(["short"]), 5)  # answered while the heavy one still runs
        assert not heavy.done()
        release.set()
        long_out = await heavy
        await b.stop()
        return short, long_out

    short, long_out = _run(main())
    assert short == [5] and long_out == [205]
    assert threads["short"].startswith("fast") and threads["heavy"].startswith("heavy")


def test_fast_lane_calls_are_bounded_by_their_cost():
    sizes: list[int] = []
    gate = threading.Event()

    def fn(texts, key):
        gate.wait(5)
        sizes.append(sum(len(t) for t in texts))
        return texts

    async def main():
        b = Batcher(fn, ThreadPoolExecutor(1), max_batch=64, lane_cost=50)
        b.start()
        jobs = [asyncio.ensure_future(b.submit(["x" * 10])) for _ in range(20)]
        await asyncio.sleep(0.05)
        gate.set()
        await asyncio.gather(*jobs)
        await b.stop()

    _run(main())
    assert sum(sizes) == 200
    assert max(sizes) <= 50  # 5 requests of 10 characters per call at most


def test_work_nobody_waits_for_stops_at_the_next_batch_boundary():
    from affectkit._cancel import checkpoint

    done_batches: list[int] = []
    stopped = threading.Event()

    def fn(texts, key):
        if texts != ["long"]:
            return texts
        try:
            for k in range(200):  # a long model call: 200 batches of 20 ms
                checkpoint()
                time.sleep(0.02)
                done_batches.append(k)
        finally:
            stopped.set()
        return texts

    async def main():
        b = Batcher(fn, ThreadPoolExecutor(1))
        b.start()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(b.submit(["long"]), 0.2)  # the client stops waiting
        assert await asyncio.to_thread(stopped.wait, 5)
        after = await b.submit(["next"])  # the lane is free again
        await b.stop()
        return after

    assert _run(main()) == ["next"]
    assert 0 < len(done_batches) < 50  # stopped long before its 200 batches


def test_work_past_its_deadline_stops_even_when_the_caller_still_waits():
    from affectkit._cancel import checkpoint

    def fn(texts, key):
        for _ in range(500):
            checkpoint()
            time.sleep(0.01)
        return texts

    async def main():
        b = Batcher(fn, ThreadPoolExecutor(1))
        b.start()
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            await b.submit(["x"], deadline=t0 + 0.1)
        await b.stop()

    _run(main())


def test_cancellable_scope_is_per_thread_and_restored():
    from affectkit._cancel import Cancelled, cancellable, checkpoint

    checkpoint()  # outside a scope: never raises
    with cancellable(lambda: True):
        with pytest.raises(Cancelled):
            checkpoint()
        seen = []
        t = threading.Thread(target=lambda: seen.append(checkpoint()))  # another thread: no scope
        t.start()
        t.join()
        assert seen == [None]
    checkpoint()
