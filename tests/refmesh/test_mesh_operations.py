"""End to end: the admin endpoint (ready, config, telemetry, metrics, tap), config sources, apply failures,
certificate rotation without dropped connections."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import ssl
import time
from pathlib import Path

import pytest
from loopback import OUTBOUND_HTTP_PORT
from mesh_support import HTTP_PORT, HttpClient, LoopThread, Topology, tap_first

from reference_mesh.identity import load_credentials, write_credentials
from reference_mesh.proxy import pool
from reference_mesh.proxy.config import CircuitBreaker, HttpMatch, Resilience, RoutePolicy
from reference_mesh.proxy.server import ConfigRejected, Proxy
from reference_mesh.proxy.sources import FileConfigSource, QueueConfigSource
from reference_mesh.proxy.telemetry import sum_window


async def admin_get(proxy: Proxy, path: str) -> tuple[int, bytes]:
    port = proxy.admin_port
    assert port is not None
    r = await HttpClient("127.0.0.1", port).request("GET", path, host="admin")
    return r.status, r.body


def test_admin_ready_config_and_metrics(topo: Topology, loop_thread: LoopThread) -> None:
    proxy = topo.proxies[topo.web.name]
    status, body = loop_thread.run(admin_get(proxy, "/ready"))
    ready = json.loads(body)
    assert status == 200 and ready["ready"] and ready["version"] == proxy.version
    assert ready["identity"] == topo.web.identity.uri and ready["certificate"]["not_after"]
    status, body = loop_thread.run(admin_get(proxy, "/config"))
    assert status == 200 and json.loads(body)["version"] == proxy.version
    assert loop_thread.run(admin_get(proxy, "/healthz")) == (200, b"ok\n")
    assert loop_thread.run(admin_get(proxy, "/nope"))[0] == 404
    loop_thread.run(topo.client().request("GET", "/status/503"))
    status, body = loop_thread.run(admin_get(proxy, "/metrics"))
    text = body.decode()
    assert status == 200 and "# TYPE mesh_requests_total counter" in text
    assert 'code="503"' in text and "mesh_response_latency_ms_bucket" in text


def test_telemetry_counts_are_exact_for_a_window(topo: Topology, loop_thread: LoopThread) -> None:
    async def scenario() -> tuple[dict, dict, dict]:  # type: ignore[type-arg]
        since = int(time.time()) + 1  # a fresh second: nothing from earlier tests in the window
        while time.time() < since:  # (timers may wake a little early)
            await asyncio.sleep(since - time.time() + 0.001)
        client = topo.client()
        started = time.monotonic()
        for i in range(37):
            await client.request("GET", "/status/500" if i % 10 == 0 else "/")
        took.append(time.monotonic() - started)
        web = json.loads((await admin_get(topo.proxies[topo.web.name], f"/telemetry?since={since}"))[1])
        v1 = json.loads((await admin_get(topo.proxies[topo.v1.name], f"/telemetry?since={since}"))[1])
        v2 = json.loads((await admin_get(topo.proxies[topo.v2.name], f"/telemetry?since={since}"))[1])
        return web, v1, v2

    took: list[float] = []
    web, v1, v2 = loop_thread.run(scenario())
    out = [
        e
        for e in web["edges"]
        if e["edge"]["direction"] == "outbound" and e["edge"]["service"] == "api.default"
    ]
    total = sum_window(out)
    assert (total.success, total.failure) == (33, 4), (total.codes, [e["edge"] for e in out])
    assert total.codes == {"200": 33, "500": 4}
    p99 = total.latency.quantile(0.99)
    # in milliseconds, and no request took longer than all 37 together (+2.2%: the histogram's resolution)
    assert p99 is not None and 0 < p99 <= took[0] * 1000 * 1.022
    inbound = sum_window([e for t in (v1, v2) for e in t["edges"] if e["edge"]["direction"] == "inbound"])
    assert inbound.success + inbound.failure == 37  # the server side saw exactly the same requests
    assert {e["edge"]["source_identity"] for t in (v1, v2) for e in t["edges"]} == {topo.web.identity.uri}
    assert web["histogram"]["growth"] > 1 and web["workload"]["instance"] == topo.web.name


def test_telemetry_per_route(topo: Topology, loop_thread: LoopThread) -> None:
    topo.mesh.resilience["api"] = Resilience(
        routes=(RoutePolicy(match=HttpMatch(name="get-items", path_regex="/items")),)
    )
    loop_thread.run(topo.configure())

    async def scenario() -> dict:  # type: ignore[type-arg]
        client = topo.client()
        for target in ("/items/1", "/items/2", "/other"):
            await client.request("GET", target)
        return json.loads((await admin_get(topo.proxies[topo.web.name], "/telemetry"))[1])  # type: ignore[no-any-return]

    edges = [e for e in loop_thread.run(scenario())["edges"] if e["edge"]["service"] == "api.default"]
    by_route = {r: sum_window([e for e in edges if e["edge"]["route"] == r]) for r in ("get-items", "")}
    assert by_route["get-items"].success == 2 and by_route[""].success >= 1


@pytest.mark.parametrize("max_idle", [1, None])
def test_idle_connections_per_endpoint_follow_the_service_setting(
    topo: Topology, loop_thread: LoopThread, max_idle: int | None
) -> None:
    if max_idle is not None:
        breaker = CircuitBreaker(max_idle_connections_per_endpoint=max_idle)
        topo.mesh.resilience["api-v1"] = Resilience(circuit_breaker=breaker)
    loop_thread.run(topo.configure())
    proxy, concurrent = topo.proxies[topo.web.name], 6

    async def scenario() -> list[int]:
        clients = [topo.client() for _ in range(concurrent)]  # overlapping: each needs its own upstream
        replies = await asyncio.gather(*(c.request("GET", "/?delay=150", host="api-v1") for c in clients))
        return [r.status for r in replies]

    assert loop_thread.run(scenario()) == [200] * concurrent
    kept = proxy.pool.idle_count(topo.v1.address, HTTP_PORT, topo.v1.identity.uri)
    assert kept == (max_idle if max_idle is not None else concurrent)


def test_connections_idle_too_long_are_closed_not_kept(
    topo: Topology, loop_thread: LoopThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool reuses its newest idle connection, so the oldest would stay open forever behind it."""
    monkeypatch.setattr(pool, "IDLE_TTL_S", 1.0)
    loop_thread.run(topo.configure())
    proxy = topo.proxies[topo.web.name]

    async def scenario() -> int:
        clients = [topo.client() for _ in range(5)]
        await asyncio.gather(*(c.request("GET", "/?delay=100", host="api-v1") for c in clients))
        for _ in range(2):  # one connection stays in use; the other four age past the TTL
            await asyncio.sleep(0.6)
            assert (await clients[0].request("GET", "/", host="api-v1")).status == 200
        return proxy.pool.idle_count(topo.v1.address, HTTP_PORT, topo.v1.identity.uri)

    assert loop_thread.run(scenario()) == 1


def test_tap_streams_requests_live(topo: Topology, loop_thread: LoopThread) -> None:
    request = topo.client().request("GET", "/tapped")
    _, event = loop_thread.run(tap_first(topo.proxies[topo.web.name], "direction=outbound", request))
    assert event["path"] == "/tapped" and event["status"] == 200 and event["service"] == "api.default"
    assert event["source"] == topo.web.identity.uri


def test_rejected_snapshots_change_nothing(topo: Topology, loop_thread: LoopThread) -> None:
    proxy = topo.proxies[topo.web.name]
    before = proxy.version
    blocker = socket.socket()
    blocker.bind((topo.web.address, 0))
    blocker.listen()
    busy = blocker.getsockname()[1]
    try:
        snap = topo.snapshot(topo.web, tcp={busy: ("api", 9000)})
        with pytest.raises(ConfigRejected, match=f"cannot listen on {topo.web.address}:{busy}"):
            loop_thread.run(proxy.apply(snap))
    finally:
        blocker.close()
    assert proxy.version == before and proxy.last_error is not None
    wrong = topo.snapshot(topo.v1)
    with pytest.raises(ConfigRejected, match="this proxy holds"):
        loop_thread.run(proxy.apply(wrong))
    assert loop_thread.run(topo.client().request("GET", "/")).status == 200


def test_file_source_invalid_and_vanished_snapshots_keep_the_last_good(
    topo: Topology, loop_thread: LoopThread, tmp_path: Path
) -> None:
    proxy = topo.proxies[topo.web.name]
    path = tmp_path / "web.json"
    snap = topo.snapshot(topo.web)
    path.write_text(snap.model_dump_json())
    source = FileConfigSource(path, poll_interval=0.05)

    async def scenario() -> tuple[str | None, str | None, int]:
        task = proxy.follow(source)
        for _ in range(100):
            if proxy.version == snap.version:
                break
            await asyncio.sleep(0.02)
        path.write_text('{"version": "99", "workload": {"namespace": "Bad!"}}')
        await asyncio.sleep(0.3)
        error = source.last_error
        path.unlink()
        await asyncio.sleep(0.2)
        status = (await topo.client().request("GET", "/")).status
        task.cancel()
        return proxy.version, error, status

    version, error, status = loop_thread.run(scenario())
    assert version == snap.version and status == 200
    assert error is not None and "workload.service_account: Field required" in error


def test_queue_source_going_away_keeps_serving(topo: Topology, loop_thread: LoopThread) -> None:
    proxy = topo.proxies[topo.web.name]
    source = QueueConfigSource()

    async def scenario() -> int:
        task = proxy.follow(source)
        snap = topo.snapshot(topo.web)
        source.put(snap)
        source.close()
        await task
        assert proxy.version == snap.version
        return (await topo.client().request("GET", "/")).status

    assert loop_thread.run(scenario()) == 200


def _peer_serial(address: str, port: int, creds_dir: Path, bundle: bytes) -> int:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(cadata=bundle.decode())
    creds = load_credentials(creds_dir)
    (creds_dir / "client.pem").write_bytes(creds.certificate_pem() + creds.private_key_pem())
    ctx.load_cert_chain(creds_dir / "client.pem")
    with socket.create_connection((address, port)) as raw, ctx.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
    from cryptography import x509

    return x509.load_der_x509_certificate(der).serial_number


def test_certificate_rotation_keeps_connections(
    topo: Topology, loop_thread: LoopThread, tmp_path: Path
) -> None:
    """v1's sidecar reads its credentials from a directory; rotating them changes what new handshakes present
    while the web proxy's pooled connection to v1 keeps working."""
    creds_dir = tmp_path / "v1"
    write_credentials(creds_dir, topo.mesh.ca.issue(topo.v1.identity, ttl=dt.timedelta(minutes=5)))
    web_dir = tmp_path / "web"
    write_credentials(web_dir, topo.mesh.ca.issue(topo.web.identity))
    bundle = topo.mesh.ca.bundle.pem()

    async def replace_v1() -> Proxy:
        await topo.proxies[topo.v1.name].stop()
        proxy = Proxy(creds_dir, credentials_poll_s=0.05)
        await proxy.start()
        await proxy.apply(topo.snapshot(topo.v1))
        topo.proxies[topo.v1.name] = proxy
        return proxy

    proxy = loop_thread.run(replace_v1())
    first_serial = _peer_serial(topo.v1.address, HTTP_PORT, web_dir, bundle)
    client = HttpClient(topo.web.address, OUTBOUND_HTTP_PORT)
    assert loop_thread.run(client.request("GET", "/", host="api-v1")).status == 200
    opened = topo.proxies[topo.web.name].pool.opened
    write_credentials(creds_dir, topo.mesh.ca.issue(topo.v1.identity, ttl=dt.timedelta(minutes=5)))

    async def wait_rotated() -> None:
        for _ in range(100):
            if proxy.tls.credentials.certificate.serial_number != first_serial:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("credentials were not reloaded")

    loop_thread.run(wait_rotated())
    assert loop_thread.run(client.request("GET", "/", host="api-v1")).status == 200
    assert topo.proxies[topo.web.name].pool.opened == opened  # the pooled mTLS connection survived
    assert client.connects == 1
    assert (
        _peer_serial(topo.v1.address, HTTP_PORT, web_dir, bundle) != first_serial
    )  # new handshakes: new cert
