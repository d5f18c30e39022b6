"""Traffic Metrics windowing and aggregation on known telemetry: exact counts, boundaries, model validity."""

from __future__ import annotations

from fractions import Fraction

import pytest
from builders import bookstore

from reference_mesh.control.resources import ObjectKey
from reference_mesh.control.routes import DEFAULT_ROUTE
from reference_mesh.control.smi import SplitView
from reference_mesh.metrics import aggregate
from reference_mesh.metrics.aggregate import DEPLOYMENT_LABEL, MeshView
from reference_mesh.metrics.stats import edge_stats, route_stats
from reference_mesh.metrics.window import Window, WindowError, parse_duration
from reference_mesh.proxy.telemetry import HIST_GROWTH, Edge, LatencyHistogram, Telemetry
from smi_conformance import models

T0 = 1_700_000_000  # a whole second


def test_durations() -> None:
    assert parse_duration("30s") == 30 and parse_duration("1m30s") == 90 and parse_duration("1h") == 3600
    assert parse_duration("1500ms") == 1.5
    for bad in ("", "30", "s", "1x", "-5s", "1m 30s"):
        with pytest.raises(WindowError):
            parse_duration(bad)


def test_window_is_the_whole_seconds_before_the_current_one() -> None:
    w = Window.ending_now(T0 + 0.999, "10s")
    assert (w.start, w.end, w.duration) == (T0 - 10, T0, "10s")
    assert w.contains(T0 - 10) and w.contains(T0 - 1) and not w.contains(T0) and not w.contains(T0 - 11)
    assert Window.ending_now(T0).length == 30
    assert w.timestamp.endswith("Z")
    for bad in ("1500ms", "0s", "16m"):
        with pytest.raises(WindowError):
            Window.ending_now(T0, bad)


def pod_key(name: str) -> ObjectKey:
    return ObjectKey("Pod", "default", name)


def view() -> MeshView:
    state = bookstore()
    pods = {}
    for stored in state.of_kind("Pod"):
        p = stored.obj
        deployment = stored.key.name.rsplit("-", 1)[0]
        pods[stored.key] = p.model_copy(
            update={
                "metadata": p.metadata.model_copy(
                    update={"labels": {**p.metadata.labels, DEPLOYMENT_LABEL: deployment}}
                )
            }
        )
    return MeshView(pods)


def outbound(dest: str, backend: str = "bookstore-v1.default", split: str = "") -> Edge:
    return Edge(
        "outbound",
        "http",
        "spiffe://cluster.local/ns/default/sa/bookbuyer",
        "bookbuyer-0",
        "bookstore.default",
        backend,
        split,
        "spiffe://cluster.local/ns/default/sa/bookstore",
        dest,
        8080,
    )


def inbound(at: str) -> Edge:
    return Edge(
        "inbound",
        "http",
        "spiffe://cluster.local/ns/default/sa/bookbuyer",
        "",
        "bookstore",
        "bookstore",
        "",
        "spiffe://cluster.local/ns/default/sa/bookstore",
        at,
        8080,
    )


def samples(events: list[tuple[str, Edge, float, bool, float]]) -> dict[ObjectKey, list[dict[str, object]]]:
    """(recording pod, edge, finished_at, success, latency_ms) -> each pod's GET /telemetry answer."""
    recorders: dict[str, Telemetry] = {}
    for pod, edge, at, ok, latency in events:
        recorders.setdefault(pod, Telemetry()).record(
            edge, finished_at=at, success=ok, code="200" if ok else "503", latency_ms=latency
        )
    return {pod_key(p): t.to_json() for p, t in recorders.items()}


KNOWN = [
    # inside the window [T0-30, T0): 3 successes, 1 failure at v1-0; 2 successes at v2-0
    *[("bookstore-v1-0", inbound("bookstore-v1-0"), T0 - 30 + i, True, 10.0) for i in range(3)],
    ("bookstore-v1-0", inbound("bookstore-v1-0"), T0 - 0.001, False, 100.0),
    *[("bookstore-v2-0", inbound("bookstore-v2-0"), T0 - 5, True, 1.0) for _ in range(2)],
    # just outside: the second before the window, and the current second
    ("bookstore-v1-0", inbound("bookstore-v1-0"), T0 - 30.001, True, 1.0),
    ("bookstore-v1-0", inbound("bookstore-v1-0"), T0 + 0.5, True, 1.0),
    # what the caller saw
    *[("bookbuyer-0", outbound("bookstore-v1-0"), T0 - 2, True, 12.0) for _ in range(4)],
    ("bookbuyer-0", outbound("bookstore-v2-0", "bookstore-v2.default", "default/canary"), T0 - 2, True, 12.0),
    (
        "bookbuyer-0",
        outbound("bookstore-v1-0", "bookstore-v1.default", "default/canary"),
        T0 - 2,
        False,
        12.0,
    ),
]


def metric(item: dict[str, object], name: str) -> object:
    return next(m["value"] for m in item["metrics"] if m["name"] == name)  # type: ignore[attr-defined,index]


def test_exact_counts_for_pods_deployments_and_namespaces() -> None:
    w = Window(T0, 30)
    rows = aggregate.rows_from(samples(KNOWN), w)
    v = view()
    pod = aggregate.resource_item(v, rows, w, "Pod", ("default", "bookstore-v1-0"))
    assert (metric(pod, "success_count"), metric(pod, "failure_count")) == (3, 1)
    assert pod["edge"] == {"direction": "from", "side": "server", "resource": {}}
    assert [m["unit"] for m in pod["metrics"][:3]] == ["ms", "ms", "ms"]  # type: ignore[index]
    assert float(metric(pod, "p50_response_latency")) == pytest.approx(10.0, rel=0.022)  # type: ignore[arg-type]
    assert float(metric(pod, "p99_response_latency")) == pytest.approx(100.0, rel=0.022)  # type: ignore[arg-type]
    dep = aggregate.resource_item(v, rows, w, "Deployment", ("default", "bookstore-v2"))
    assert (metric(dep, "success_count"), metric(dep, "failure_count")) == (2, 0)
    ns = aggregate.resource_item(v, rows, w, "Namespace", ("", "default"))
    assert (metric(ns, "success_count"), metric(ns, "failure_count")) == (5, 1)
    assert ns["resource"] == {"kind": "Namespace", "name": "default"}
    for item in (pod, dep, ns):
        assert models.validate(item) == []


def test_an_empty_window_has_counts_and_no_latencies() -> None:
    w = Window(T0 + 1000, 30)
    item = aggregate.resource_item(
        view(), aggregate.rows_from(samples(KNOWN), w), w, "Pod", ("default", "bookstore-v1-0")
    )
    assert [m["name"] for m in item["metrics"]] == ["success_count", "failure_count"]
    assert models.validate(item) == []


def test_edges_both_directions() -> None:
    w = Window(T0, 30)
    rows = aggregate.rows_from(samples(KNOWN), w)
    out = aggregate.edges(view(), rows, w, "Deployment", ("default", "bookbuyer"))
    assert [
        (
            e["edge"]["direction"],
            e["edge"]["resource"]["name"],
            metric(e, "success_count"),
            metric(e, "failure_count"),
        )
        for e in out
    ] == [("to", "bookstore-v1", 4, 1), ("to", "bookstore-v2", 1, 0)]
    back = aggregate.edges(view(), rows, w, "Pod", ("default", "bookstore-v2-0"))
    assert [(e["edge"]["direction"], e["edge"]["resource"]["name"]) for e in back] == [
        ("from", "bookbuyer-0")
    ]
    lst = {
        "apiVersion": "metrics.smi-spec.io/v1alpha1",
        "kind": "TrafficMetricsList",
        "resource": {"kind": "Pod", "namespace": "default", "name": "bookstore-v2-0"},
        "items": back,
    }
    assert models.validate(lst) == []


def test_split_backends() -> None:
    w = Window(T0, 30)
    split = SplitView(
        "default",
        "canary",
        "bookstore",
        (("bookstore-v1", Fraction(1)), ("bookstore-v2", Fraction(1, 2))),
        None,
    )
    items = aggregate.split_items(view(), aggregate.rows_from(samples(KNOWN), w), w, split)
    assert [(i["backend"], metric(i, "success_count"), metric(i, "failure_count")) for i in items] == [
        ({"apex": "bookstore", "name": "bookstore-v1", "weight": 2}, 0, 1),
        ({"apex": "bookstore", "name": "bookstore-v2", "weight": 1}, 1, 0),
    ]
    for item in items:
        assert models.validate(item) == []


def test_stats_for_top() -> None:
    w = Window(T0, 30)
    rows = aggregate.rows_from(samples(KNOWN), w)
    by_edge = edge_stats(rows, w)
    assert [(r["source"], r["destination"], r["success"], r["failure"]) for r in by_edge] == [
        ("default/bookbuyer-0", "default/bookstore-v1-0", 4, 1),
        ("default/bookbuyer-0", "default/bookstore-v2-0", 1, 0),
    ]
    assert by_edge[0]["success_rate"] == 0.8 and by_edge[0]["rps"] == round(5 / 30, 3)


def routed(route: str, ok: bool, at: float = T0 - 2, protocol: str = "http", port: int = 8080) -> tuple:  # type: ignore[type-arg]
    edge = outbound("bookstore-v1-0")._replace(route=route, protocol=protocol, port=port)
    return ("bookbuyer-0", edge, at, ok, 5.0)


def test_stats_for_routes_list_every_defined_route_in_order() -> None:
    w = Window(T0, 30)
    events = [
        *[routed("store/buy", True) for _ in range(3)],
        routed("store/buy", False),
        routed("", True),
        routed("old/gone", True),  # traffic from before a route was removed
        routed("store/buy", True, at=T0 - 31),  # outside the window
        routed("", True, protocol="tcp", port=9000),
    ]
    rows = aggregate.rows_from(samples(events), w)
    table = {"bookstore.default": ("store/list", "store/buy"), "idle.default": ("idle/x",)}
    out = route_stats(rows, w, table)
    assert [(r["service"], r["route"], r["port"], r["success"], r["failure"]) for r in out] == [
        ("bookstore.default", "store/list", None, 0, 0),  # defined, no traffic: listed with zeros
        ("bookstore.default", "store/buy", None, 3, 1),
        ("bookstore.default", "old/gone", None, 1, 0),
        ("bookstore.default", DEFAULT_ROUTE, None, 1, 0),
        ("bookstore.default", None, 9000, 1, 0),
    ]
    assert out[0]["success_rate"] is None and out[0]["p50_ms"] is None
    assert out[1]["success_rate"] == 0.75 and out[1]["rps"] == round(4 / 30, 3)
    # a service without traffic is listed only when asked for
    idle = route_stats(rows, w, table, to="idle.default")
    assert [(r["route"], r["success"]) for r in idle] == [("idle/x", 0), (DEFAULT_ROUTE, 0)]


def test_stats_for_routes_by_backend() -> None:
    w = Window(T0, 30)
    rows = aggregate.rows_from(samples(KNOWN), w)
    by_backend = route_stats(rows, w, {"bookstore.default": ()}, by_backend=True)
    assert [(r["route"], r["backend"], r["split"], r["success"], r["failure"]) for r in by_backend] == [
        (DEFAULT_ROUTE, "bookstore-v1.default", "", 4, 0),
        (DEFAULT_ROUTE, "bookstore-v1.default", "default/canary", 0, 1),
        (DEFAULT_ROUTE, "bookstore-v2.default", "default/canary", 1, 0),
    ]


# -- each part on its own: what the mutation run found untested (docs/mutation.md) ---------------------------


def test_window_bounds_and_messages() -> None:
    assert Window.ending_now(T0, "1s").length == 1  # the shortest window
    assert Window.ending_now(T0, "15m").length == 900  # the longest: what the proxies keep
    cases = [
        ("0s", "t=0s is not a whole number of seconds (at least 1s)"),
        ("1500ms", "t=1500ms is not a whole number of seconds (at least 1s)"),
        ("901s", "t=901s is longer than the 900s the proxies keep"),
        ("x", "t='x' is not a duration such as 30s, 1m or 1m30s"),
    ]
    for t, message in cases:
        with pytest.raises(WindowError) as bad:
            Window.ending_now(T0, t)
        assert str(bad.value) == message


def bucket(success: int, failure: int, latencies: list[float], **extra: object) -> dict[str, object]:
    histogram = LatencyHistogram()
    for latency in latencies:
        histogram.add(latency)
    return {"success": success, "failure": failure, "latency_ms": histogram.to_json(), **extra}


def test_stats_sum_every_bucket_and_report_p99_p90_p50() -> None:
    stats = aggregate.Stats()
    stats.add(bucket(3, 1, [1.0] * 4, codes={"200": 3, "503": 1}, denied=1))
    stats.add(bucket(2, 0, [1.0, 1.0], codes={"200": 2}))  # a proxy from before the denied count
    stats.add(bucket(0, 0, []))  # nor codes
    assert (stats.success, stats.failure, stats.denied, stats.total) == (5, 1, 1, 6)
    assert stats.codes == {"200": 5, "503": 1}
    # nearest-rank quantiles of 1,000 requests whose ranks 500, 900 and 990 each start a new latency (so a
    # quantile read 1% low, at ranks 496, 892 and 981, would differ)
    latencies = [1.0] * 497 + [10.0] * 398 + [100.0] * 90 + [1000.0] * 15
    spread = aggregate.Stats()
    spread.add(bucket(1000, 0, latencies))
    expected = LatencyHistogram()
    for latency in latencies:
        expected.add(latency)
    assert spread.metrics() == [
        {"name": "p99_response_latency", "unit": "ms", "value": f"{expected.quantile(0.99):.3f}"},
        {"name": "p90_response_latency", "unit": "ms", "value": f"{expected.quantile(0.90):.3f}"},
        {"name": "p50_response_latency", "unit": "ms", "value": f"{expected.quantile(0.50):.3f}"},
        {"name": "success_count", "value": 1000},
        {"name": "failure_count", "value": 0},
    ]
    assert [expected.quantile(q) for q in (0.99, 0.90, 0.50)] != [
        expected.quantile(q / 1.01) for q in (0.99, 0.90, 0.50)
    ]


def test_percentiles_of_five_requests_in_three_seconds_are_their_nearest_ranks() -> None:
    """Percentiles over buckets of several seconds are those of all their requests together: of five latencies
    a bucket or more apart, p50 is the 3rd (rank 2.5 rounds up; the mean, 225.4 ms, is none of them) and p90
    and p99 the 5th. (Each value is read from its histogram bucket, hence the bucket's half width.)"""
    stats = aggregate.Stats()
    stats.add(bucket(2, 0, [1000.0, 4.0]))
    stats.add(bucket(1, 1, [16.0, 2.0]))
    stats.add(bucket(1, 0, [105.0]))
    values = {m["name"]: float(m["value"]) for m in stats.metrics() if m["name"].endswith("latency")}
    half = HIST_GROWTH**0.5
    for name, exact in (("p50", 16.0), ("p90", 1000.0), ("p99", 1000.0)):
        assert exact / half <= values[f"{name}_response_latency"] <= exact * half, (name, values)


def test_rows_keep_their_second() -> None:
    w = Window(T0, 30)
    rows = aggregate.rows_from(samples(KNOWN), w)
    assert rows and all(isinstance(r.second, int) and w.contains(r.second) for r in rows)
    assert {r.second for r in rows} == {T0 - 30, T0 - 29, T0 - 28, T0 - 1, T0 - 5, T0 - 2}


def test_peer_pod_needs_an_instance_and_a_namespaced_backend() -> None:
    def row(**edge: str) -> aggregate.Row:
        return aggregate.Row(pod_key("bookbuyer-0"), T0, edge, {})

    assert aggregate.peer_pod(row(destination_instance="web-0", backend="web.shop")) == ObjectKey(
        "Pod", "shop", "web-0"
    )
    assert aggregate.peer_pod(row(destination_instance="", backend="web.shop")) is None
    assert aggregate.peer_pod(row(backend="web.shop")) is None
    assert aggregate.peer_pod(row(destination_instance="web-0", backend="web")) is None


def wider_view() -> MeshView:
    """The bookstore, a second bookstore-v1 pod of another version label, and a pod of no deployment."""
    v = view()
    first = v.pods[pod_key("bookstore-v1-0")]
    labels = {**first.metadata.labels, "version": "v1b"}
    v.pods[pod_key("bookstore-v1-1")] = first.model_copy(
        update={"metadata": first.metadata.model_copy(update={"name": "bookstore-v1-1", "labels": labels})}
    )
    loose = {k: val for k, val in first.metadata.labels.items() if k != DEPLOYMENT_LABEL}
    v.pods[pod_key("loose-0")] = first.model_copy(
        update={"metadata": first.metadata.model_copy(update={"name": "loose-0", "labels": loose})}
    )
    return v


def test_mesh_view_owners_resources_and_labels() -> None:
    v = wider_view()
    assert v.owner("Deployment", pod_key("loose-0")) is None
    assert v.owner("Deployment", pod_key("bookstore-v1-1")) == ("default", "bookstore-v1")
    assert v.resources("Deployment", "default") == [
        ("default", "bookbuyer"),
        ("default", "bookstore-v1"),
        ("default", "bookstore-v2"),
        ("default", "bookthief"),
    ]
    assert v.resources("Deployment", "elsewhere") == []
    assert v.resources("Namespace", None) == [("", "default")]
    assert ("default", "loose-0") in v.resources("Pod", "default")
    # a deployment's labels are those its pods share
    assert v.labels_of("Deployment", ("default", "bookstore-v1")) == {
        "app": "bookstore",
        DEPLOYMENT_LABEL: "bookstore-v1",
    }
    assert v.labels_of("Pod", ("default", "bookstore-v1-1"))["version"] == "v1b"
    assert v.labels_of("Deployment", ("default", "nothing")) == {}


def test_edges_skip_what_they_cannot_place_and_name_both_ends() -> None:
    w = Window(T0, 30)
    unplaced = [
        # no destination instance (e.g. a connection that failed), then a peer of no deployment
        ("bookbuyer-0", outbound("")._replace(destination_instance=""), T0 - 3, False, 1.0),
        ("bookbuyer-0", outbound("loose-0"), T0 - 3, True, 1.0),
    ]
    rows = aggregate.rows_from(samples(unplaced + KNOWN), w)
    out = aggregate.edges(wider_view(), rows, w, "Deployment", ("default", "bookbuyer"))
    me = {"kind": "Deployment", "namespace": "default", "name": "bookbuyer"}
    assert [(e["resource"], e["edge"], metric(e, "success_count")) for e in out] == [
        (me, {"direction": "to", "side": "client", "resource": {**me, "name": "bookstore-v1"}}, 4),
        (me, {"direction": "to", "side": "client", "resource": {**me, "name": "bookstore-v2"}}, 1),
    ]
    back = aggregate.edges(wider_view(), rows, w, "Pod", ("default", "bookstore-v2-0"))
    assert [e["edge"] for e in back] == [
        {
            "direction": "from",
            "side": "client",
            "resource": {"kind": "Pod", "namespace": "default", "name": "bookbuyer-0"},
        }
    ]


def test_split_items_name_the_split_and_the_client_side() -> None:
    w = Window(T0, 30)
    split = SplitView("default", "canary", "bookstore", (("bookstore-v1", Fraction(1)),), None)
    (item,) = aggregate.split_items(view(), aggregate.rows_from(samples(KNOWN), w), w, split)
    assert item["resource"] == {"kind": "TrafficSplit", "namespace": "default", "name": "canary"}
    assert item["edge"] == {"direction": "from", "side": "client", "resource": {}}
