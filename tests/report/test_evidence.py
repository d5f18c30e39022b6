"""Chart data read from real checks' evidence, and no chart (None) for shapes the readers do not know."""

from __future__ import annotations

import pytest

from smi_conformance.report.evidence import access_cell, count_rows, latency_rows, split_group
from smi_conformance.report.model import CheckResult, ConformanceReport

from .reports import BROKEN, REFERENCE, load, result_of


def test_each_canary_step_is_one_group_with_the_counts_of_its_check() -> None:
    canary = result_of(load(REFERENCE), "split-canary-sequence")
    groups = [split_group(c) for c in canary.checks]
    assert [g.label for g in groups if g] == [
        "canary step 100/0",
        "canary step 75/25",
        "canary step 50/50",
        "canary step 0/100",
    ]
    for check, group in zip(canary.checks, groups, strict=True):
        assert group is not None and group.passed
        counts = check.observed["counts"]
        assert group.n == sum(counts.values())
        for bar in group.bars:
            assert bar.count == counts.get(bar.backend, 0)
            assert bar.observed == pytest.approx(bar.count / group.n)
            stats = next(b for b in check.statistics["backends"] if b["name"] == bar.backend)
            assert bar.expected == pytest.approx(stats["expected_share"])
            assert bar.interval is not None and bar.interval[0] <= bar.observed <= bar.interval[1]
    assert [b.expected for b in groups[1].bars] == [0.75, 0.25]  # type: ignore[union-attr]


def test_a_failed_weight_check_and_a_split_that_never_showed() -> None:
    report = load(BROKEN)
    off = split_group(result_of(report, "split-canary-sequence").checks[-1])
    assert off is not None and not off.passed
    v1 = off.bars[0]
    assert v1.backend == "web-v1" and v1.expected == 0.75 and v1.observed - v1.expected > 0.05
    never = split_group(result_of(report, "split-zero-weight").checks[-1])
    assert never is not None and not never.passed
    assert never.bars[0].expected == 0 and never.bars[0].count > 0  # from the last probe
    assert never.bars[0].interval is None  # no statistics: the weight check never started


def test_quantity_weights_and_long_names_label_the_group_by_its_weights() -> None:
    check = result_of(load(REFERENCE), "split-three-backends").checks[0]
    group = split_group(check)
    assert group is not None and group.label == "50/30/20"
    assert [round(b.expected, 2) for b in group.bars] == [0.5, 0.3, 0.2]


def test_access_cells_and_the_failed_one() -> None:
    test = result_of(load(BROKEN), "access-http-methods")
    cells = [access_cell(c) for c in test.checks]
    assert all(cells)
    bad = [c for c in cells if c and not c.passed]
    assert len(bad) == 1 and bad[0].request.startswith("POST") and not bad[0].allowed
    assert "200 from" in bad[0].seen


def test_counts_expected_against_reported_with_traffic_the_test_did_not_send() -> None:
    check = result_of(load(BROKEN), "metrics-counts-in-window").checks[1]
    rows = count_rows(check)
    assert rows is not None
    by_label = {r.label: r for r in rows}
    for key, metrics in check.expected.items():
        for metric, sent in metrics.items():
            row = by_label[f"{key} {metric}"]
            assert row.expected == sent and row.observed == check.observed[key][metric]
    extra = [r for r in rows if r.expected == 0]
    assert extra and all(not r.ok and r.observed for r in extra)
    assert not any(r.label.startswith("Deployment smi-conformance/client") for r in rows)  # zeros left out


def test_a_window_that_rolled_off() -> None:
    after = check_named(load(REFERENCE), "metrics-window-rolls-off", "older than the window")
    rows = count_rows(after)
    assert rows and all(r.ok and r.expected == 0 for r in rows)
    still = CheckResult(
        name="after", kind="metrics", passed=False, message="", expected={"counted": 0}, observed={"edge": 12}
    )
    assert [(r.label, r.observed, r.ok) for r in count_rows(still) or []] == [("edge", 12, False)]


def check_named(report: ConformanceReport, test_id: str, words: str) -> CheckResult:
    return next(c for c in result_of(report, test_id).checks if words in c.name)


def test_latency_bounds_per_percentile_and_one_range_for_every_edge() -> None:
    check = result_of(load(BROKEN), "metrics-latency-percentiles").checks[-1]
    rows = latency_rows(check)
    assert rows and [r.label for r in rows] == ["p50", "p90", "p99"]
    assert {r.label: r.value for r in rows} == check.observed
    assert any(not r.ok for r in rows)
    assert count_rows(check) is None  # bounds are not counts
    shared = CheckResult(
        name="latency",
        kind="metrics",
        passed=True,
        message="",
        expected={"low_ms": 100, "high_ms": 200},  # either spelling
        observed={"edge a": {"p50": 150.0, "p99": 250.0}},
    )
    assert [(r.label, r.ok) for r in latency_rows(shared) or []] == [
        ("edge a p50", True),
        ("edge a p99", False),
    ]


@pytest.mark.parametrize(
    "kind, expected, observed",
    [
        ("split", {"weights": {"a": "x"}}, {"counts": {"a": 1}}),  # not a number
        ("split", {"weights": {"a": 0}}, {"counts": {"a": 1}}),  # no weight at all
        ("split", {"backends": ["a"]}, {"counts": {"a": 1}}),  # served-by: no shares
        ("split", {"weights": {"a": 1}}, {"counts": {"a": -1}}),
        ("access", {"client": "c"}, None),
        ("metrics", {"kind": "APIResourceList"}, {"kind": "APIResourceList"}),
        ("metrics", None, None),
    ],
)
def test_unknown_shapes_give_no_chart(kind: str, expected: object, observed: object) -> None:
    check = CheckResult(name="n", kind=kind, passed=True, message="", expected=expected, observed=observed)
    assert split_group(check) is None
    assert access_cell(check) is None
    assert count_rows(check) is None
    assert latency_rows(check) is None
