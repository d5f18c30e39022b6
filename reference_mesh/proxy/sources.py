"""Where snapshots come from. The proxy follows one :class:`ConfigSource`; the control plane provides its own
(e.g. a push stream) by implementing the same one-method protocol."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol, runtime_checkable

from pydantic import ValidationError

from reference_mesh.proxy.config import ProxyConfig

__all__ = ["ConfigSource", "FileConfigSource", "QueueConfigSource", "StaticConfigSource"]

log = logging.getLogger(__name__)


@runtime_checkable
class ConfigSource(Protocol):
    """Yields complete snapshots, newest last. Ending (or raising) means the source went away: the proxy keeps
    serving with the last snapshot it applied. ``last_error`` describes the last snapshot the source
    refused."""

    last_error: str | None

    def updates(self) -> AsyncIterator[ProxyConfig]: ...


class StaticConfigSource:
    """One snapshot, once."""

    def __init__(self, config: ProxyConfig):
        self.config = config
        self.last_error: str | None = None

    async def updates(self) -> AsyncIterator[ProxyConfig]:
        yield self.config


class QueueConfigSource:
    """Snapshots put by in-process code (tests, an embedded control plane): ``source.put(config)``;
    ``source.close()`` ends the stream."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[ProxyConfig | None] = asyncio.Queue()
        self.last_error: str | None = None

    def put(self, config: ProxyConfig) -> None:
        self._queue.put_nowait(config)

    def close(self) -> None:
        self._queue.put_nowait(None)

    async def updates(self) -> AsyncIterator[ProxyConfig]:
        while (config := await self._queue.get()) is not None:
            yield config


class FileConfigSource:
    """A JSON snapshot file, re-read whenever its contents change (polled). Invalid contents are reported in
    ``last_error`` with their location and skipped; the proxy keeps the last good snapshot."""

    def __init__(self, path: Path, poll_interval: float = 0.5):
        self.path = path
        self.poll_interval = poll_interval
        self.last_error: str | None = None

    async def updates(self) -> AsyncIterator[ProxyConfig]:
        seen: bytes | None = None
        while True:
            try:
                data = self.path.read_bytes()
            except OSError as exc:
                data = None
                self.last_error = f"{self.path}: {exc.strerror}"
            if data is not None and data != seen:
                seen = data
                try:
                    config = ProxyConfig.model_validate_json(data)
                except ValidationError as exc:
                    self.last_error = f"{self.path}: {_describe(exc)}"
                    log.warning("ignoring invalid snapshot %s", self.last_error)
                else:
                    self.last_error = None
                    yield config
            await asyncio.sleep(self.poll_interval)


def _describe(exc: ValidationError) -> str:
    """pydantic errors as 'a.b.c: message; ...' (the location of each problem in the snapshot)."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors())
