"""Cheap timeouts for the hot path: a timer that cancels the current task (like ``asyncio.timeout`` in 3.11,
without a per-call task as ``asyncio.wait_for`` makes on 3.10)."""

from __future__ import annotations

import asyncio
from types import TracebackType

__all__ = ["Deadline"]


class Deadline:
    """``async with Deadline(seconds):`` raises TimeoutError if the block runs longer; None or <= 0 = no
    limit."""

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.expired = False
        self._handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[object] | None = None

    async def __aenter__(self) -> Deadline:
        if self.seconds is not None and self.seconds > 0:
            self._task = asyncio.current_task()
            self._handle = asyncio.get_running_loop().call_later(self.seconds, self._fire)
        return self

    def _fire(self) -> None:
        self.expired = True
        if self._task is not None:
            self._task.cancel()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._handle is not None:
            self._handle.cancel()
        if self.expired and exc_type is asyncio.CancelledError:
            if self._task is not None and hasattr(self._task, "uncancel"):
                self._task.uncancel()
            raise TimeoutError from exc
