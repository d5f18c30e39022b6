"""The proxy's end of the snapshot stream (see :mod:`.protocol`): connect, apply, acknowledge, reconnect.

Runs inside the sidecar process next to :class:`~reference_mesh.proxy.server.Proxy`. It dials the control
plane with the proxy's own mTLS client context (so certificate rotation applies to it too), checks that the
server presents the control plane's SPIFFE id, and applies every snapshot with ``Proxy.apply`` (atomic: a
refused snapshot leaves the previous one in force) before answering ack or nack. When the control plane goes
away the proxy keeps serving its last snapshot; the agent reconnects with capped exponential backoff and full
jitter (0.1 s doubling to 5 s), and on reconnect says which version it runs, so an unchanged snapshot is not
resent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time

from reference_mesh.control.protocol import (
    HEARTBEAT_S,
    ProtocolError,
    digest,
    read_message,
    write_message,
)
from reference_mesh.proxy.config import ProxyConfig
from reference_mesh.proxy.server import ConfigRejected, Proxy
from reference_mesh.proxy.tls import PeerIdentityError

__all__ = ["ControlPlaneAgent"]

log = logging.getLogger(__name__)


class ControlPlaneAgent:
    """Keeps ``proxy`` on the control plane's latest snapshot for Pod ``instance``. ``last_error`` is exposed
    by the proxy's admin ``/ready`` as ``source_error``."""

    def __init__(
        self,
        proxy: Proxy,
        instance: str,
        address: str,
        port: int,
        control_plane_id: str,
        *,
        heartbeat_s: float = HEARTBEAT_S,
        backoff_base_s: float = 0.1,
        backoff_max_s: float = 5.0,
        rng: random.Random | None = None,
    ):
        self.proxy, self.instance = proxy, instance
        self.address, self.port, self.control_plane_id = address, port, control_plane_id
        self.heartbeat_s, self.backoff_base_s, self.backoff_max_s = heartbeat_s, backoff_base_s, backoff_max_s
        self.rng = rng or random.Random()
        self.last_error: str | None = None
        self.connected = False
        self.connects = 0
        self._applied_digest: str | None = None
        self._stopping = asyncio.Event()
        self._writer: asyncio.StreamWriter | None = None

    async def run(self) -> None:
        """Forever: connect, follow, and on any failure wait (backoff) and connect again."""
        failures = 0
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                await self._session()
                self.last_error = "control plane closed the stream"
            except (
                ConnectionError,
                OSError,
                TimeoutError,
                asyncio.TimeoutError,
                ProtocolError,
                PeerIdentityError,
            ) as exc:
                self.last_error = f"control plane unreachable: {exc or type(exc).__name__}"
            finally:
                self.connected = False
            if time.monotonic() - started > 5 * self.heartbeat_s:
                failures = 0  # a session that lasted was a success; start backing off from scratch
            failures += 1
            delay = self.rng.uniform(0, min(self.backoff_max_s, self.backoff_base_s * 2 ** min(failures, 10)))
            log.info(
                "%s; reconnecting in %.2fs (serving version %s)", self.last_error, delay, self.proxy.version
            )
            with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def stop(self, task: asyncio.Task[None]) -> None:
        """End ``task`` (running :meth:`run`) between steps, so no connection is left half-open."""
        self._stopping.set()
        if self._writer is not None:
            self._writer.transport.abort()
        try:
            await asyncio.wait_for(asyncio.shield(task), 6.0)
        except (asyncio.TimeoutError, TimeoutError):
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _session(self) -> None:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                self.address,
                self.port,
                ssl=self.proxy.tls.client,
                server_hostname=None,
                limit=64 * 1024 * 1024,
            ),
            5.0,
        )
        self._writer = writer
        try:
            if self._stopping.is_set():
                return
            peer = self.proxy.tls.peer_identity(writer)
            if peer.uri != self.control_plane_id:
                raise PeerIdentityError(
                    f"server is {peer.uri}, expected the control plane {self.control_plane_id}"
                )
            await write_message(
                writer,
                {
                    "type": "hello",
                    "instance": self.instance,
                    "version": self.proxy.version,
                    "digest": self._applied_digest if self.proxy.ready else None,
                },
            )
            self.connects += 1
            self.connected = True
            self.last_error = None
            await self._follow(reader, writer)
        finally:
            self._writer = None
            writer.transport.abort()

    async def _follow(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pinger = asyncio.ensure_future(self._ping(writer))
        try:
            while True:
                message = await read_message(reader, 3 * self.heartbeat_s)
                if message is None:
                    return
                if message["type"] == "error":
                    raise ProtocolError(f"control plane refused us: {message.get('message')}")
                if message["type"] != "snapshot":
                    continue
                version = str(message.get("version"))
                try:
                    config = ProxyConfig.model_validate(message.get("config"))
                    await self.proxy.apply(config)
                except (ValueError, ConfigRejected) as exc:
                    await write_message(
                        writer, {"type": "nack", "version": version, "error": str(exc)[:2000]}
                    )
                    continue
                self._applied_digest = digest(config)
                await write_message(writer, {"type": "ack", "version": version})
        finally:
            pinger.cancel()
            await asyncio.gather(pinger, return_exceptions=True)  # never swallows our own cancellation

    async def _ping(self, writer: asyncio.StreamWriter) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            await write_message(writer, {"type": "ping"})
