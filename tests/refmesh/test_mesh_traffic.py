"""End to end on loopback, real sockets and mTLS: splits, config swaps under load, streaming, resilience."""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections import Counter
from fractions import Fraction
from typing import Any

from loopback import OUTBOUND_HTTP_PORT
from mesh_support import (
    HTTP_PORT,
    TCP_OUT,
    UDP_OUT,
    HttpClient,
    LoopThread,
    Topology,
    binomial_floor,
    tcp_exchange,
    udp_exchange,
)

from reference_mesh.proxy.config import (
    CircuitBreaker,
    FaultInjection,
    HttpMatch,
    LoadBalancing,
    OutlierDetection,
    Resilience,
    RetryPolicy,
    RoutePolicy,
    SplitBackend,
    TrafficSplitConfig,
)


def split(v1: object, v2: object, algorithm: str = "weighted_random", **kw: object) -> TrafficSplitConfig:
    return TrafficSplitConfig.model_validate(
        {
            "name": "default/api-split",
            "algorithm": algorithm,
            "backends": [
                {"service": "api-v1.default", "weight": v1},
                {"service": "api-v2.default", "weight": v2},
            ],
            **kw,
        }
    )


async def versions(client: HttpClient, n: int, **kw: object) -> Counter[str]:
    counts: Counter[str] = Counter()
    for _ in range(n):
        r = await client.request("GET", "/", **kw)  # type: ignore[arg-type]
        assert r.status == 200, (r.status, r.body)
        counts[r.json()["version"]] += 1
    return counts


def test_weighted_random_split_ratio(topo: Topology, loop_thread: LoopThread) -> None:
    """n = 2000 requests, P(v2) = 3/4 (weights 1 : 3). sd = sqrt(n p (1-p)) = 19.4; the test allows 5 sd (97
    requests), so a correct proxy fails it by chance with probability 5.7e-7 (two-sided normal tail)."""
    topo.mesh.splits["api"] = split(1, 3)
    loop_thread.run(topo.configure())
    n, p = 2000, 0.75
    counts = loop_thread.run(versions(topo.client(), n))
    assert abs(counts["v2"] - n * p) <= 5 * math.sqrt(n * p * (1 - p)), counts


def test_smooth_round_robin_split_is_exact_and_quantities_keep_ratio(
    topo: Topology, loop_thread: LoopThread
) -> None:
    topo.mesh.splits["api"] = split(
        Fraction(1), Fraction(1, 2), "smooth_round_robin"
    )  # v1alpha1 "1" : "500m"
    loop_thread.run(topo.configure())
    assert loop_thread.run(versions(topo.client(), 300)) == {"v1": 200, "v2": 100}


def test_zero_weight_gets_nothing_and_all_zero_is_503(topo: Topology, loop_thread: LoopThread) -> None:
    topo.mesh.splits["api"] = split(0, 5)
    loop_thread.run(topo.configure())
    assert loop_thread.run(versions(topo.client(), 200)) == {"v2": 200}
    topo.mesh.splits["api"] = split(0, 0)
    loop_thread.run(topo.configure())
    r = loop_thread.run(topo.client().request("GET", "/"))
    assert r.status == 503 and "weight is zero" in r.headers["x-mesh-error"]


def test_split_matches_only_route_matching_requests(topo: Topology, loop_thread: LoopThread) -> None:
    topo.mesh.splits["api-v1"] = TrafficSplitConfig(
        name="default/canary",
        backends=(SplitBackend(service="api-v2.default", weight=1),),
        matches=(HttpMatch(headers={"x-canary": "true"}),),
    )
    loop_thread.run(topo.configure())
    client = topo.client()
    assert loop_thread.run(versions(client, 20, host="api-v1", headers=[("X-Canary", "true")])) == {"v2": 20}
    assert loop_thread.run(versions(client, 20, host="api-v1")) == {"v1": 20}


def test_keep_alive_connection_survives_config_swap(topo: Topology, loop_thread: LoopThread) -> None:
    topo.mesh.splits["api"] = split(1, 0)
    loop_thread.run(topo.configure())
    client = topo.client()

    async def scenario() -> tuple[str, str]:
        first = (await client.request("GET", "/")).json()["version"]
        topo.mesh.splits["api"] = split(0, 1)
        await topo.configure()
        second = (await client.request("GET", "/")).json()["version"]
        return first, second

    assert loop_thread.run(scenario()) == ("v1", "v2")
    assert client.connects == 1  # the same client connection carried both requests


def test_hundred_weight_updates_under_load_fail_no_request(topo: Topology, loop_thread: LoopThread) -> None:
    async def scenario() -> tuple[Counter[int], int]:
        statuses: Counter[int] = Counter()
        stop = asyncio.Event()

        async def load(client: HttpClient) -> None:
            while not stop.is_set():
                statuses[(await client.request("GET", "/")).status] += 1

        async def updates() -> None:
            for i in range(100):
                topo.mesh.splits["api"] = split(i % 7, (i * 3) % 5 + 1)  # never all zero
                await topo.proxies[topo.web.name].apply(topo.snapshot(topo.web))
                await asyncio.sleep(0.01)
            stop.set()

        clients = [topo.client() for _ in range(8)]
        await asyncio.gather(updates(), *(load(c) for c in clients))
        return statuses, sum(c.connects for c in clients)

    statuses, connects = loop_thread.run(scenario())
    assert set(statuses) == {200}, statuses
    assert statuses[200] > 200
    assert connects == 8  # no client connection was dropped


def test_large_bodies_stream_without_buffering(topo: Topology, loop_thread: LoopThread) -> None:
    """The sink application proves streaming: it acknowledges the first MiB of an upload while the client
    holds back the rest, and the client acknowledges the first MiB of a download while the sink holds back the
    rest. A proxy that buffered whole bodies would deadlock both and the test would time out."""
    mesh = topo.mesh
    sink = mesh.add("sink-0", "sink", ["sink"])
    got_upload_start, got_download_start = asyncio.Event(), asyncio.Event()
    total = 32 * 1024 * 1024

    async def sink_app(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if head.startswith(b"POST"):
            received = 0
            while received < total:
                received += len(await reader.read(65536))
                if received >= 1 << 20:
                    got_upload_start.set()
            body = str(received).encode()
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
        else:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % total)
            writer.write(b"y" * (2 << 20))
            await writer.drain()
            await asyncio.wait_for(got_download_start.wait(), 10)
            for _ in range((total - (2 << 20)) // (1 << 20)):
                writer.write(b"y" * (1 << 20))
                await writer.drain()
        await writer.drain()
        writer.close()

    async def scenario() -> tuple[bytes, int]:
        from reference_mesh.proxy.server import Proxy

        app = await asyncio.start_server(sink_app, sink.address, sink.app_port(HTTP_PORT))
        proxy = Proxy(sink.credentials)
        await proxy.start()
        topo.proxies[sink.name] = proxy
        try:
            await proxy.apply(
                topo.snapshot(sink, authorization=__import__("mesh_support").allow_all_http(topo.web))
            )
            await topo.proxies[topo.web.name].apply(topo.snapshot(topo.web))
            reader, writer = await asyncio.open_connection(topo.web.address, OUTBOUND_HTTP_PORT)
            writer.write(b"POST /upload HTTP/1.1\r\nhost: sink\r\ncontent-length: %d\r\n\r\n" % total)
            writer.write(b"x" * (4 << 20))
            await writer.drain()
            await asyncio.wait_for(got_upload_start.wait(), 10)  # first bytes arrived, the last are not sent
            for _ in range((total - (4 << 20)) // (1 << 20)):
                writer.write(b"x" * (1 << 20))
                await writer.drain()
            upload_reply = await reader.readuntil(b"\r\n\r\n")
            upload_reply += await reader.readexactly(len(str(total)))
            writer.write(b"GET /download HTTP/1.1\r\nhost: sink\r\n\r\n")
            await writer.drain()
            await reader.readuntil(b"\r\n\r\n")
            received = 0
            while received < total:
                received += len(await asyncio.wait_for(reader.read(1 << 16), 10))
                if received >= 1 << 20:
                    got_download_start.set()
            writer.close()
            return upload_reply, received
        finally:
            app.close()
            await proxy.stop()
            del topo.proxies[sink.name]
            mesh.instances.remove(sink)

    upload_reply, downloaded = loop_thread.run(scenario(), timeout=60)
    assert upload_reply.startswith(b"HTTP/1.1 200") and upload_reply.endswith(str(total).encode())
    assert downloaded == total


def test_backend_crash_mid_response_is_not_passed_off_as_complete(
    topo: Topology, loop_thread: LoopThread
) -> None:
    async def scenario() -> tuple[str, int]:
        client = topo.client()
        try:
            await client.request("GET", "/truncate", host="api-v1")
            outcome = "complete"
        except Exception as exc:  # h11 sees the connection end early
            outcome = type(exc).__name__
        after = await topo.client().request("GET", "/", host="api-v1")
        return outcome, after.status

    outcome, status_after = loop_thread.run(scenario())
    assert outcome != "complete"
    assert status_after == 200


def _stop_echo(topo: Topology, name: str, loop_thread: LoopThread) -> None:
    loop_thread.run(topo.echoes[name].stop())


def _restart_echo(topo: Topology, name: str, loop_thread: LoopThread) -> None:
    loop_thread.run(topo.start_echo(topo.v1 if name == topo.v1.name else topo.v2))


def test_retries_hide_a_dead_instance_for_idempotent_requests_only(
    topo: Topology, loop_thread: LoopThread
) -> None:
    topo.mesh.resilience["api"] = Resilience(
        load_balancing=LoadBalancing(algorithm="round_robin"),
        outlier_detection=OutlierDetection(enabled=False),
    )
    loop_thread.run(topo.configure())
    _stop_echo(topo, topo.v2.name, loop_thread)
    try:

        async def scenario() -> tuple[Counter[int], Counter[int]]:
            client = topo.client()
            gets = Counter([(await client.request("GET", "/")).status for _ in range(20)])
            posts = Counter([(await client.request("POST", "/", body=b"x")).status for _ in range(20)])
            return gets, posts

        gets, posts = loop_thread.run(scenario())
        assert gets == {200: 20}
        assert posts[502] > 0 and posts[200] > 0  # POST is not idempotent: not retried
    finally:
        _restart_echo(topo, topo.v2.name, loop_thread)


def test_outlier_ejection_stops_sending_to_a_failing_instance(
    topo: Topology, loop_thread: LoopThread
) -> None:
    topo.mesh.resilience["api"] = Resilience(
        load_balancing=LoadBalancing(algorithm="round_robin"),
        retries=RetryPolicy(max_retries=0),
        outlier_detection=OutlierDetection(consecutive_failures=3, base_ejection_ms=30_000),
    )
    loop_thread.run(topo.configure())
    _stop_echo(topo, topo.v2.name, loop_thread)
    try:

        async def scenario() -> Counter[int]:
            client = topo.client()
            return Counter([(await client.request("GET", "/")).status for _ in range(40)])

        statuses = loop_thread.run(scenario())
        assert statuses == {502: 3, 200: 37}
    finally:
        _restart_echo(topo, topo.v2.name, loop_thread)


def _timed_out_within(status: int, took: float, headers: dict[str, str], budget_ms: int) -> bool:
    """A 504 that names the budget that ended it: the client's sidecar says "timed out after N ms" (N is the
    budget it applied), the server's "within the caller's deadline (M ms)" (M is what was left of it when the
    request reached it, so at most the budget). Event-based, not timed: a loaded machine can make a request
    take longer, never make a timer fire early (the server's budget is rounded down to the millisecond)."""
    reason = headers.get("x-mesh-error", "")
    ours = re.search(r"timed out after (\d+) ms", reason)
    theirs = re.search(r"caller's deadline \((\d+) ms\)", reason)
    named = int(ours.group(1)) == budget_ms if ours else bool(theirs) and int(theirs.group(1)) <= budget_ms
    return status == 504 and named and took >= (budget_ms - 1) / 1000


def test_timeouts_route_overrides_and_deadline_propagation(topo: Topology, loop_thread: LoopThread) -> None:
    topo.mesh.resilience["api"] = Resilience(
        timeout_ms=400, routes=(RoutePolicy(match=HttpMatch(path_regex="/fast"), timeout_ms=100),)
    )
    loop_thread.run(topo.configure())

    async def timed(target: str, headers: list[tuple[str, str]] | None = None) -> tuple[int, float, dict]:
        start = time.monotonic()
        r = await topo.client().request("GET", target, headers=headers)
        return r.status, time.monotonic() - start, (r.json() if r.status == 200 else r.headers)

    # the app would answer after 2 s: every 504 below is the mesh's, and names the budget that ended it
    status, took, headers = loop_thread.run(timed("/slow?delay=2000"))
    assert _timed_out_within(status, took, headers, 400), (status, took, headers)
    status, took, headers = loop_thread.run(timed("/fast?delay=2000"))
    assert _timed_out_within(status, took, headers, 100), (status, took, headers)  # the route's own
    status, took, headers = loop_thread.run(timed("/slow?delay=2000", [("x-mesh-timeout-ms", "150")]))
    assert _timed_out_within(status, took, headers, 150), (status, took, headers)  # the caller's budget wins
    status, _, seen = loop_thread.run(timed("/ok", [("x-mesh-timeout-ms", "300")]))
    assert status == 200 and 0 < int(seen["headers"]["x-mesh-timeout-ms"]) <= 300  # passed on to the app
    # a caller's looser budget never loosens the mesh's own: the app sees one value, what is left of 400 ms
    status, took, headers = loop_thread.run(timed("/slow?delay=2000", [("x-mesh-timeout-ms", "60000")]))
    assert _timed_out_within(status, took, headers, 400), (status, took, headers)
    status, _, seen = loop_thread.run(timed("/ok", [("x-mesh-timeout-ms", "60000")]))
    assert status == 200 and 0 < int(seen["headers"]["x-mesh-timeout-ms"]) <= 400, seen["headers"]


def test_fault_injection(topo: Topology, loop_thread: LoopThread) -> None:
    topo.mesh.resilience["api"] = Resilience(fault=FaultInjection(abort_percent=100, abort_status=418))
    loop_thread.run(topo.configure())
    r = loop_thread.run(topo.client().request("GET", "/"))
    assert r.status == 418 and "fault injected" in r.headers["x-mesh-error"]
    topo.mesh.resilience["api"] = Resilience(fault=FaultInjection(delay_percent=100, delay_ms=150))
    loop_thread.run(topo.configure())
    start = time.monotonic()
    assert loop_thread.run(topo.client().request("GET", "/")).status == 200
    assert time.monotonic() - start >= 0.15


def test_circuit_breaker_limits_concurrent_requests(topo: Topology, loop_thread: LoopThread) -> None:
    topo.mesh.resilience["api"] = Resilience(circuit_breaker=CircuitBreaker(max_requests=2))
    loop_thread.run(topo.configure())

    async def scenario() -> list[tuple[int, str]]:
        responses = await asyncio.gather(*(topo.client().request("GET", "/?delay=300") for _ in range(5)))
        return [(r.status, r.headers.get("x-mesh-error", "")) for r in responses]

    results = loop_thread.run(scenario())
    assert sorted(s for s, _ in results) == [200, 200, 503, 503, 503]
    assert all("circuit breaker" in e for s, e in results if s == 503)


def test_round_robin_spreads_over_instances(topo: Topology, loop_thread: LoopThread) -> None:
    topo.mesh.resilience["api"] = Resilience(load_balancing=LoadBalancing(algorithm="round_robin"))
    loop_thread.run(topo.configure())
    assert loop_thread.run(versions(topo.client(), 40)) == {"v1": 20, "v2": 20}


def test_sequential_requests_give_two_equal_endpoints_a_fair_share(
    topo: Topology, loop_thread: LoopThread
) -> None:
    """Issue 11: one client sending one request at a time to a two-instance service (the default balancer,
    peak-EWMA) got 0 of 414 requests on one instance. The bound: each request lands on a given instance
    through both independent draws landing on it with probability 1/4 whatever the latency estimates, so each
    instance's count stochastically dominates Binomial(400, 1/4); its exact 5e-7 quantile is 60, so a correct
    balancer fails this test with probability at most 1e-6 (two instances, union bound). Measured: 100 to 197
    of 400 on the lesser instance over 20 runs (0 in 16 of 20 runs before the fix)."""
    n = 400
    counts = loop_thread.run(versions(topo.client(), n))
    floor = binomial_floor(n, 0.25, 0.5e-6)
    assert floor == 60 and min(counts["v1"], counts["v2"]) >= floor, counts


def test_a_connection_handshake_is_not_counted_as_endpoint_latency(
    topo: Topology, loop_thread: LoopThread
) -> None:
    """A new connection's set-up (TCP and the TLS handshake) is paid once per connection, not per request:
    it stays out of the endpoint's latency estimate, which would otherwise price a freshly connected endpoint
    out. The bound is relative to an injected connect delay, 100 times a request on loopback."""
    web = topo.proxies[topo.web.name]
    delay_s = 0.5
    acquire = web.pool.acquire_endpoint

    async def slow_connect(*args: Any, **kw: Any) -> Any:
        await asyncio.sleep(delay_s)
        return await acquire(*args, **kw)

    web.pool.close()  # no pooled connection: the next request connects
    web.pool.acquire_endpoint = slow_connect  # type: ignore[method-assign]
    try:
        assert loop_thread.run(topo.client().request("GET", "/", host="api-v1")).status == 200
    finally:
        del web.pool.acquire_endpoint
    state = web.registry.get((topo.v1.address, HTTP_PORT))
    assert state is not None and state.ewma_ms is not None and state.ewma_ms < delay_s * 1000 / 2


def test_head_204_and_expect_continue_keep_the_connection_in_step(
    topo: Topology, loop_thread: LoopThread
) -> None:
    """Bodies announced but absent (HEAD, 204) must not desynchronise keep-alive connections, and a client
    waiting for 100 Continue must get it."""

    async def scenario() -> tuple[list[tuple[int, str, int]], bytes]:
        client = topo.client()
        seen = []
        for method, target in [
            ("HEAD", "/"),
            ("GET", "/status/204"),
            ("GET", "/"),
            ("HEAD", "/x"),
            ("GET", "/"),
        ]:
            r = await client.request(method, target)
            seen.append((r.status, r.headers.get("content-length", ""), len(r.body)))
        assert client.connects == 1
        reader, writer = await asyncio.open_connection(topo.web.address, OUTBOUND_HTTP_PORT)
        body = b"z" * 100_000
        writer.write(
            b"POST /up HTTP/1.1\r\nhost: api\r\nexpect: 100-continue\r\ncontent-length: %d\r\n\r\n"
            % len(body)
        )
        await writer.drain()
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)  # no body sent yet
        writer.write(body)
        await writer.drain()
        final = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.close()
        return seen, interim + final

    seen, exchange = loop_thread.run(scenario())
    assert [s for s, _, _ in seen] == [200, 204, 200, 200, 200]
    assert seen[0][1] != "" and seen[0][2] == 0  # HEAD: length announced, no body
    assert seen[1][2] == 0 and seen[2][2] > 0
    assert exchange.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200")


def test_http10_client_gets_an_unchunked_body(topo: Topology, loop_thread: LoopThread) -> None:
    async def scenario() -> bytes:
        reader, writer = await asyncio.open_connection(topo.web.address, OUTBOUND_HTTP_PORT)
        writer.write(b"GET /bytes/100000 HTTP/1.0\r\nhost: api\r\n\r\n")
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 5)  # ends because the proxy closes the connection
        writer.close()
        return data

    response = loop_thread.run(scenario())
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding" not in head.lower()
    assert body == b"x" * 100_000


def test_tcp_and_udp_flows_follow_the_split(topo: Topology, loop_thread: LoopThread) -> None:
    topo.mesh.splits["api"] = split(0, 1)
    loop_thread.run(topo.configure())
    tcp = loop_thread.run(tcp_exchange(topo.web.address, TCP_OUT, b"hello\n"))
    udp = loop_thread.run(udp_exchange(topo.web.address, UDP_OUT, b"hello"))
    assert tcp.startswith(b"service=api version=v2") and tcp.endswith(b"hello\n")
    assert udp is not None and udp.startswith(b"service=api version=v2")
    topo.mesh.splits["api"] = split(1, 0)
    loop_thread.run(topo.configure())
    assert loop_thread.run(tcp_exchange(topo.web.address, TCP_OUT, b"x")).startswith(
        b"service=api version=v1"
    )
