"""The floor for a Python sidecar: a blind byte relay on the same event loop, sockets and mTLS as the proxy.

    python benchmarks/relay_floor.py --listen HOST:PORT --upstream HOST:PORT --credentials DIR (--tls-in |
    --tls-out)

Each accepted connection gets one upstream connection and bytes are copied both ways as they come: no HTTP
parsing, routing, authorization or telemetry. ``proxy_overhead.py`` runs a pair of these (plain -> mTLS ->
plain) beside the real sidecars, so what the sidecars cost above this floor is what their own work costs;
the floor itself is the event loop, the system calls, TLS and the process wake-ups.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import ssl
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class _Half(asyncio.BufferedProtocol):
    """One side of a relayed connection; ``peer`` is the other side. Reads go into its own buffer, as the
    sidecar's do (no allocation per TLS record)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: _Half | None = None
        self.pending: list[bytes] = []
        self.buffer = memoryview(bytearray(64 * 1024))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.buffer

    def buffer_updated(self, nbytes: int) -> None:
        data = bytes(self.buffer[:nbytes])
        peer = self.peer
        if peer is not None and peer.transport is not None:
            peer.transport.write(data)
        else:
            self.pending.append(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


async def run(args: argparse.Namespace) -> None:
    from reference_mesh.identity import load_credentials
    from reference_mesh.proxy.tls import MeshTls

    tls = MeshTls(load_credentials(args.credentials))
    loop = asyncio.get_running_loop()
    upstream = _address(args.upstream)
    client_ctx: ssl.SSLContext | None = tls.client if args.tls_out else None

    class Downstream(_Half):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            transport.pause_reading()  # type: ignore[attr-defined]
            self.connecting = loop.create_task(self._connect())

        async def _connect(self) -> None:
            up = _Half()
            up.peer = self
            await loop.create_connection(lambda: up, *upstream, ssl=client_ctx)
            self.peer = up
            for data in self.pending:
                up.transport.write(data)  # type: ignore[union-attr]
            self.pending.clear()
            self.transport.resume_reading()  # type: ignore[union-attr]

    server = await loop.create_server(
        Downstream, *_address(args.listen), ssl=tls.server if args.tls_in else None, backlog=1024
    )
    print(json.dumps({"pid": os.getpid()}), file=sys.stderr, flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    tls.close()


def main() -> None:
    import uvloop

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--listen", required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--credentials", required=True, type=Path)
    side = parser.add_mutually_exclusive_group(required=True)
    side.add_argument("--tls-in", action="store_true", help="accept mTLS, relay in plain (server side)")
    side.add_argument("--tls-out", action="store_true", help="accept plain, relay over mTLS (client side)")
    uvloop.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
