"""Telemetry: exact window counts and histogram quantile accuracy."""

from __future__ import annotations

import random

from reference_mesh.proxy.telemetry import HIST_GROWTH, Edge, LatencyHistogram, Telemetry, sum_window

EDGE = Edge(
    "outbound",
    "http",
    "spiffe://td/ns/a/sa/web",
    "web-0",
    "api.a",
    "api-v2.a",
    "a/split",
    "spiffe://td/ns/a/sa/api",
    "api-0",
    8080,
)


def test_window_counts_are_exact() -> None:
    t = Telemetry(retention_s=60)
    for second in range(1000, 1010):
        for i in range(second - 995):  # 5, 6, ... 14 requests per second
            t.record(
                EDGE,
                finished_at=second + 0.5,
                success=i % 5 != 0,
                code="200" if i % 5 else "503",
                latency_ms=3.0,
            )
    window = sum_window(t.to_json(since=1003, until=1008))
    assert window.success + window.failure == sum(range(8, 13))
    expected_failures = sum(1 for k in range(8, 13) for i in range(k) if i % 5 == 0)
    assert window.failure == expected_failures == window.codes["503"]
    everything = sum_window(t.to_json())
    assert everything.success + everything.failure == sum(range(5, 15))
    assert t.totals[EDGE].success == everything.success


def test_old_seconds_are_dropped_after_retention() -> None:
    t = Telemetry(retention_s=10)
    t.record(EDGE, finished_at=100, success=True, code="200", latency_ms=1)
    t.record(EDGE, finished_at=200, success=True, code="200", latency_ms=1)
    assert [s for s, _, _ in t.buckets()] == [200]
    assert t.totals[EDGE].success == 2  # cumulative totals stay for Prometheus


def test_quantiles_within_the_documented_error() -> None:
    rng = random.Random(1)
    samples = sorted(rng.lognormvariate(1.0, 1.2) for _ in range(20000))
    hist = LatencyHistogram()
    for s in samples:
        hist.add(s)
    half_width = HIST_GROWTH**0.5
    for q in (0.5, 0.9, 0.99):
        exact = samples[int(q * len(samples)) - 1]
        got = hist.quantile(q)
        assert got is not None and exact / half_width <= got <= exact * half_width * 1.001
    merged = LatencyHistogram.from_json(hist.to_json())
    merged.merge(hist)
    assert merged.total == 40000 and merged.quantile(0.5) == hist.quantile(0.5)
    assert LatencyHistogram().quantile(0.5) is None


def test_quantiles_are_read_at_the_nearest_rank_not_the_mean() -> None:
    """The q-quantile of n latencies is the ceil(q * n)-th smallest (nearest rank), read from its bucket: with
    ten latencies a bucket apart each, 0.25 is the 3rd (2.5 rounded down would be the 2nd), 0.5 the 5th, 0.9
    the 9th; a skewed sample's median is nowhere near its mean. (The Traffic Metrics layer above it is tested
    in tests/control/test_metrics_window.py and end to end in tests/control/test_mesh_e2e.py.)"""
    latencies = [2.0**k for k in range(10)]  # 1 ms .. 512 ms: each in its own bucket
    hist = LatencyHistogram()
    for latency in reversed(latencies):
        hist.add(latency)
    half = HIST_GROWTH**0.5  # a reading is its bucket's middle
    for q, rank in ((0.25, 3), (0.5, 5), (0.9, 9), (0.95, 10), (0.1, 1), (0.01, 1)):
        got = hist.quantile(q)
        exact = latencies[rank - 1]
        assert got is not None and exact / half <= got <= exact * half, (q, got, exact)
    mean = sum(latencies) / len(latencies)  # 102.3 ms, between the 7th and the 8th
    median = hist.quantile(0.5)
    assert median is not None and median < mean / 4


def test_denials_are_counted_within_the_outcome_not_instead_of_it() -> None:
    t = Telemetry(retention_s=60, batch=3)
    for i in range(10):
        denied = i < 4
        t.record(EDGE, finished_at=500, success=True, code="403", latency_ms=1.0, denied=denied)
    t.record(EDGE, finished_at=500, success=False, code="503", latency_ms=1.0)
    window = sum_window(t.to_json())
    assert (window.success, window.failure, window.denied) == (10, 1, 4)
    assert window.codes == {"403": 10, "503": 1}
    assert t.to_json()[0]["seconds"]["500"]["denied"] == 4
    assert t.totals[EDGE].denied == 4
