"""The Prometheus pages (a proxy's and the merged one), read with prometheus_client's own parser, as a scraper
would: every family once with its type, histograms cumulative with +Inf = count and a sum, labels escaped."""

from __future__ import annotations

import time

from prometheus_client.parser import text_string_to_metric_families

from reference_mesh.proxy import prometheus
from reference_mesh.proxy.telemetry import Edge, Telemetry


def edge(service: str, backend: str = "web-v1.default") -> Edge:
    return Edge("outbound", "http", "spiffe://td/ns/a/sa/x", "x-0", service, backend, "", "", "web-0", 8080)


def telemetry() -> Telemetry:
    t = Telemetry()
    now = time.time()
    for latency, code in ((0.7, "200"), (3.5, "200"), (42.0, "503"), (900.0, "200")):
        t.record(edge("web.default"), finished_at=now, success=code == "200", code=code, latency_ms=latency)
    t.record(edge('we"ird\\name'), finished_at=now, success=True, code="200", latency_ms=1.0)
    return t


def families(text: str) -> dict[str, object]:
    found = list(text_string_to_metric_families(text))
    names = [f.name for f in found]
    assert len(names) == len(set(names)), names  # every family in one group
    return {f.name: f for f in found}


def test_one_proxy_page_parses_with_types_and_consistent_histograms() -> None:
    fams = families(prometheus.render(telemetry(), "7"))
    assert {n: f.type for n, f in fams.items()} == {  # type: ignore[attr-defined]
        "mesh_requests": "counter",
        "mesh_response_latency_ms": "histogram",
        "mesh_config_info": "gauge",
    }
    requests = fams["mesh_requests"].samples  # type: ignore[attr-defined]
    web = {s.labels["code"]: s.value for s in requests if s.labels["service"] == "web.default"}
    assert web == {"200": 3, "503": 1}
    weird = [s for s in requests if s.labels["service"] == 'we"ird\\name']
    assert len(weird) == 1  # the quote and backslash survived the round trip
    hist = [
        s
        for s in fams["mesh_response_latency_ms"].samples
        if s.labels["service"] == "web.default"  # type: ignore[attr-defined]
    ]
    buckets = [(s.labels["le"], s.value) for s in hist if s.name.endswith("_bucket")]
    values = [v for _, v in buckets]
    assert values == sorted(values) and buckets[-1] == ("+Inf", 4)
    assert dict(buckets)["1"] == 1 and dict(buckets)["5"] == 2 and dict(buckets)["50"] == 3
    (count,) = [s.value for s in hist if s.name.endswith("_count")]
    (total,) = [s.value for s in hist if s.name.endswith("_sum")]
    assert count == 4 and abs(total - (0.7 + 3.5 + 42.0 + 900.0)) <= 0.023 * total
    (info,) = fams["mesh_config_info"].samples  # type: ignore[attr-defined]
    assert info.labels == {"version": "7"}


def test_merged_pages_keep_families_together_and_label_the_pod() -> None:
    page = prometheus.render(telemetry(), "7")
    merged = prometheus.merge(
        [({"namespace": "a", "pod": "x-0"}, page), ({"namespace": "a", "pod": "y-0"}, page)]
    )
    fams = families(merged)
    for name in ("mesh_requests", "mesh_response_latency_ms", "mesh_config_info"):
        pods = {s.labels["pod"] for s in fams[name].samples}  # type: ignore[attr-defined]
        assert pods == {"x-0", "y-0"}, name
    info = fams["mesh_config_info"].samples  # type: ignore[attr-defined]
    assert [(s.labels["pod"], s.labels["version"]) for s in info] == [("x-0", "7"), ("y-0", "7")]
    assert prometheus.merge([]).count("# TYPE") == 3  # no proxy: the families, empty
