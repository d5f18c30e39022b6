"""End to end through the embedded runtime (real processes, sockets and mTLS), on the example bookstore
topology.

Statistical tests state their false-failure rate; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import calendar
import json
import math
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import click
import pytest
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from traffic import Load, request, session, versions

from reference_mesh.cli.check import run_checks
from reference_mesh.cli.client import MeshClient
from reference_mesh.cli.stats import show
from reference_mesh.proxy.telemetry import HIST_GROWTH
from reference_mesh.runtime.mesh import EmbeddedMesh
from reference_mesh.runtime.sync import MeshThread, running_mesh
from smi_conformance import models

REPO = Path(__file__).resolve().parents[2]
TOPOLOGY = REPO / "examples" / "mesh" / "bookstore-topology.yaml"
#: How long a test waits for every proxy to acknowledge a snapshot before it calls the mesh stuck (a hang
#: guard, not a speed target: convergence times are measured in benchmarks/control_plane.py).
CONVERGENCE_WAIT_S = 60.0


def split_doc(v1: int, v2: int) -> str:
    return f"""
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {{name: bookstore-canary, namespace: default}}
spec:
  service: bookstore
  backends: [{{service: bookstore-v1, weight: {v1}}}, {{service: bookstore-v2, weight: {v2}}}]
"""


THIEF_ACCESS = """
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: thief-access, namespace: default}
spec:
  destination: {kind: ServiceAccount, name: bookstore, namespace: default}
  sources: [{kind: ServiceAccount, name: bookthief, namespace: default}]
  rules: [{kind: HTTPRouteGroup, name: bookstore-service-routes, matches: [books-bought]}]
"""


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshThread]:
    with running_mesh(TOPOLOGY, home=tmp_path_factory.mktemp("mesh-home")) as handle:
        yield handle


def applied(mesh: MeshThread, text: str) -> None:
    outcome = mesh.apply(text)
    assert outcome.admission.ok, [str(f) for f in outcome.admission.findings]
    mesh.converge()


def binomial_ok(successes: int, n: int, p: float, z: float = 4.4) -> bool:
    """Two-sided normal approximation; z=4.4 makes a false failure about 1 in 100,000 runs."""
    return abs(successes - n * p) <= z * math.sqrt(n * p * (1 - p))


def test_mesh_is_up_and_enforces_the_examples(mesh: MeshThread) -> None:
    m = mesh.mesh

    async def scenario() -> tuple[int, int, str | None]:
        async with session() as s:
            buyer = await request(s, m, "bookbuyer-0", "/books-bought")
            thief = await request(s, m, "bookthief-0", "/books-bought")
            other = await request(s, m, "bookbuyer-0", "/not-a-route")
        return buyer.status, thief.status, other.status and other.body

    buyer, thief, other = mesh.run(scenario())
    assert (buyer, thief) == (200, 403)
    assert other is not None and "no route allows GET /not-a-route" in other
    assert m.startup_s is not None and 0 < m.startup_s <= m.ready_timeout_s  # recorded, in seconds


def test_split_ratio(mesh: MeshThread) -> None:
    applied(mesh, split_doc(80, 20))
    n = 400
    counts = mesh.run(versions(mesh.mesh, "bookbuyer-0", n))
    assert set(counts) <= {"v1", "v2"}, counts
    assert binomial_ok(counts["v1"], n, 0.8), counts


def test_zero_weight_gets_nothing(mesh: MeshThread) -> None:
    applied(mesh, split_doc(0, 5))
    assert mesh.run(versions(mesh.mesh, "bookbuyer-0", 60)) == {"v2": 60}


def test_hundred_weight_updates_under_load_fail_no_request(mesh: MeshThread) -> None:
    m = mesh.mesh

    load = Load(m, "bookbuyer-0")

    async def scenario() -> tuple[Any, int]:
        load.start()
        revisions = 0
        for i in range(100):
            outcome = await m.apply_text(split_doc(i % 7, 7 - i % 7 if i % 7 else 3))
            assert outcome.admission.ok
            revisions += 1
            await asyncio.sleep(0.01)
        await m.wait_converged(10)
        await asyncio.sleep(0.2)
        return await load.stop(), revisions

    statuses, revisions = mesh.run(scenario(), 180)
    assert revisions == 100
    assert set(statuses) == {200}, (statuses, load.failures[:5])
    assert statuses[200] > 100


def test_access_flips_as_soon_as_every_proxy_has_the_snapshot(mesh: MeshThread) -> None:
    """Event-based: once every proxy acknowledged the snapshot of the apply, the very next request gets the
    new decision (how long convergence takes is a benchmark: docs/performance.md#control-plane)."""
    m = mesh.mesh

    async def one() -> int:
        async with session() as s:
            return (await request(s, m, "bookthief-0", "/books-bought")).status

    assert mesh.run(one()) == 403
    assert mesh.apply(THIEF_ACCESS).admission.ok
    mesh.converge(CONVERGENCE_WAIT_S)
    assert mesh.run(one()) == 200
    assert mesh.apply(THIEF_ACCESS, delete=True).admission.ok
    mesh.converge(CONVERGENCE_WAIT_S)
    assert mesh.run(one()) == 403


def test_invalid_manifest_is_rejected_with_location_and_nothing_applied(mesh: MeshThread) -> None:
    m = mesh.mesh
    mesh.converge()  # earlier tests' changes are acknowledged everywhere first
    before = m.store.state()
    versions_before = {p.instance: p.acked for p in m.control_plane.distributor.status()}  # type: ignore[union-attr]
    bad = (
        THIEF_ACCESS
        + """---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: broken, namespace: default}
spec:
  service: bookstore-v1
  backends:
  - {service: bookstore-v2, weight: "ten"}
"""
    )
    outcome = mesh.apply(bad)
    assert not outcome.admission.ok
    (finding,) = [f for f in outcome.admission.findings if f.severity == "error"]
    assert finding.code == "SMI103" and str(finding.location) == "<input>:16:37"
    assert m.store.state() is before
    assert {p.instance: p.acked for p in m.control_plane.distributor.status()} == versions_before  # type: ignore[union-attr]


#: Seconds without traffic before a counted burst; a window reaches back at most QUIET_S - 1 s before it.
QUIET_S = 3.2
#: Queries asked again when the machine was too slow for the window asked for (bounds the retry loop).
WINDOW_TRIES = 5


def window_covers(answer: dict[str, Any], start: int, end: int) -> bool:
    """Does the window an answer reports (``timestamp`` = its end, ``window`` = its length) hold every second
    of ``[start, end)``?"""
    stamp = calendar.timegm(time.strptime(answer["timestamp"], "%Y-%m-%dT%H:%M:%SZ"))
    return stamp - int(answer["window"].rstrip("s")) <= start and stamp >= end


def window_since(start: int) -> int:
    """The ``t`` for a query sent now whose window starts at ``start`` - 2 (a quiet second) if it is answered
    within this second, at ``start`` or before if within two; a slower answer is seen by window_covers."""
    return math.ceil(time.time()) - start + 1


async def answers_covering(
    m: EmbeddedMesh, paths: tuple[str, ...], start: int, end: int
) -> list[dict[str, Any]]:
    """The Traffic Metrics API's answers for ``paths`` (in namespace default) over windows holding
    ``[start, end)``, asked again (WINDOW_TRIES at most) when the machine was too slow for the window asked
    for; the last answers otherwise (the caller's window_covers assertion shows them)."""
    base = m.metrics_url + "/apis/metrics.smi-spec.io/v1alpha1/namespaces/default"
    answers: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as s:
        for _ in range(WINDOW_TRIES):
            answers = []
            for path in paths:
                async with s.get(f"{base}/{path}?t={window_since(start)}s") as resp:
                    answers.append(await resp.json())
            # a list answers with items, one resource with itself
            if all(window_covers(i, start, end) for a in answers for i in a.get("items", [a])):
                break
    return answers


def test_metrics_api_counts_known_traffic_exactly(mesh: MeshThread) -> None:
    m = mesh.mesh
    applied(mesh, split_doc(1, 1))
    k = 57

    async def scenario() -> tuple[int, int, dict[str, Any], dict[str, Any], dict[str, Any]]:
        await asyncio.sleep(QUIET_S)  # earlier traffic ends 3+ whole seconds before `start`
        start = math.floor(time.time())
        async with session() as s:
            results = [await request(s, m, "bookbuyer-0", "/books-bought") for _ in range(k)]
        assert all(r.status == 200 for r in results)
        end = math.floor(time.time()) + 1
        await asyncio.sleep(end - time.time() + 0.05)
        paths = ("deployments/bookbuyer/edges", "trafficsplits/bookstore-canary", "deployments")
        edges, split, deployments = await answers_covering(m, paths, start, end)
        return start, end, edges, split, deployments

    start, end, edges, split, deployments = mesh.run(scenario())
    for doc in (edges, split, deployments):
        assert models.validate(doc) == [], doc
        assert all(window_covers(i, start, end) for i in doc["items"]), doc
    stamp = edges["items"][0]["timestamp"]
    assert time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end)) <= stamp

    def count(item: dict[str, Any], name: str) -> int:
        return int(next(x["value"] for x in item["metrics"] if x["name"] == name))

    sent = [i for i in edges["items"] if i["edge"]["direction"] == "to"]
    assert {i["edge"]["resource"]["name"] for i in sent} <= {"bookstore-v1", "bookstore-v2"}
    assert sum(count(i, "success_count") for i in sent) == k
    assert sum(count(i, "failure_count") for i in sent) == 0
    assert sum(count(i, "success_count") for i in split["items"]) == k
    assert {i["backend"]["name"]: i["backend"]["weight"] for i in split["items"]} == {
        "bookstore-v1": 1,
        "bookstore-v2": 1,
    }
    served = {i["resource"]["name"]: count(i, "success_count") for i in deployments["items"]}
    assert served["bookstore-v1"] + served["bookstore-v2"] == k
    latency = next(x for x in sent[0]["metrics"] if x["name"] == "p99_response_latency")
    assert latency["unit"] == "ms" and float(latency["value"]) > 0


STATUS_ACCESS = """
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: status-codes, namespace: default}
spec: {matches: [{name: status, pathRegex: "/status/", methods: [GET]}]}
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: buyer-status-codes, namespace: default}
spec:
  destination: {kind: ServiceAccount, name: bookstore, namespace: default}
  sources: [{kind: ServiceAccount, name: bookbuyer, namespace: default}]
  rules: [{kind: HTTPRouteGroup, name: status-codes}]
"""
#: The requests of the outcome and latency test: (path, how many, the answer); the slow ones are a sixth and
#: the rest are answered at once, so the p50 is a fast request's, the p90 a slow one's, and the mean neither.
SLOW_MS = 400
OUTCOME_TRAFFIC = [
    ("/books-bought", 20, 200),
    ("/status/500", 7, 500),  # a failure
    ("/status/404", 5, 404),  # a success: only 5xx fail
    ("/not-a-route", 4, 403),  # denied by bookstore's proxy: a success
    (f"/books-bought?delay={SLOW_MS}", 7, 200),
]


def test_metrics_api_fails_only_5xx_and_reads_percentiles_at_their_ranks(mesh: MeshThread) -> None:
    """Through real proxies and the Traffic Metrics API (the unit tests of telemetry and aggregation are the
    other layer): a 500 is a failure on both sides, a 404 and a denial are successes, and p50 / p90 / p99 are
    the latencies at their ranks, not the mean and not one value for all."""
    m = mesh.mesh
    applied(mesh, split_doc(1, 0))  # every request to bookstore-v1: one edge, one deployment
    applied(mesh, STATUS_ACCESS)
    latencies: dict[str, list[float]] = {}

    async def scenario() -> tuple[int, int, dict[str, Any], dict[str, Any]]:
        await asyncio.sleep(QUIET_S)  # earlier traffic ends 3+ whole seconds before `start`
        start = math.floor(time.time())
        async with session() as s:

            async def timed(path: str) -> int:
                began = time.monotonic()
                status = (await request(s, m, "bookbuyer-0", path)).status
                latencies.setdefault(path, []).append((time.monotonic() - began) * 1000.0)
                return status

            statuses = await asyncio.gather(*(timed(p) for p, n, _ in OUTCOME_TRAFFIC for _ in range(n)))
        assert list(statuses) == [status for _, n, status in OUTCOME_TRAFFIC for _ in range(n)]
        end = math.floor(time.time()) + 1
        await asyncio.sleep(end - time.time() + 0.05)
        edges, received = await answers_covering(
            m, ("deployments/bookbuyer/edges", "deployments/bookstore-v1"), start, end
        )
        return start, end, edges, received

    try:
        start, end, edges, received = mesh.run(scenario())
    finally:
        assert mesh.apply(STATUS_ACCESS, delete=True).admission.ok
        mesh.converge()
    assert all(window_covers(i, start, end) for i in [*edges["items"], received]), (edges, received)
    sent = next(i for i in edges["items"] if i["edge"]["direction"] == "to")
    assert sent["edge"]["resource"]["name"] == "bookstore-v1"
    total = sum(n for _, n, _ in OUTCOME_TRAFFIC)
    failed = sum(n for _, n, status in OUTCOME_TRAFFIC if status >= 500)
    fast_max = max(v for p, vs in latencies.items() if "delay" not in p for v in vs)
    for side, item in (("client", sent), ("server", received)):
        values = {x["name"]: x for x in item["metrics"]}
        counts = (int(values["success_count"]["value"]), int(values["failure_count"]["value"]))
        assert counts == (total - failed, failed), (side, item)
        p50, p90, p99 = (float(values[f"p{q}_response_latency"]["value"]) for q in (50, 90, 99))
        # a proxy measures part of what the client measured; a histogram reading is within half a bucket
        assert p50 <= fast_max * HIST_GROWTH**0.5, (side, p50, fast_max)
        assert SLOW_MS / HIST_GROWTH**0.5 <= p90 <= p99, (side, p90, p99)


class AnswerKeeper(MeshClient):
    """The CLI's own client, keeping its last answer (the JSON output leaves out the window it covers)."""

    last: Any = None

    def call(self, path: str, body: Any = None, *, base: str | None = None) -> tuple[int, Any]:
        status, self.last = super().call(path, body, base=base)
        return status, self.last


def test_routes_count_each_route_exactly(mesh: MeshThread, capsys: pytest.CaptureFixture[str]) -> None:
    """`reference-mesh routes`: requests are counted under the HTTPRouteGroup match that names them."""
    m = mesh.mesh
    applied(mesh, split_doc(1, 1))
    paths = ["/books-bought"] * 5 + ["/buy-a-book/1"] * 3 + ["/not-a-route"] * 2

    async def scenario() -> tuple[int, int, list[int]]:
        await asyncio.sleep(QUIET_S)  # earlier traffic ends 3+ whole seconds before `start`
        start = math.floor(time.time())
        async with session() as s:
            statuses = [(await request(s, m, "bookbuyer-0", p)).status for p in paths]
        end = math.floor(time.time()) + 1
        await asyncio.sleep(end - time.time() + 0.05)
        return start, end, statuses

    start, end, statuses = mesh.run(scenario())
    assert statuses == [200] * 8 + [403] * 2
    client = AnswerKeeper({"admin": m.admin_url, "metrics": m.metrics_url, "token": m.token})

    def routes(**options: Any) -> list[dict[str, Any]]:
        for _ in range(WINDOW_TRIES):
            show(client, "route", f"{window_since(start)}s", None, "json", to="bookstore", **options)
            rows: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
            if window_covers(client.last, start, end):
                return rows
        raise AssertionError(f"no answer covered [{start}, {end}) in {WINDOW_TRIES} tries: {client.last}")

    rows = routes()
    assert [(r["route"], r["success"], r["failure"], r["codes"]) for r in rows] == [
        ("bookstore-service-routes/books-bought", 5, 0, {"200": 5}),
        ("bookstore-service-routes/buy-a-book", 3, 0, {"200": 3}),
        ("[default]", 2, 0, {"403": 2}),  # denied by bookstore's proxy: a 403 is a success (SMI metrics)
    ]
    assert {r["service"] for r in rows} == {"bookstore.default"}
    assert all(r["p99_ms"] > 0 for r in rows)
    legs = routes(backends=True)
    assert {r["backend"] for r in legs} <= {"bookstore-v1.default", "bookstore-v2.default"}
    assert {r["split"] for r in legs} == {"default/bookstore-canary"}
    assert sum(r["success"] for r in legs if r["route"].endswith("books-bought")) == 5
    console = Console(record=True, width=200)
    show(client, "route", "30s", None, "table", console)
    text = console.export_text()
    assert "bookstore-service-routes/buy-a-book" in text and "[default]" in text
    with pytest.raises(click.ClickException, match="no service 'nope'"):
        show(client, "route", "30s", None, "json", to="nope")


def test_control_plane_restart_under_load(mesh: MeshThread) -> None:
    m = mesh.mesh

    async def scenario() -> tuple[Any, list[str]]:
        load = Load(m, "bookbuyer-0").start()
        await asyncio.sleep(0.3)
        await m.control_plane.stop()  # proxies lose their stream; they keep serving the last snapshot
        await asyncio.sleep(0.5)
        outcome = await m.apply_text(split_doc(0, 1))  # the store still takes writes meanwhile
        assert outcome.admission.ok
        await asyncio.sleep(1.0)
        await m.control_plane.start()
        await m.wait_converged(15)  # every proxy reconnected (backoff) and got the new snapshot
        await asyncio.sleep(0.3)
        return await load.stop(), load.failures

    statuses, failures = mesh.run(scenario(), 120)
    assert set(statuses) == {200}, failures[:5]
    assert mesh.run(versions(mesh.mesh, "bookbuyer-0", 30)) == {"v2": 30}


def test_check_reports_a_stale_proxy(mesh: MeshThread, tmp_path: Path) -> None:
    m = mesh.mesh
    client = MeshClient({"admin": m.admin_url, "metrics": m.metrics_url, "token": m.token})
    mesh.converge()
    assert all(c.ok for c in run_checks(client)), [c for c in run_checks(client) if not c.ok]
    sidecar = m.pod("bookstore-v2-0").sidecar
    assert sidecar is not None and sidecar.pid is not None
    os.kill(sidecar.pid, signal.SIGSTOP)
    try:
        assert mesh.apply(split_doc(3, 1)).admission.ok
        deadline = time.monotonic() + 5
        while m.control_plane.compiled_revision < m.store.state().revision and time.monotonic() < deadline:
            time.sleep(0.01)
        others = [k for k in m.pods if k.name != "bookstore-v2-0"]
        mesh.run(m.control_plane.distributor.wait_synced(others, timeout=10))  # type: ignore[union-attr]
        checks = {c.name: c for c in run_checks(client)}
        stale = checks["proxy default/bookstore-v2-0"]
        assert not stale.ok and ("stale" in stale.detail or "not connected" in stale.detail), stale
        assert checks["proxy default/bookbuyer-0"].ok
    finally:
        os.kill(sidecar.pid, signal.SIGCONT)
    mesh.converge(15)
    # the resumed agent may find its own read deadline passed and reconnect once more (briefly "not
    # connected" after it acked): recovery is every check passing again within a bound, as `check --wait`
    deadline = time.monotonic() + 15
    failing = [c for c in run_checks(client) if not c.ok]
    while failing and time.monotonic() < deadline:
        time.sleep(0.1)
        failing = [c for c in run_checks(client) if not c.ok]
    assert not failing


def test_a_crashed_backend_is_observable_and_restarted(mesh: MeshThread) -> None:
    m: EmbeddedMesh = mesh.mesh
    rt = m.pod("bookstore-v2-0")
    assert rt.app is not None and rt.app.pid is not None
    applied(mesh, split_doc(1, 1))
    rt.app.kill()
    deadline = time.monotonic() + 5
    while rt.pod.status.ready and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not rt.pod.status.ready  # not ready: no longer an endpoint of bookstore / bookstore-v2
    deadline = time.monotonic() + 20
    while not rt.pod.status.ready and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rt.pod.status.ready and rt.app.restarts == 1 and rt.app.last_exit == -signal.SIGKILL
    mesh.converge()
    assert set(mesh.run(versions(m, "bookbuyer-0", 40))) == {"v1", "v2"}


def test_prometheus_and_tap_cover_the_mesh(mesh: MeshThread) -> None:
    m = mesh.mesh

    async def scenario() -> tuple[str, list[dict[str, Any]]]:
        events: list[dict[str, Any]] = []
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as s:
            async with s.get(f"{m.metrics_url}/tap?pod=bookbuyer-0&direction=outbound") as tap:
                await asyncio.sleep(0.3)  # the merged stream subscribes to the proxy first
                async with session() as traffic:
                    for _ in range(3):
                        await request(traffic, m, "bookbuyer-0", "/books-bought")
                while len(events) < 3:
                    line = await asyncio.wait_for(tap.content.readline(), 5)
                    events.append(json.loads(line))
            async with s.get(f"{m.metrics_url}/metrics") as resp:
                text = await resp.text()
        return text, events

    text, events = mesh.run(scenario())
    assert {e["pod"] for e in events} == {"default/bookbuyer-0"}
    assert all(e["direction"] == "outbound" and e["path"] == "/books-bought" for e in events)
    assert 'mesh_requests_total{namespace="default",pod="bookbuyer-0",direction="outbound"' in text
    families = {f.name: f for f in text_string_to_metric_families(text)}  # as a scraper reads it
    assert families["mesh_requests"].type == "counter"
    assert families["mesh_response_latency_ms"].type == "histogram"
    bought = [
        s.value
        for s in families["mesh_requests"].samples
        if s.labels["pod"] == "bookbuyer-0" and s.labels["route"] == "bookstore-service-routes/books-bought"
    ]
    assert sum(bought) >= 3
    assert ',direction="inbound",' in text and 'pod="bookstore-' in text
