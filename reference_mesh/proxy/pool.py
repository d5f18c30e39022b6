"""Keep-alive connection pools to upstreams: peer proxies (mTLS, identity checked) or the local
application."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

from reference_mesh.proxy.config import Endpoint
from reference_mesh.proxy.http1 import MessageReader
from reference_mesh.proxy.timeouts import Deadline
from reference_mesh.proxy.tls import MeshTls, PeerIdentityError

__all__ = ["ConnectError", "ConnectionPool", "Upstream"]

#: Idle pooled connections older than this are not reused (the peer's idle timeout is longer).
IDLE_TTL_S = 30.0


class ConnectError(Exception):
    """Could not open a usable connection to an upstream (refused, timed out, TLS failed, wrong identity)."""


@dataclass(eq=False)
class Upstream:
    key: tuple[str, int, str | None]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    messages: MessageReader
    reused: bool = False
    idle_since: float = field(default_factory=time.monotonic)

    def usable(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof() and not self.messages.eof

    def close(self) -> None:
        self.writer.close()


class ConnectionPool:
    """Idle connections per (address, port, expected identity). ``tls=None`` for plaintext (the local app)."""

    def __init__(self, tls: MeshTls | None, *, max_idle: int = 64, max_header_bytes: int = 64 * 1024):
        self.tls = tls
        self.max_idle = max_idle
        self.max_header_bytes = max_header_bytes
        # keyed by the identity expected too: a connection verified for one identity never serves another
        self._idle: dict[tuple[str, int, str | None], deque[Upstream]] = {}
        self.opened = 0

    async def acquire(
        self, address: str, port: int, *, identity: str | None = None, connect_timeout: float = 1.0
    ) -> Upstream:
        key = (address, port, identity)
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.usable() and now - conn.idle_since < IDLE_TTL_S:
                conn.reused = True
                return conn
            conn.close()
        try:
            async with Deadline(connect_timeout):
                if self.tls is not None:
                    reader, writer = await asyncio.open_connection(address, port, ssl=self.tls.client)
                else:
                    reader, writer = await asyncio.open_connection(address, port)
        except (OSError, TimeoutError) as exc:
            raise ConnectError(f"connect to {address}:{port} failed: {exc or type(exc).__name__}") from exc
        if self.tls is not None:
            try:
                peer = self.tls.peer_identity(writer)
            except PeerIdentityError as exc:
                writer.close()
                raise ConnectError(str(exc)) from exc
            if identity is not None and peer.uri != identity:
                writer.close()
                raise ConnectError(f"{address}:{port} presented {peer}, expected {identity}")
        self.opened += 1
        return Upstream(
            key, reader, writer, MessageReader(reader, response=True, max_header_bytes=self.max_header_bytes)
        )

    async def acquire_endpoint(self, endpoint: Endpoint, connect_timeout_ms: int) -> Upstream:
        """A connection to a mesh endpoint whose peer proves the endpoint's identity."""
        return await self.acquire(
            endpoint.address,
            endpoint.port,
            identity=endpoint.identity,
            connect_timeout=connect_timeout_ms / 1000.0,
        )

    def release(self, conn: Upstream, reusable: bool) -> None:
        if not reusable or not conn.usable():
            conn.close()
            return
        idle = self._idle.setdefault(conn.key, deque())
        if len(idle) >= self.max_idle:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    def close(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
