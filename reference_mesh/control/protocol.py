"""The snapshot stream between the control plane and a proxy: messages and framing (no sockets here).

One long-lived TLS 1.3 connection per proxy, opened by the proxy with its own workload certificate (mutual
TLS; both sides verify the other's SPIFFE id). Each message is one JSON object on one line (UTF-8,
``\\n``-terminated; JSON escapes newlines inside strings, so a line is always a whole message)::

    proxy -> control plane   {"type": "hello", "instance": "<pod name>", "version": "<applied>"|null,
                              "digest": "<sha256 of the applied snapshot without its version>"|null}
    control plane -> proxy   {"type": "snapshot", "version": "<v>", "config": {ProxyConfig}}
    proxy -> control plane   {"type": "ack", "version": "<v>"}
                             {"type": "nack", "version": "<v>", "error": "<why the proxy refused it>"}
    either way               {"type": "ping"}   (every HEARTBEAT_S when idle; 3x that of silence = dead peer)
    control plane -> proxy   {"type": "error", "message": "..."}, then close (unknown pod, wrong identity)

Rules: the control plane sends only the newest snapshot of the proxy's own Pod (the Pod's namespace and
service account must equal the identity in the proxy's certificate), never a delta; a proxy applies each
snapshot whole or not at all and acknowledges it. If the hello's digest equals the digest of the snapshot
the control plane would send, it adopts the proxy's version instead of pushing (a restarted control plane
causes no push storm).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from reference_mesh.proxy.config import ProxyConfig

__all__ = ["HEARTBEAT_S", "MAX_MESSAGE_BYTES", "ProtocolError", "digest", "read_message", "write_message"]

HEARTBEAT_S = 2.0
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
MESSAGE_TYPES = frozenset({"hello", "snapshot", "ack", "nack", "ping", "error"})


class ProtocolError(Exception):
    """The peer sent something that is not a message of this protocol."""


def digest(config: ProxyConfig) -> str:
    """sha256 of a snapshot's content, its version excluded."""
    body = config.model_copy(update={"version": "0"}).model_dump_json()
    return hashlib.sha256(body.encode()).hexdigest()


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except ValueError as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(message, dict) or message.get("type") not in MESSAGE_TYPES:
        raise ProtocolError(f"not a message: {line[:80]!r}")
    return message


async def read_message(reader: asyncio.StreamReader, timeout: float) -> dict[str, Any] | None:
    """The next message; None when the peer closed. TimeoutError after ``timeout`` s of silence."""
    line = await asyncio.wait_for(reader.readline(), timeout)
    if not line:
        return None
    if not line.endswith(b"\n"):
        return None  # connection closed mid-message
    return decode(line)


async def write_message(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    writer.write(encode(message))
    await writer.drain()
