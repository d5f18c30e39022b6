"""Live request log ("tap"): every finished request/flow is offered to current subscribers.

Subscribers get a bounded queue; when a slow reader's queue is full, events are dropped for it (and counted)
rather than slowing the proxy down.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

__all__ = ["TapHub"]


class TapHub:
    def __init__(self, queue_size: int = 1000):
        self.queue_size = queue_size
        self._subscribers: list[tuple[asyncio.Queue[dict[str, Any]], Callable[[dict[str, Any]], bool]]] = []
        self.dropped = 0

    @property
    def active(self) -> bool:
        return bool(self._subscribers)

    def publish(self, event: dict[str, Any]) -> None:
        for queue, accept in self._subscribers:
            if not accept(event):
                continue
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self.dropped += 1

    async def subscribe(
        self, accept: Callable[[dict[str, Any]], bool] = lambda e: True
    ) -> AsyncIterator[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self.queue_size)
        entry = (queue, accept)
        self._subscribers.append(entry)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers.remove(entry)
