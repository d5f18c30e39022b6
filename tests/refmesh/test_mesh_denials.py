"""Policy denials are counted apart from the application's own answers (issue 14), on real sockets.

Traffic Metrics count a 403 as a success (only 5xx and errors fail), so a refused client reads as healthy
unless denials have their own count: the server's proxy marks the 403 it answers (``x-mesh-denied``), both
proxies count it as ``denied``, and an application can neither be counted as a denial nor pass the marker on.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from mesh_support import HTTP_PORT, TCP_OUT, LoopThread, Topology, tcp_exchange

from reference_mesh.proxy.config import AuthorizationPolicy, AuthorizationRule, HttpMatch, PortSet
from reference_mesh.proxy.forward import DENIED_HEADER
from reference_mesh.proxy.server import Proxy


@dataclass
class Counts:
    success: int = 0
    failure: int = 0
    denied: int = 0
    codes: Counter[str] = field(default_factory=Counter)

    def __sub__(self, before: Counts) -> Counts:
        codes = Counter(self.codes)
        codes.subtract(before.codes)
        return Counts(
            self.success - before.success, self.failure - before.failure, self.denied - before.denied, +codes
        )


def counts(direction: str, *proxies: Proxy) -> Counts:
    """Totals since start of the proxies' ``direction`` edges (outbound: as callers, inbound: as servers)."""
    out = Counts()
    for proxy in proxies:
        for edge, bucket in proxy.telemetry.totals.items():
            if edge.direction == direction:
                out.success += bucket.success
                out.failure += bucket.failure
                out.denied += bucket.denied
                out.codes.update(bucket.codes)
    return out


def _allow_web(topo: Topology, loop_thread: LoopThread) -> None:
    rule = AuthorizationRule(
        name="default/web-reads",
        sources=(topo.web.identity.uri,),
        http=(HttpMatch(methods=("GET",), path_regex="/(status|public)"),),
    )
    loop_thread.run(topo.configure(authorization=AuthorizationPolicy(rules=(rule,))))


def test_a_policy_403_is_a_denial_and_an_application_403_is_not(
    topo: Topology, loop_thread: LoopThread
) -> None:
    _allow_web(topo, loop_thread)
    web, intruder = topo.proxies[topo.web.name], topo.proxies[topo.intruder.name]
    servers = (topo.proxies[topo.v1.name], topo.proxies[topo.v2.name])
    before = (counts("outbound", web), counts("outbound", intruder), counts("inbound", *servers))

    async def scenario() -> list[tuple[int, str | None]]:
        out = []
        for client, target, times in [
            (topo.client(), "/status/403", 3),  # allowed: the application answers 403 itself
            (topo.client(), "/private", 2),  # no route allows it
            (topo.client(topo.intruder), "/public", 4),  # no policy allows the caller
        ]:
            for _ in range(times):
                r = await client.request("GET", target)
                out.append((r.status, r.headers.get(DENIED_HEADER)))
        return out

    answers = loop_thread.run(scenario())
    assert answers == [(403, None)] * 3 + [(403, "authorization")] * 6
    web_d, intruder_d = counts("outbound", web) - before[0], counts("outbound", intruder) - before[1]
    servers_d = counts("inbound", *servers) - before[2]
    # every 403 is a success, as in the Traffic Metrics API; denied tells the policy's apart
    assert web_d == Counts(success=5, failure=0, denied=2, codes=Counter({"403": 5}))
    assert intruder_d == Counts(success=4, failure=0, denied=4, codes=Counter({"403": 4}))
    assert servers_d == Counts(success=9, failure=0, denied=6, codes=Counter({"403": 9}))


def test_an_application_cannot_pass_its_403_off_as_a_denial(topo: Topology, loop_thread: LoopThread) -> None:
    _allow_web(topo, loop_thread)
    web = topo.proxies[topo.web.name]

    async def forging_app(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 403 Forbidden\r\nx-mesh-denied: authorization\r\nx-app: yes\r\n"
            b"content-length: 0\r\n\r\n"
        )
        await writer.drain()
        writer.close()

    async def scenario() -> tuple[int, dict[str, str]]:
        await topo.echoes[topo.v1.name].stop()
        server = await asyncio.start_server(forging_app, topo.v1.address, topo.v1.app_port(HTTP_PORT))
        try:
            r = await topo.client().request("GET", "/public", host="api-v1")
            return r.status, r.headers
        finally:
            server.close()
            await server.wait_closed()
            await topo.start_echo(topo.v1)

    before = counts("outbound", web)
    status, headers = loop_thread.run(scenario())
    assert status == 403 and headers.get("x-app") == "yes"  # the application's answer, relayed
    assert DENIED_HEADER not in headers  # but not its claim to be the mesh's denial
    assert counts("outbound", web) - before == Counts(success=1, denied=0, codes=Counter({"403": 1}))


def test_denied_tcp_flows_are_counted_by_the_server_side(topo: Topology, loop_thread: LoopThread) -> None:
    """A refused flow is closed before a byte is relayed: only the server's proxy knows it was a denial."""
    rule = AuthorizationRule(name="default/db", sources=(topo.web.identity.uri,), tcp=PortSet())
    loop_thread.run(topo.configure(authorization=AuthorizationPolicy(rules=(rule,))))
    servers = (topo.proxies[topo.v1.name], topo.proxies[topo.v2.name])
    intruder = topo.proxies[topo.intruder.name]
    before_in, before_out = counts("inbound", *servers), counts("outbound", intruder)
    assert loop_thread.run(tcp_exchange(topo.intruder.address, TCP_OUT, b"ping\n")) == b""
    assert loop_thread.run(tcp_exchange(topo.web.address, TCP_OUT, b"ping\n")).endswith(b"ping\n")
    for _ in range(100):  # the flows are recorded when both proxies have closed them (bounded: 5 s)
        if (counts("inbound", *servers) - before_in).codes.total() == 2:
            break
        loop_thread.run(asyncio.sleep(0.05))
    server_side = counts("inbound", *servers) - before_in
    assert server_side.denied == 1 and server_side.codes == Counter({"denied": 1, "tcp": 1})
    caller_side = counts("outbound", intruder) - before_out
    assert caller_side == Counts(failure=1, codes=Counter({"tcp": 1}))  # a flow closed on it, nothing more
