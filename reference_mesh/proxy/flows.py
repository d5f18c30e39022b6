"""Open inbound TCP connections and UDP flows, decided again whenever a snapshot is applied.

An HTTP connection is authorised request by request, so a new policy applies to the next request on a
keep-alive connection. A TCP connection or UDP flow is authorised once, when it opens; without a second look
a connection opened before its TrafficTarget was deleted would flow for as long as its peers keep it open.
So the inbound side registers every flow it lets through, and ``Proxy.apply`` hands each new snapshot's
authorizer to :meth:`FlowRegistry.revoke_denied`, which closes (aborts) the flows it now denies: they end
when the proxy applies the snapshot, so within the mesh's convergence time.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Literal

from reference_mesh.proxy.authz import Authorizer

__all__ = ["FlowRegistry", "OpenFlow"]

log = logging.getLogger(__name__)


@dataclass(eq=False)
class OpenFlow:
    """One inbound TCP connection or UDP flow: who (verified SPIFFE id) reaches which destination port."""

    protocol: Literal["tcp", "udp"]
    source: str
    port: int
    transport: asyncio.WriteTransport
    #: Why the flow was closed by a new snapshot (None while it is allowed).
    revoked: str | None = None


class FlowRegistry:
    """The inbound flows open now."""

    def __init__(self) -> None:
        self._open: set[OpenFlow] = set()

    def __len__(self) -> int:
        return len(self._open)

    def open(
        self, protocol: Literal["tcp", "udp"], source: str, port: int, transport: asyncio.WriteTransport
    ) -> OpenFlow:
        """Register a flow right after allowing it (before any await, so no snapshot can slip between)."""
        flow = OpenFlow(protocol, source, port, transport)
        self._open.add(flow)
        return flow

    def close(self, flow: OpenFlow) -> None:
        self._open.discard(flow)

    def revoke_denied(self, authorizer: Authorizer) -> list[OpenFlow]:
        """Abort every open flow ``authorizer`` denies; return them."""
        revoked = []
        for flow in list(self._open):
            decide = authorizer.tcp if flow.protocol == "tcp" else authorizer.udp
            decision = decide(flow.source, flow.port)
            if decision.allowed:
                continue
            flow.revoked = decision.reason
            flow.transport.abort()
            self._open.discard(flow)
            revoked.append(flow)
            log.info(
                "inbound %s %s from %s closed: %s", flow.protocol, flow.port, flow.source, decision.reason
            )
        return revoked
