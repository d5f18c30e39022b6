"""Transparent interception: which listener or service a redirected connection was meant for.

On Kubernetes the pod's packet filter (``reference_mesh/kube/interception.py``) redirects connections to the
proxy's two interception ports; the kernel keeps where each was going, and ``SO_ORIGINAL_DST`` reads it back.
This module is the pure part (the lookup tables compiled from a snapshot) plus that one socket option; the
listeners in :mod:`reference_mesh.proxy.server` use it when :attr:`ProxyConfig.interception` is set.

* Inbound, the original port selects the :class:`InboundListener` (HTTP, TCP or UDP-over-TLS). A port the
  snapshot does not declare is served as TCP to the same port of the application: the connection is still
  mTLS and authorized (a TCP rule must cover the port), never let through unchecked.
* Outbound, the original ``address:port`` is a service port when the address is one of the service's
  :attr:`OutboundService.addresses` (a cluster IP) and the port has meshed endpoints (or the service is
  split), or when it is one of its endpoints (a pod addressed directly, e.g. through a headless Service:
  routed as that service). Anything else (the Kubernetes API, DNS over TCP, a service no meshed pod serves)
  is relayed untouched to where it was going.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import dataclass

from reference_mesh.proxy.config import InboundListener, ProtocolName, ProxyConfig

__all__ = [
    "SO_ORIGINAL_DST",
    "OutboundDestination",
    "TransparentTable",
    "original_destination",
    "relay_plain",
]

#: linux/netfilter_ipv4.h: the destination a connection had before NAT (REDIRECT) rewrote it.
SO_ORIGINAL_DST = 80
_SOCKADDR_IN = struct.Struct("!2xH4s8x")


def parse_sockaddr_in(raw: bytes) -> tuple[str, int]:
    """A ``struct sockaddr_in`` as returned by ``getsockopt(SOL_IP, SO_ORIGINAL_DST)`` -> (address, port)."""
    port, address = _SOCKADDR_IN.unpack(raw[: _SOCKADDR_IN.size])
    return socket.inet_ntoa(address), port


def original_destination(transport: asyncio.BaseTransport) -> tuple[str, int] | None:
    """Where a redirected connection was going; None when the kernel has no such record (the connection was
    not redirected) or the socket is not IPv4."""
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family != socket.AF_INET:
        return None
    try:
        return parse_sockaddr_in(sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, _SOCKADDR_IN.size))
    except OSError:
        return None


@dataclass(frozen=True)
class OutboundDestination:
    """A service port the application meant to reach."""

    service: str  #: service key ``name.namespace``
    port: int
    protocol: ProtocolName


class TransparentTable:
    """Lookups compiled once per snapshot."""

    def __init__(self, config: ProxyConfig):
        self.listeners = {ln.port: ln for ln in config.inbound.listeners}
        self.pod_address = config.workload.address
        services: dict[tuple[str, int], OutboundDestination] = {}
        endpoints: dict[tuple[str, int], OutboundDestination] = {}
        for key in sorted(config.outbound.services):
            svc = config.outbound.services[key]
            for port in svc.ports:
                destination = OutboundDestination(key, port.port, port.protocol)
                if port.endpoints or svc.split is not None:  # else: not the mesh's (no meshed pod serves it)
                    for address in svc.addresses:
                        services[(address, port.port)] = destination
                for ep in port.endpoints:  # the first service (by key) owning an endpoint names it
                    endpoints.setdefault((ep.address, ep.port), destination)
        self.services, self.endpoints = services, endpoints

    def inbound(self, port: int) -> InboundListener:
        """The listener for a connection that was going to ``port`` of this pod."""
        listener = self.listeners.get(port)
        if listener is not None:
            return listener
        return InboundListener(port=port, protocol="tcp", app_port=port, app_address=self.pod_address)

    def outbound(self, address: str, port: int) -> OutboundDestination | None:
        """The service port behind ``address:port``; None: not the mesh's, relay it as it is."""
        return self.services.get((address, port)) or self.endpoints.get((address, port))


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(64 * 1024):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    finally:
        if not writer.can_write_eof():
            writer.close()


async def relay_plain(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address: str, port: int, timeout_s: float
) -> bool:
    """Relay a connection as it is to ``address:port`` (half-close kept); whether it ended cleanly."""
    try:
        up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout_s)
    except (OSError, TimeoutError, asyncio.TimeoutError):
        writer.transport.abort()
        return False
    results = await asyncio.gather(_copy(reader, up_writer), _copy(up_reader, writer), return_exceptions=True)
    for w in (writer, up_writer):
        w.close()
        with contextlib.suppress(Exception):
            await w.wait_closed()
    return not any(isinstance(r, BaseException) for r in results)
