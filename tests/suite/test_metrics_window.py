"""MetricsWindow on a fake clock (the quiet second, a query window that holds the test's traffic and nothing
older, the wait for the scrape delay, roll-off), and parse_metrics on the spec's examples and on answers that
are not valid Traffic Metrics."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from smi_conformance.suite.metrics import MetricSample, MetricsError, MetricsWindow, parse_metrics
from smi_conformance.suite.registry import load_suite
from smi_conformance.workload.traffic import Outcome, OutcomeGroup, TrafficResult

API = "metrics.smi-spec.io/v1alpha1"


class FakeClock:
    """Time moves only when the window sleeps, or when the test says traffic took time."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


def window(now: float, scrape_delay_s: float) -> tuple[MetricsWindow, FakeClock]:
    clock = FakeClock(now)
    return MetricsWindow(scrape_delay_s, clock=clock, sleep=clock.sleep), clock


def test_begin_waits_for_a_whole_second_a_full_second_after_now() -> None:
    w, clock = window(100.3, 1.0)
    assert w.begin() is w
    assert w.start == 102.0  # the second 101..102 is the quiet one: nothing earlier can end inside it
    assert 102.0 < clock.now < 102.1
    assert max(clock.sleeps) <= 1.0  # sleeps in steps of at most a second
    w, clock = window(100.0, 1.0)
    w.begin()
    assert w.start == 101.0 and clock.now > 101.0


def test_query_window_holds_the_traffic_and_waits_for_the_scrape_delay() -> None:
    w, clock = window(100.3, 1.0)
    w.begin()  # now 102.02
    clock.now += 1.5  # the traffic
    w.close()
    assert w.end == pytest.approx(103.52)
    seconds = w.ready()
    assert clock.now >= w.end + 1.0  # the mesh had its scrape delay to count the last request
    assert seconds == 4.0  # asked at 105.05: 3.05 s since the start, rounded up to whole seconds
    assert clock.now - seconds <= w.start  # every request of the window is inside the query
    assert clock.now - seconds > w.start - 1  # nothing from before the quiet second is


def test_ready_and_after_need_a_closed_window() -> None:
    w, _ = window(10.0, 0.0)
    w.begin()
    with pytest.raises(RuntimeError, match="close"):
        w.ready()
    with pytest.raises(RuntimeError, match="close"):
        w.after(5)


@given(
    now=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    traffic_s=st.floats(min_value=0, max_value=20),
    delay_s=st.floats(min_value=0, max_value=30),
    late_s=st.floats(min_value=0, max_value=0.9),
)
def test_the_query_covers_the_traffic_and_nothing_before_the_quiet_second(
    now: float, traffic_s: float, delay_s: float, late_s: float
) -> None:
    """Whatever the time, the traffic's length and the scrape delay, and even when the query reaches the mesh
    up to 0.9 s after ready() returned: [query - window, query] holds [start, end] and begins after the
    previous traffic (everything before ``now``) with a whole quiet second between."""
    w, clock = window(now, delay_s)
    w.begin()
    assert w.start >= math.floor(now) + 1 and w.start - now >= 1.0 - 1e-9
    clock.now += traffic_s
    w.close()
    seconds = w.ready()
    assert seconds == int(seconds) >= 1
    asked = clock.now + late_s
    assert asked - seconds <= w.start + 1e-9
    assert asked - seconds > math.ceil(now)  # a mesh with whole-second buckets counts none before the start
    assert clock.now >= w.end + delay_s  # type: ignore[operator]


@given(
    now=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    traffic_s=st.floats(min_value=0, max_value=20),
    delay_s=st.floats(min_value=0, max_value=30),
    window_s=st.integers(min_value=1, max_value=120),
)
def test_after_waits_until_a_window_no_longer_reaches_the_traffic(
    now: float, traffic_s: float, delay_s: float, window_s: int
) -> None:
    w, clock = window(now, delay_s)
    w.begin()
    clock.now += traffic_s
    w.close()
    w.after(window_s)
    assert w.end is not None
    # the oldest second such a query counts begins after the last request was countable
    assert math.floor(clock.now - window_s) > w.end + delay_s


def test_after_with_zero_delay_is_one_second_and_the_window_past_the_traffic() -> None:
    w, clock = window(50.5, 0.0)
    w.begin()  # 52.02
    clock.now = 53.0
    w.close()
    w.after(10)
    assert clock.now == pytest.approx(53 + 10 + 1.05)


# --------------------------------------------------------------------------------------------- parsing
@pytest.fixture()
def spec_example(smi_spec_dir: Path) -> Callable[[int], dict[str, Any]]:
    """An example of the metrics spec, with the apiVersion an API server adds (the spec's text omits it)."""

    def load(n: int) -> dict[str, Any]:
        text = (smi_spec_dir / "examples" / f"traffic-metrics-v1alpha1-{n}.yaml").read_text()
        return {"apiVersion": API, **yaml.safe_load(text)}

    return load


def test_the_spec_examples_parse_with_latency_in_milliseconds(
    spec_example: Callable[[int], dict[str, Any]],
) -> None:
    [pod] = parse_metrics(spec_example(1))
    assert pod == MetricSample(
        kind="Pod",
        namespace="foobar",
        name="foo-775b9cbd88-ntxsl",
        direction="to",
        peer="Pod foobar/baz-577db7d977-lsk2q",
        side="client",
        window="30s",
        success=100.0,
        failure=100.0,
        latency_ms={"p50": 10.0, "p90": 10.0, "p99": 10.0},  # "10m" seconds
    )
    assert pod.label == "Pod foobar/foo-775b9cbd88-ntxsl to Pod foobar/baz-577db7d977-lsk2q (client side)"
    [backend] = parse_metrics(spec_example(10))
    assert (backend.kind, backend.name, backend.backend, backend.direction, backend.peer) == (
        "TrafficSplit",
        "my-traffic-split",
        "my-service-v1",
        "from",
        "",
    )
    assert (
        backend.label
        == "TrafficSplit foobar/my-traffic-split backend my-service-v1 from anything (client side)"
    )


def test_a_list_gives_one_sample_per_item(spec_example: Callable[[int], dict[str, Any]]) -> None:
    items = [spec_example(1), spec_example(10)]
    listed = parse_metrics(
        {"apiVersion": API, "kind": "TrafficMetricsList", "resource": {"kind": "Pod"}, "items": items}
    )
    assert [s.kind for s in listed] == ["Pod", "TrafficSplit"]
    empty = {"apiVersion": API, "kind": "TrafficMetricsList", "resource": {"kind": "Pod"}, "items": []}
    assert parse_metrics(empty) == []


def metrics(*entries: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "TrafficMetrics",
        "resource": {"kind": "Deployment", "namespace": "ns", "name": "web"},
        "timestamp": "2019-04-08T22:25:55Z",
        "window": "30s",
        "metrics": list(entries),
    }


def test_units_counts_and_missing_metrics() -> None:
    [s] = parse_metrics(
        metrics(
            {"name": "p50_response_latency", "unit": "us", "value": "1500"},
            {"name": "p90_response_latency", "unit": "Seconds", "value": "0.25"},
            {"name": "p99_response_latency", "value": "7"},  # no unit: milliseconds
            {"name": "success_count", "value": "12.5"},  # Prometheus increase() extrapolates
        )
    )
    assert s.latency_ms == {"p50": 1.5, "p90": 250.0, "p99": 7.0}
    assert (s.success, s.failure) == (12.5, None)
    assert s.label == "Deployment ns/web"


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ([], "expected a TrafficMetrics or TrafficMetricsList, got 'list'"),
        ("404 page not found", "expected a TrafficMetrics or TrafficMetricsList, got 'str'"),
        (
            {"apiVersion": "v1", "kind": "Status", "status": "Failure"},
            "expected a TrafficMetrics or TrafficMetricsList, got 'Status'",
        ),
        ({**metrics(), "apiVersion": None}, "not a valid TrafficMetrics: not a known SMI kind"),
        ({**metrics(), "window": "thirty"}, "window: window must be a duration"),
        (metrics({"name": "success_count", "value": "many"}), "metrics[0].value: value must be a Kubernetes"),
        (
            metrics({"name": "p50_response_latency", "unit": "fortnights", "value": "1"}),
            "p50_response_latency has unit 'fortnights'; known: ms,",
        ),
        (
            {
                "apiVersion": API,
                "kind": "TrafficMetricsList",
                "resource": {"kind": "Pod"},
                "items": [{"kind": 1}],
            },
            "not a valid TrafficMetricsList",
        ),
        (metrics({"name": "success_count", "value": "-5"}), "success_count is negative (-5)"),
        (
            metrics({"name": "p99_response_latency", "unit": "ms", "value": "-1"}),
            "p99_response_latency is negative (-1)",
        ),
        (
            metrics({"name": "success_count", "value": "1"}, {"name": "success_count", "value": "2"}),
            "success_count appears twice",
        ),
    ],
    ids=[
        "list",
        "text",
        "k8s-status",
        "no-api-version",
        "bad-window",
        "bad-quantity",
        "unknown-unit",
        "bad-item",
        "negative-count",
        "negative-latency",
        "duplicate-metric",
    ],
)
def test_answers_that_are_not_valid_traffic_metrics_are_metrics_errors(answer: Any, says: str) -> None:
    before = copy.deepcopy(answer)
    with pytest.raises(MetricsError) as err:
        parse_metrics(answer)
    assert says in str(err.value)
    assert answer == before


def test_the_counts_a_metrics_test_expects_fail_only_5xx() -> None:
    """What metrics-counts-in-window and metrics-trafficsplit-backends expect, from what the traffic driver
    got back: a 500 is a failure, a 404 or a 403 a success (SMI counts only 5xx); answers no backend gave (no
    version) are not expected in any backend's counts. (The same rule is checked end to end by running the
    suite on the reference mesh, tests/suite/test_faults.py.)"""
    # the suite's modules register their tests in order when loaded first (an earlier import of one module
    # alone would put its tests first in the registry)
    load_suite()
    from smi_conformance.suite.tests.test_metrics import _by_version

    def result(*groups: tuple[int, str, int]) -> TrafficResult:
        return TrafficResult(
            sent=sum(n for *_, n in groups),
            groups=[OutcomeGroup(outcome=Outcome(status=s, version=v), count=n) for s, v, n in groups],
            elapsed_s=1.0,
        )

    got = _by_version(
        [
            result((200, "v1", 5), (500, "v1", 3), (404, "v2", 2)),
            result((503, "v2", 1), (499, "v2", 4), (403, "", 6)),
        ]
    )
    assert got == {"v1": {"success": 5, "failure": 3}, "v2": {"success": 6, "failure": 1}}
