"""Chart data read from a check's evidence (``expected``, ``observed``, ``statistics``).

The report model guarantees only that a check has those fields; their shape is the suite's (see
``smi_conformance.suite.context``) and may grow. Each reader here returns ``None`` when a check does not have
the shape it knows, so a renderer shows the raw evidence instead of a wrong chart. Statistics keys are read in
either spelling (``expected_share`` or ``expectedShare``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import yaml

from smi_conformance.report.model import CheckResult

__all__ = [
    "AccessCell",
    "CountRow",
    "LatencyRow",
    "ShareBar",
    "SplitGroup",
    "access_cell",
    "count_rows",
    "evidence_text",
    "latency_rows",
    "split_group",
]


@dataclass(frozen=True)
class ShareBar:
    """One backend of a weight check: shares are fractions of the check's requests (0..1)."""

    backend: str
    expected: float
    observed: float
    count: int
    #: Anytime-valid confidence interval of the observed share, when the statistics give one.
    interval: tuple[float, float] | None


@dataclass(frozen=True)
class SplitGroup:
    """A weight check as one group of bars (a canary step, a split)."""

    #: The check's name when short (a canary step), else the weights as written ("50/30/20").
    label: str
    passed: bool
    n: int
    bars: tuple[ShareBar, ...]


@dataclass(frozen=True)
class AccessCell:
    """One access check: who called what, what SMI requires and what the mesh did."""

    source: str
    destination: str
    request: str
    allowed: bool
    passed: bool
    #: The mesh's answers, summarised ("status 403: 20", "200 from web/v1: 4").
    seen: str


@dataclass(frozen=True)
class CountRow:
    """One count the Traffic Metrics API should report: what the suite sent, what the API said."""

    label: str
    expected: float
    observed: float | None
    ok: bool


@dataclass(frozen=True)
class LatencyRow:
    """One reported latency percentile against the range the check allows."""

    label: str
    #: Milliseconds; None when the API did not report it.
    value: float | None
    low_ms: float
    high_ms: float

    @property
    def ok(self) -> bool:
        return self.value is not None and self.low_ms <= self.value <= self.high_ms


def _key(data: Mapping[str, Any], snake: str) -> Any:
    camel = snake.split("_")[0] + "".join(part.title() for part in snake.split("_")[1:])
    return data.get(snake, data.get(camel))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _weight(value: Any) -> Fraction | None:
    try:
        weight = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return None
    return weight if weight >= 0 else None


def _interval(statistics: Mapping[str, Any] | None, backend: str) -> tuple[float, float] | None:
    backends = statistics.get("backends") if statistics else None
    if not isinstance(backends, list):
        return None
    for item in backends:
        if isinstance(item, Mapping) and item.get("name") == backend:
            interval = item.get("interval")
            if isinstance(interval, (list, tuple)) and len(interval) == 2:
                low, high = _number(interval[0]), _number(interval[1])
                if low is not None and high is not None and 0 <= low <= high <= 1:
                    return (low, high)
    return None


def split_group(check: CheckResult) -> SplitGroup | None:
    """A weight check's shares (``expected.weights`` and ``observed.counts``, or the last probe of a split
    that never showed), or None for other checks."""
    expected, observed = check.expected, check.observed
    if check.kind != "split" or not isinstance(expected, Mapping) or not isinstance(observed, Mapping):
        return None
    raw_weights = expected.get("weights")
    counts = observed.get("counts", observed.get("lastProbe"))
    if not isinstance(raw_weights, Mapping) or not isinstance(counts, Mapping) or not raw_weights:
        return None
    weights = {str(b): _weight(w) for b, w in raw_weights.items()}
    clean = {b: w for b, w in weights.items() if w is not None}
    total_weight = sum(clean.values(), Fraction(0))
    numbers = {str(b): _number(c) for b, c in counts.items()}
    if len(clean) != len(weights) or not total_weight or any(c is None or c < 0 for c in numbers.values()):
        return None
    n = int(sum(c for c in numbers.values() if c is not None))
    bars = []
    for backend in [*clean, *(b for b in numbers if b not in clean)]:
        count = int(numbers.get(backend) or 0)
        bars.append(
            ShareBar(
                backend=backend,
                expected=float(clean.get(backend, Fraction(0)) / total_weight),
                observed=count / n if n else 0.0,
                count=count,
                interval=_interval(check.statistics, backend),
            )
        )
    label = check.name if len(check.name) <= 28 else "/".join(str(w) for w in raw_weights.values())
    return SplitGroup(label=label, passed=check.passed, n=n, bars=tuple(bars))


def access_cell(check: CheckResult) -> AccessCell | None:
    """An access check's source, destination, request and verdict, or None (e.g. a refused apply)."""
    expected = check.expected
    if check.kind != "access" or not isinstance(expected, Mapping):
        return None
    source, destination, allowed = expected.get("client"), expected.get("service"), expected.get("allowed")
    if not isinstance(source, str) or not isinstance(destination, str) or not isinstance(allowed, bool):
        return None
    observed = check.observed if isinstance(check.observed, Mapping) else {}
    seen = observed.get("confirm", observed.get("lastProbe", ""))
    return AccessCell(
        source=source,
        destination=destination,
        request=str(expected.get("request", "")),
        allowed=allowed,
        passed=check.passed,
        seen=str(seen),
    )


def count_rows(check: CheckResult) -> list[CountRow] | None:
    """A metrics check's counts, expected against reported: per resource or edge and metric (``success``,
    ``failure``), plus reported traffic the test did not send; or, for a window that should count nothing,
    what it still counted. None for other checks."""
    expected, observed = check.expected, check.observed
    if check.kind != "metrics" or not isinstance(expected, Mapping):
        return None
    observed = observed if isinstance(observed, Mapping) else {}
    if set(expected) == {"counted"}:
        return _nothing_counted(_number(expected["counted"]), observed)
    if not expected or not all(isinstance(v, Mapping) for v in expected.values()):
        return None
    if any(_bounds(v) is not None for v in expected.values()):
        return None  # latency bounds, not counts
    verdicts: dict[str, bool] = {}
    items = (check.statistics or {}).get("items")
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping) and isinstance(item.get("name"), str):
            verdicts[item["name"]] = bool(item.get("ok"))
    rows = []
    for key, metrics in expected.items():
        seen = observed.get(key)
        for metric, value in metrics.items():
            sent = _number(value)
            if sent is None:
                return None
            reported = _number(seen.get(metric)) if isinstance(seen, Mapping) else None
            ok = verdicts.get(f"{key} {metric}", reported == sent)
            rows.append(CountRow(f"{key} {metric}", sent, reported, ok))
    for key, seen in observed.items():  # traffic the test did not send
        if key in expected or not isinstance(seen, Mapping):
            continue
        for metric, value in seen.items():
            extra = _number(value)
            if extra:
                rows.append(CountRow(f"{key} {metric}", 0.0, extra, False))
    return rows


def _nothing_counted(want: float | None, observed: Mapping[str, Any]) -> list[CountRow] | None:
    """``expected: {counted: N}``: what each resource or edge still counted (a window that rolled off)."""
    if want is None:
        return None
    counted = {str(k): _number(v) for k, v in observed.items()}
    if not counted:
        return [CountRow("everything", want, 0.0, want == 0)]
    return [CountRow(k, want, v, v == want) for k, v in counted.items()]


def _bounds(node: Any) -> tuple[float, float] | None:
    if not isinstance(node, Mapping):
        return None
    low, high = _number(_key(node, "low_ms")), _number(_key(node, "high_ms"))
    return (low, high) if low is not None and high is not None else None


def latency_rows(check: CheckResult) -> list[LatencyRow] | None:
    """A latency check's reported percentiles with their allowed range, or None. Two shapes: bounds per
    percentile (``expected: {p50: {lowMs, highMs}}``, ``observed: {p50: ms}``) or one range for every
    resource or edge (``expected: {lowMs, highMs}``, ``observed: {edge: {p50: ms}}``)."""
    expected, observed = check.expected, check.observed
    if check.kind != "metrics" or not isinstance(expected, Mapping):
        return None
    observed = observed if isinstance(observed, Mapping) else {}
    shared = _bounds(expected)
    rows = []
    if shared is not None:
        for peer, values in observed.items():
            if not isinstance(values, Mapping):
                return None
            rows += [LatencyRow(f"{peer} {p}", _number(v), *shared) for p, v in values.items()]
        return rows
    if not expected or not all(_bounds(b) is not None for b in expected.values()):
        return None
    for percentile, node in expected.items():
        low, high = _bounds(node) or (0.0, 0.0)
        rows.append(LatencyRow(str(percentile), _number(observed.get(percentile)), low, high))
    return rows


def evidence_text(check: CheckResult) -> str:
    """A check's evidence (expected, observed, statistics, convergence) as YAML, for reading as text."""
    evidence = check.model_dump(
        mode="json",
        by_alias=True,
        exclude_none=True,
        include={"expected", "observed", "statistics", "convergence"},
    )
    if not evidence:
        return ""
    return yaml.safe_dump(evidence, sort_keys=False, allow_unicode=True, width=110).rstrip()
