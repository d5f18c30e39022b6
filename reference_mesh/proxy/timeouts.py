"""Cheap timeouts for the hot path: ``async with Deadline(seconds):`` cancels the current task if the block
runs longer and raises TimeoutError in its place (as ``asyncio.timeout`` does in 3.11, without a per-call task
as ``asyncio.wait_for`` makes on 3.10).

A deadline is almost never reached, yet every request sets one. So a task's deadlines share one loop timer,
re-armed only when it fires: while a keep-alive connection serves requests that each take milliseconds under
a 15 s deadline, the timer is touched about once per 15 s instead of twice per request.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

__all__ = ["Deadline"]


class _TaskTimer:
    """The deadlines active in one task (innermost last) and the one timer that watches them."""

    __slots__ = ("active", "handle", "loop", "task", "when")

    def __init__(self, task: asyncio.Task[object], loop: asyncio.AbstractEventLoop):
        self.task = task
        self.loop = loop
        self.active: list[Deadline] = []
        self.handle: asyncio.Handle | None = None
        self.when = 0.0  # loop time the timer fires at
        task.add_done_callback(self._task_done)

    def watch(self, deadline: Deadline) -> None:
        self.active.append(deadline)
        if self.handle is None or self.when > deadline.expires_at:
            self._arm(deadline.expires_at)

    def _arm(self, when: float) -> None:
        if self.handle is not None:
            self.handle.cancel()
        self.handle = self.loop.call_at(when, self._fire)
        self.when = when

    def _fire(self) -> None:
        self.handle = None
        if not self.active:
            return  # nothing to watch now: the next deadline arms the timer again
        now = self.loop.time()
        expired = [d for d in self.active if d.expires_at <= now]
        if expired:
            for d in expired:
                d.expired = True
            self.task.cancel()
        else:
            self._arm(min(d.expires_at for d in self.active))

    def _task_done(self, task: asyncio.Task[object]) -> None:
        _timers.pop(task, None)
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None


_timers: dict[asyncio.Task[object], _TaskTimer] = {}


class Deadline:
    """``async with Deadline(seconds):`` raises TimeoutError if the block runs longer; None or <= 0 = no
    limit. Deadlines nest."""

    __slots__ = ("_timer", "expired", "expires_at", "seconds")

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.expired = False
        self.expires_at = 0.0
        self._timer: _TaskTimer | None = None

    async def __aenter__(self) -> Deadline:
        if self.seconds is not None and self.seconds > 0:
            task = asyncio.current_task()
            if task is not None:
                timer = _timers.get(task)
                if timer is None:
                    timer = _timers[task] = _TaskTimer(task, task.get_loop())
                self.expires_at = timer.loop.time() + self.seconds
                timer.watch(self)
                self._timer = timer
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        timer = self._timer
        if timer is None:
            return
        active = timer.active
        if active and active[-1] is self:
            active.pop()
        else:
            active.remove(self)
        if self.expired and exc_type is asyncio.CancelledError:
            if hasattr(timer.task, "uncancel"):
                timer.task.uncancel()
            raise TimeoutError from exc
