"""End to end on loopback: access control over HTTP/TCP/UDP, identity only from certificates, refused
certificates, malformed and slow clients, and a real-socket sample of the authorization property test."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import tempfile
import time
from pathlib import Path

from authz_oracle import header_lists, oracle_allows, paths, policy_strategy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loopback import OUTBOUND_HTTP_PORT
from mesh_support import (
    HTTP_PORT,
    TCP_OUT,
    TCP_PORT,
    UDP_OUT,
    HttpClient,
    LoopThread,
    Topology,
    UdpFlow,
    read_to_end,
    tap_first,
    tcp_exchange,
    udp_exchange,
)

from reference_mesh.identity import CertificateAuthority, WorkloadCredentials
from reference_mesh.proxy.config import AuthorizationPolicy, AuthorizationRule, HttpMatch, PortSet
from reference_mesh.proxy.server import Proxy


def test_http_access_control(topo: Topology, loop_thread: LoopThread) -> None:
    rule = AuthorizationRule(
        name="default/web-reads",
        sources=(topo.web.identity.uri,),
        http=(HttpMatch(methods=("GET",), path_regex="/public"),),
    )
    loop_thread.run(topo.configure(authorization=AuthorizationPolicy(rules=(rule,))))

    async def scenario() -> list[tuple[int, str]]:
        out = []
        for client, method, target in [
            (topo.client(), "GET", "/public/x"),
            (topo.client(), "POST", "/public/x"),
            (topo.client(), "GET", "/private"),
            (topo.client(topo.intruder), "GET", "/public/x"),
            (topo.client(), "GET", "/public/../private"),
        ]:
            r = await client.request(method, target, body=b"x" if method == "POST" else b"")
            out.append((r.status, r.headers.get("x-mesh-error", "")))
        return out

    results = loop_thread.run(scenario())
    assert [s for s, _ in results] == [200, 403, 403, 403, 403]
    assert "forbidden" in results[1][1] and "no route allows POST /public/x" in results[1][1]
    assert "no policy allows spiffe://cluster.local/ns/default/sa/intruder" in results[3][1]
    assert "GET /private" in results[4][1]  # dot segments are resolved before matching


def test_tcp_access_control(topo: Topology, loop_thread: LoopThread) -> None:
    rule = AuthorizationRule(
        name="default/db", sources=(topo.web.identity.uri,), tcp=PortSet(ports=(TCP_PORT,))
    )
    loop_thread.run(topo.configure(authorization=AuthorizationPolicy(rules=(rule,))))
    allowed = loop_thread.run(tcp_exchange(topo.web.address, TCP_OUT, b"ping\n"))
    assert allowed.startswith(b"service=api version=v") and allowed.endswith(b"ping\n")
    denied = loop_thread.run(tcp_exchange(topo.intruder.address, TCP_OUT, b"ping\n"))
    assert denied == b""  # closed, nothing relayed
    rule = AuthorizationRule(name="default/db", sources=(topo.web.identity.uri,), tcp=PortSet(ports=(1,)))
    loop_thread.run(topo.configure(authorization=AuthorizationPolicy(rules=(rule,))))
    assert loop_thread.run(tcp_exchange(topo.web.address, TCP_OUT, b"ping\n")) == b""


def test_udp_access_control(topo: Topology, loop_thread: LoopThread) -> None:
    rule = AuthorizationRule(name="default/dns", sources=(topo.web.identity.uri,), udp=PortSet())
    loop_thread.run(topo.configure(authorization=AuthorizationPolicy(rules=(rule,))))
    reply = loop_thread.run(udp_exchange(topo.web.address, UDP_OUT, b"hello"))
    assert reply is not None and reply.startswith(b"service=api") and reply.endswith(b"\nhello")
    assert loop_thread.run(udp_exchange(topo.intruder.address, UDP_OUT, b"hello", timeout=1.0)) is None


def test_identity_headers_from_clients_are_ignored(topo: Topology, loop_thread: LoopThread) -> None:
    forged = [
        ("x-mesh-client-id", "spiffe://cluster.local/ns/default/sa/admin"),
        ("l5d-client-id", "admin.default.serviceaccount.identity.linkerd.cluster.local"),
        ("x-forwarded-client-cert", "By=spiffe://x;URI=spiffe://cluster.local/ns/default/sa/admin"),
    ]
    seen = loop_thread.run(topo.client().request("GET", "/", headers=forged)).json()["headers"]
    assert seen["x-mesh-client-id"] == topo.web.identity.uri
    assert "l5d-client-id" not in seen and "x-forwarded-client-cert" not in seen
    # and a forged header does not get an unlisted caller in
    rule = AuthorizationRule(
        name="default/admin-only",
        sources=("spiffe://cluster.local/ns/default/sa/admin",),
        http=(HttpMatch(),),
    )
    loop_thread.run(topo.configure(authorization=AuthorizationPolicy(rules=(rule,))))
    assert loop_thread.run(topo.client().request("GET", "/", headers=forged)).status == 403


async def _tls_request(
    address: str, port: int, creds: WorkloadCredentials | None, bundle_pem: bytes
) -> bytes:
    """Speak to an inbound listener directly with ``creds`` (or none); what comes back before the close."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(cadata=bundle_pem.decode())
    if creds is not None:
        with tempfile.TemporaryDirectory() as d:
            cert, key = Path(d, "c.pem"), Path(d, "k.pem")
            cert.write_bytes(creds.certificate_pem())
            key.write_bytes(creds.private_key_pem())
            ctx.load_cert_chain(cert, key)
    try:
        reader, writer = await asyncio.open_connection(address, port, ssl=ctx)
    except (ssl.SSLError, ConnectionError, OSError) as exc:
        return f"refused: {type(exc).__name__}".encode()
    try:
        writer.write(b"GET / HTTP/1.1\r\nhost: api\r\n\r\n")
        await writer.drain()
        return await asyncio.wait_for(reader.read(65536), 5)
    except (ssl.SSLError, ConnectionError, OSError) as exc:
        return f"refused: {type(exc).__name__}".encode()
    finally:
        writer.close()


def test_expired_foreign_and_missing_certificates_are_refused(
    topo: Topology, loop_thread: LoopThread
) -> None:
    bundle = topo.mesh.ca.bundle.pem()
    web_id = topo.web.identity
    good = topo.mesh.ca.issue(web_id)
    expired = topo.mesh.ca.issue(
        web_id, ttl=dt.timedelta(minutes=1), now=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
    )
    foreign = CertificateAuthority.create("cluster.local").issue(web_id)
    target = (topo.v1.address, HTTP_PORT)
    assert loop_thread.run(_tls_request(*target, good, bundle)).startswith(b"HTTP/1.1 200")
    for creds in (expired, foreign, None):
        answer = loop_thread.run(_tls_request(*target, creds, bundle))
        assert not answer.startswith(b"HTTP"), answer
    # plaintext to an inbound port gets nothing either
    plain = loop_thread.run(tcp_exchange(topo.v1.address, HTTP_PORT, b"GET / HTTP/1.1\r\nhost: api\r\n\r\n"))
    assert not plain.startswith(b"HTTP")


def test_client_proxy_with_foreign_ca_and_impostor_servers_get_502(
    topo: Topology, loop_thread: LoopThread
) -> None:
    async def scenario() -> tuple[int, int]:
        rogue = Proxy(CertificateAuthority.create("cluster.local").issue(topo.web.identity))
        await rogue.start()
        try:
            base = topo.snapshot(topo.web, tcp={}, udp={})
            config = base.model_copy(
                update={"workload": base.workload.model_copy(update={"address": topo.intruder.address})}
            )
            await topo.proxies[topo.intruder.name].stop()
            await rogue.apply(config)
            r1 = await HttpClient(topo.intruder.address, OUTBOUND_HTTP_PORT).request("GET", "/")
        finally:
            await rogue.stop()
            topo.proxies[topo.intruder.name] = fresh = Proxy(topo.intruder.credentials)
            await fresh.start()
            await fresh.apply(topo.snapshot(topo.intruder))
        # a server presenting the wrong identity: the web proxy expects api-v2 at v1's address
        snap = topo.snapshot(topo.web)
        svc = snap.outbound.services["api-v1.default"]
        port = svc.ports[0]
        wrong = port.endpoints[0].model_copy(update={"identity": topo.v2.identity.uri})
        svc = svc.model_copy(
            update={"ports": (port.model_copy(update={"endpoints": (wrong,)}), *svc.ports[1:])}
        )
        snap = snap.model_copy(
            update={
                "outbound": snap.outbound.model_copy(
                    update={"services": {**snap.outbound.services, "api-v1.default": svc}}
                )
            }
        )
        await topo.proxies[topo.web.name].apply(snap)
        r2 = await topo.client().request("GET", "/", host="api-v1")
        assert r2.status == 502, (r2.status, r2.body)
        assert "expected spiffe://cluster.local/ns/default/sa/api-v2" in r2.headers["x-mesh-error"]
        return r1.status, r2.status

    assert loop_thread.run(scenario()) == (502, 502)


def test_malformed_http_gets_400_and_the_proxy_keeps_serving(topo: Topology, loop_thread: LoopThread) -> None:
    answer = loop_thread.run(tcp_exchange(topo.web.address, OUTBOUND_HTTP_PORT, b"NOT HTTP AT ALL\r\n\r\n"))
    assert answer.startswith(b"HTTP/1.1 400")
    huge = b"GET / HTTP/1.1\r\nhost: api\r\nx-big: " + b"a" * 100_000 + b"\r\n\r\n"
    assert loop_thread.run(tcp_exchange(topo.web.address, OUTBOUND_HTTP_PORT, huge)).startswith(
        b"HTTP/1.1 431"
    )
    assert loop_thread.run(topo.client().request("GET", "/")).status == 200


def test_slow_client_headers_are_bounded(topo: Topology, loop_thread: LoopThread) -> None:
    snap = topo.snapshot(topo.web, settings={"header_timeout_ms": 300})
    loop_thread.run(topo.proxies[topo.web.name].apply(snap))

    async def slowloris() -> tuple[bool, float]:
        """(cut off while still sending headers, seconds until then)."""
        reader, writer = await asyncio.open_connection(topo.web.address, OUTBOUND_HTTP_PORT)
        start = time.monotonic()
        closed = asyncio.ensure_future(reader.read())  # whatever the proxy answers, until it closes
        writer.write(b"GET / HTTP/1.1\r\n")
        cut = False
        try:
            # one header byte every 100 ms, for at most 200 bytes: 20 s, 66 header timeouts, if never cut off
            for _ in range(200):
                await asyncio.wait([closed], timeout=0.1)
                if closed.done():
                    cut = True
                    break
                writer.write(b"x")
                await writer.drain()
        except (ConnectionError, OSError):
            cut = True
        finally:
            took = time.monotonic() - start
            writer.close()
            if not closed.done():
                closed.cancel()
            await asyncio.gather(closed, return_exceptions=True)
        return cut, took

    cut, took = loop_thread.run(slowloris())
    assert cut and took >= 0.3  # cut off mid-headers, and not before the configured 300 ms
    assert loop_thread.run(topo.client().request("GET", "/")).status == 200


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_real_socket_sample_matches_the_oracle(
    topology: Topology, loop_thread: LoopThread, data: st.DataObject
) -> None:
    """The property test of test_proxy_authz.py, through real proxies: 25 policies x 4 requests (HTTP and
    TCP)."""
    ids = [
        topology.web.identity.uri,
        topology.intruder.identity.uri,
        "spiffe://cluster.local/ns/default/sa/other",
    ]
    policy = data.draw(policy_strategy(ids, [HTTP_PORT, TCP_PORT, 1234]))
    loop_thread.run(topology.configure(authorization=policy))
    for _ in range(4):
        caller = data.draw(st.sampled_from([topology.web, topology.intruder]))
        kind = data.draw(st.sampled_from(["http", "http", "tcp"]))
        if kind == "tcp":
            got = loop_thread.run(tcp_exchange(caller.address, TCP_OUT, b"x")) != b""
            expected = oracle_allows(policy, "tcp", caller.identity.uri, TCP_PORT, "", "", [])
        else:
            method = data.draw(st.sampled_from(["GET", "POST", "DELETE"]))
            path = data.draw(paths)
            headers = data.draw(header_lists.filter(lambda h: all(k.lower() != "host" for k, _ in h)))
            r = loop_thread.run(
                HttpClient(caller.address, OUTBOUND_HTTP_PORT).request(method, path, headers=headers)
            )
            assert r.status in (200, 403), (r.status, r.body)
            got = r.status == 200
            expected = oracle_allows(policy, "http", caller.identity.uri, HTTP_PORT, method, path, headers)
        assert got == expected, (kind, caller.name, policy)
    loop_thread.run(HttpClient.close_all())


def test_permissive_mode_lets_traffic_through_and_reports_it(topo: Topology, loop_thread: LoopThread) -> None:
    loop_thread.run(topo.configure(authorization=AuthorizationPolicy(permissive=True)))

    request = topo.client(topo.intruder).request("GET", "/", host="api-v1")
    response, event = loop_thread.run(tap_first(topo.proxies[topo.v1.name], "direction=inbound", request))
    assert response.status == 200
    assert event["would_deny"] is True and "would deny" in event["authz"]
    assert event["source"] == topo.intruder.identity.uri


def test_open_tcp_and_udp_flows_a_new_snapshot_denies_are_closed(
    topo: Topology, loop_thread: LoopThread
) -> None:
    """A TCP connection and a UDP flow opened while allowed are closed when the server's proxy applies a
    snapshot that denies them (event-based: ``apply`` returning is the event; nothing is relayed after it);
    a new snapshot that still allows them leaves them open."""

    def l4(name: str) -> AuthorizationPolicy:
        rule = AuthorizationRule(name=name, sources=(topo.web.identity.uri,), tcp=PortSet(), udp=PortSet())
        return AuthorizationPolicy(rules=(rule,))

    loop_thread.run(topo.configure(authorization=l4("default/l4")))

    async def scenario() -> tuple[bytes, bytes, bytes | None]:
        reader, writer = await asyncio.open_connection(topo.web.address, TCP_OUT)
        udp = await UdpFlow.open(topo.web.address, UDP_OUT)
        try:
            greeting = await asyncio.wait_for(reader.readline(), 5)
            writer.write(b"one\n")
            assert await asyncio.wait_for(reader.readline(), 5) == b"one\n"
            assert await udp.exchange(b"one") is not None
            await topo.configure(authorization=l4("default/renamed"))  # still allowed: both stay open
            writer.write(b"two\n")
            assert await asyncio.wait_for(reader.readline(), 5) == b"two\n"
            assert await udp.exchange(b"two") is not None
            await topo.configure(authorization=AuthorizationPolicy())  # denied: both end
            writer.write(b"three\n")
            return greeting, await read_to_end(reader), await udp.exchange(b"three", timeout=1.0)
        finally:
            writer.close()
            udp.close()

    greeting, rest, late = loop_thread.run(scenario())
    assert greeting.startswith(b"service=api")
    assert rest == b"" and late is None
    assert sum(len(p.flows) for p in topo.proxies.values()) == 0
