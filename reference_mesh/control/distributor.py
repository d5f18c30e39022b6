"""The control plane's end of the snapshot stream (see :mod:`.protocol`): one mTLS connection per proxy.

:meth:`Distributor.update` takes freshly compiled (unversioned) snapshots; those whose content changed get the
store revision as their new version and are pushed to their proxy at once. Proxies acknowledge each version;
:meth:`Distributor.status` tells who is connected, on which version, and whether it is the latest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from reference_mesh.control.protocol import HEARTBEAT_S, ProtocolError, digest, read_message, write_message
from reference_mesh.control.resources import ObjectKey
from reference_mesh.identity import WorkloadCredentials
from reference_mesh.proxy.config import ProxyConfig
from reference_mesh.proxy.tls import MeshTls, PeerIdentityError

__all__ = ["Distributor", "ProxyStatus"]

log = logging.getLogger(__name__)


@dataclass
class ProxyStatus:
    """What the control plane knows of one proxy."""

    instance: str  #: "namespace/name" of its Pod
    desired: str | None = None  #: the latest version computed for it
    acked: str | None = None  #: the last version it applied
    nacked: str | None = None
    error: str | None = None  #: why it refused ``nacked``
    connected: bool = False
    identity: str | None = None
    cert_not_after: str | None = None
    connected_at: float | None = None
    last_seen: float | None = None
    #: version -> monotonic time it was sent, to measure push-to-ack latency
    sent: dict[str, float] = field(default_factory=dict)
    ack_latency_ms: float | None = None

    @property
    def up_to_date(self) -> bool:
        return self.desired is not None and self.acked == self.desired

    def to_json(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "desired": self.desired,
            "acked": self.acked,
            "nacked": self.nacked,
            "error": self.error,
            "connected": self.connected,
            "identity": self.identity,
            "cert_not_after": self.cert_not_after,
            "up_to_date": self.up_to_date,
            "last_seen_s_ago": None if self.last_seen is None else round(time.time() - self.last_seen, 3),
            "ack_latency_ms": self.ack_latency_ms,
        }


class Distributor:
    def __init__(
        self,
        credentials: WorkloadCredentials,
        address: str = "127.0.0.1",
        port: int = 0,
        heartbeat_s: float = HEARTBEAT_S,
    ):
        self.tls = MeshTls(credentials)
        self.address, self._port, self.heartbeat_s = address, port, heartbeat_s
        self.desired: dict[ObjectKey, ProxyConfig] = {}
        self._digests: dict[ObjectKey, str] = {}
        self.proxies: dict[ObjectKey, ProxyStatus] = {}
        self._wakeup: dict[ObjectKey, asyncio.Event] = {}
        self._connections: dict[ObjectKey, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: asyncio.AbstractServer | None = None

    # ------------------------------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve,
            self.address,
            self._port,
            ssl=self.tls.server,
            ssl_handshake_timeout=10.0,
            backlog=1024,
        )

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None
        for status in self.proxies.values():
            status.connected = False
        self.tls.close()

    # ------------------------------------------------------------------------------------------ desired state
    def update(self, configs: dict[ObjectKey, ProxyConfig], revision: int) -> list[ObjectKey]:
        """Adopt newly compiled snapshots (unversioned); returns the keys whose snapshot changed."""
        changed = []
        for key, config in configs.items():
            d = digest(config)
            if self._digests.get(key) == d:
                continue
            self._digests[key] = d
            self.desired[key] = config.model_copy(update={"version": str(revision)})
            changed.append(key)
            status = self.proxies.setdefault(key, ProxyStatus(f"{key.namespace}/{key.name}"))
            status.desired = str(revision)
            event = self._wakeup.get(key)
            if event is not None:
                event.set()
        for key in [k for k in self.desired if k not in configs]:  # the Pod is gone
            del self.desired[key], self._digests[key]
            self.proxies.pop(key, None)
            task = self._connections.get(key)
            if task is not None:
                task.cancel()
        return changed

    def status(self) -> list[ProxyStatus]:
        return [self.proxies[k] for k in sorted(self.proxies)]

    async def wait_synced(self, keys: list[ObjectKey] | None = None, timeout: float = 10.0) -> None:
        """Until every proxy (or those of ``keys``) has acknowledged its latest snapshot."""

        def done() -> bool:
            wanted = keys if keys is not None else list(self.desired)
            return all(k in self.proxies and self.proxies[k].up_to_date for k in wanted)

        deadline = time.monotonic() + timeout
        while not done():  # polled: acks, adoptions on reconnect and Pod deletions all change the answer
            if time.monotonic() > deadline:
                raise TimeoutError(f"proxies not on their latest snapshot after {timeout}s")
            await asyncio.sleep(0.005)

    # ------------------------------------------------------------------------------------------ connections
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        key: ObjectKey | None = None
        try:
            key = await self._handshake(reader, writer)
            if key is not None:
                previous = self._connections.get(key)
                if previous is not None and previous is not task:
                    previous.cancel()  # the proxy reconnected: the newer connection wins
                self._connections[key] = task
                await self._stream(key, reader, writer)
        except (ConnectionError, OSError, TimeoutError, asyncio.TimeoutError, ProtocolError) as exc:
            log.info("proxy connection %s ended: %s", key, exc)
        except asyncio.CancelledError:  # stopping, or replaced by a newer connection: end quietly (asyncio's
            pass  # stream callback would log a cancelled handler task as an error)
        finally:
            self._tasks.discard(task)
            if key is not None and self._connections.get(key) is task:
                del self._connections[key]
                if key in self.proxies:
                    self.proxies[key].connected = False
            writer.transport.abort()

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> ObjectKey | None:
        try:
            peer = self.tls.peer_identity(writer)
        except PeerIdentityError as exc:
            log.info("refusing proxy connection: %s", exc)
            return None
        hello = await read_message(reader, 3 * self.heartbeat_s)
        if hello is None or hello.get("type") != "hello" or not isinstance(hello.get("instance"), str):
            await write_message(writer, {"type": "error", "message": "expected hello"})
            return None
        key = ObjectKey("Pod", peer.namespace, hello["instance"])
        config = self.desired.get(key)
        if config is None:
            await write_message(
                writer, {"type": "error", "message": f"no instance {key.namespace}/{key.name}"}
            )
            return None
        if config.workload.service_account != peer.service_account:
            await write_message(
                writer,
                {
                    "type": "error",
                    "message": (
                        f"{peer} may not receive the configuration of {key.namespace}/{key.name}, "
                        f"which runs as service account {config.workload.service_account!r}"
                    ),
                },
            )
            log.warning("proxy %s asked for the snapshot of %s", peer, key)
            return None
        status = self.proxies.setdefault(key, ProxyStatus(f"{key.namespace}/{key.name}"))
        status.connected, status.identity = True, peer.uri
        status.connected_at = status.last_seen = time.time()
        sslobj = writer.get_extra_info("ssl_object")
        der = sslobj.getpeercert(binary_form=True) if sslobj is not None else None
        if der:
            from cryptography import x509

            status.cert_not_after = x509.load_der_x509_certificate(der).not_valid_after_utc.isoformat()
        version, applied_digest = hello.get("version"), hello.get("digest")
        if isinstance(version, str) and applied_digest == self._digests.get(key):
            # the proxy already runs this content (e.g. the control plane restarted): adopt its version
            self.desired[key] = config.model_copy(update={"version": version})
            status.desired = status.acked = version
        elif isinstance(version, str):
            status.acked = version
        return key

    async def _stream(
        self, key: ObjectKey, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        wakeup = self._wakeup.setdefault(key, asyncio.Event())
        wakeup.set()
        reading = asyncio.ensure_future(self._read_loop(key, reader))
        sent: str | None = None
        try:
            while not reading.done():
                with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                    await asyncio.wait_for(wakeup.wait(), self.heartbeat_s)
                if reading.done():
                    break
                config = self.desired.get(key)
                status = self.proxies.get(key)
                if config is None or status is None:
                    return  # the Pod was deleted
                if wakeup.is_set():
                    wakeup.clear()
                    if config.version != sent and config.version != status.acked:
                        status.sent[config.version] = time.monotonic()
                        await write_message(
                            writer,
                            {
                                "type": "snapshot",
                                "version": config.version,
                                "config": config.model_dump(mode="json"),
                            },
                        )
                        sent = config.version
                        continue
                await write_message(writer, {"type": "ping"})
        finally:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)  # never swallows our own cancellation

    async def _read_loop(self, key: ObjectKey, reader: asyncio.StreamReader) -> None:
        while True:
            message = await read_message(reader, 3 * self.heartbeat_s)
            if message is None:
                return
            status = self.proxies.get(key)
            if status is None:
                return
            status.last_seen = time.time()
            kind = message["type"]
            if kind == "ack":
                version = str(message.get("version"))
                status.acked, status.error = version, None
                sent = status.sent.pop(version, None)
                if sent is not None:
                    status.ack_latency_ms = round((time.monotonic() - sent) * 1000, 3)
                status.sent = {v: t for v, t in status.sent.items() if _newer(v, version)}
            elif kind == "nack":
                status.nacked, status.error = str(message.get("version")), str(message.get("error"))
                log.warning("proxy %s refused snapshot %s: %s", status.instance, status.nacked, status.error)


def _newer(a: str, b: str) -> bool:
    try:
        return int(a) > int(b)
    except ValueError:
        return a != b
