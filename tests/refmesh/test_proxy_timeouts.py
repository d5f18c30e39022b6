"""Deadline: the per-request timeout whose timer is shared by a task's deadlines and re-armed lazily."""

from __future__ import annotations

import asyncio
import time

import pytest
import uvloop

from reference_mesh.proxy import timeouts
from reference_mesh.proxy.timeouts import Deadline


def run(coro: object) -> object:
    return uvloop.run(coro)  # type: ignore[arg-type]


def test_a_block_over_its_deadline_raises_timeout_error_and_the_task_goes_on() -> None:
    async def main() -> tuple[bool, float]:
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            async with Deadline(0.05):
                await asyncio.sleep(5)
        after = time.monotonic() - start
        await asyncio.sleep(0.01)  # not cancelled any more
        return True, after

    ok, took = run(main())  # type: ignore[misc]
    assert ok and took > 0.04  # the 5 s sleep raised: the deadline ended it, and not before its 50 ms


def test_many_deadlines_in_a_row_arm_the_timer_once() -> None:
    async def main() -> int:
        arms = 0
        real = timeouts._TaskTimer._arm

        def counting(self: timeouts._TaskTimer, when: float) -> None:
            nonlocal arms
            arms += 1
            real(self, when)

        timeouts._TaskTimer._arm = counting  # type: ignore[method-assign]
        try:
            for _ in range(200):  # like requests on a keep-alive connection, each well within its deadline
                async with Deadline(10.0):
                    await asyncio.sleep(0)
        finally:
            timeouts._TaskTimer._arm = real  # type: ignore[method-assign]
        return arms

    assert run(main()) == 1


def test_a_later_deadline_still_fires_after_the_first_timer_ran_out() -> None:
    async def main() -> float:
        async with Deadline(0.05):
            pass  # arms the timer for +50 ms and leaves
        await asyncio.sleep(0.03)
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            async with Deadline(0.1):  # expires after the first timer fired with nothing to watch
                await asyncio.sleep(5)
        return time.monotonic() - start

    assert run(main()) > 0.08  # type: ignore[operator]  # not on the first timer's schedule (+20 ms)


def test_nested_deadlines() -> None:
    async def main() -> list[str]:
        seen = []
        async with Deadline(5.0):
            with pytest.raises(TimeoutError):
                async with Deadline(0.03):  # inner expires first: only the inner block ends
                    await asyncio.sleep(5)
            seen.append("inner timed out")
            await asyncio.sleep(0.01)
            seen.append("outer still running")
        with pytest.raises(TimeoutError):
            async with Deadline(0.03), Deadline(5.0):  # the outer expires while the inner is active
                await asyncio.sleep(5)
        seen.append("outer timed out")
        return seen

    assert run(main()) == ["inner timed out", "outer still running", "outer timed out"]


def test_cancelling_the_task_is_not_turned_into_a_timeout() -> None:
    async def main() -> None:
        async def worker() -> None:
            async with Deadline(5.0):
                await asyncio.sleep(5)

        task = asyncio.ensure_future(worker())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task not in timeouts._timers  # a finished task leaves nothing behind

    run(main())


def test_no_deadline() -> None:
    async def main() -> None:
        for seconds in (None, 0, -1):
            async with Deadline(seconds):
                await asyncio.sleep(0.01)

    run(main())
