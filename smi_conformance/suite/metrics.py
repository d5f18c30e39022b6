"""Reading the Traffic Metrics API as a conformance test needs it: exact windows and comparable samples.

Metrics are compared with traffic the test sent itself, so the window a query covers must hold that traffic
and nothing else. :class:`MetricsWindow` arranges it without knowing how a mesh aligns its windows: it starts
a quiet second after any earlier traffic of the test, the traffic is sent, and the query waits for the mesh's
declared scrape delay and asks for a window (whole seconds, rounded up) from the quiet second on. A mesh that
aligns windows to whole seconds (the reference mesh) then counts exactly the test's traffic; one that
extrapolates (Prometheus ``increase()``) gets its declared tolerance.

Every answer is also checked against the metrics.smi-spec.io/v1alpha1 models: a response that is not a valid
TrafficMetrics / TrafficMetricsList is itself a conformance failure.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from smi_conformance import models

__all__ = ["PREFIX", "MetricSample", "MetricsError", "MetricsWindow", "parse_metrics"]

PREFIX = "/apis/metrics.smi-spec.io/v1alpha1"
#: Latency units a mesh may report, in milliseconds.
UNITS_MS = {
    "ms": 1.0,
    "milliseconds": 1.0,
    "s": 1000.0,
    "seconds": 1000.0,
    "us": 0.001,
    "microseconds": 0.001,
}


class MetricsError(Exception):
    """The Traffic Metrics API answered with something that is not valid metrics.smi-spec.io/v1alpha1."""


@dataclass(frozen=True)
class MetricSample:
    """One TrafficMetrics item, reduced to what tests compare."""

    kind: str
    namespace: str
    name: str
    #: ``to`` / ``from`` and the other end (kind/namespace/name), or empty for the resource's own metrics.
    direction: str = ""
    peer: str = ""
    side: str = ""
    #: TrafficSplit items: the backend service.
    backend: str = ""
    window: str = ""
    success: float | None = None
    failure: float | None = None
    latency_ms: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        what = f"{self.kind} {self.namespace}/{self.name}"
        if self.backend:
            what += f" backend {self.backend}"
        if self.direction:
            what += f" {self.direction} {self.peer or 'anything'}" + (
                f" ({self.side} side)" if self.side else ""
            )
        return what


def _ref(ref: Any) -> str:
    if ref is None or not (ref.kind or ref.name):
        return ""
    return f"{ref.kind or '?'} {ref.namespace or ''}/{ref.name or ''}"


def _sample(item: Any) -> MetricSample:
    values: dict[str, Fraction] = {}
    units: dict[str, str | None] = {}
    for metric in item.metrics:
        if metric.name in values:
            raise MetricsError(f"{metric.name} appears twice in the metrics of {_ref(item.resource)}")
        if metric.value.value < 0:  # counts and latencies: a negative one is no measurement
            raise MetricsError(
                f"{metric.name} is negative ({metric.value}) in the metrics of {_ref(item.resource)}"
            )
        values[metric.name] = metric.value.value
        units[metric.name] = metric.unit
    latency = {}
    for name in ("p50", "p90", "p99"):
        key = f"{name}_response_latency"
        if key in values:
            unit = (units[key] or "ms").lower()
            if unit not in UNITS_MS:
                raise MetricsError(f"{key} has unit {units[key]!r}; known: {', '.join(UNITS_MS)}")
            latency[name] = float(values[key]) * UNITS_MS[unit]
    edge = item.edge
    return MetricSample(
        kind=item.resource.kind or "",
        namespace=item.resource.namespace or "",
        name=item.resource.name or "",
        direction=edge.direction if edge is not None else "",
        peer=_ref(edge.resource) if edge is not None else "",
        side=(edge.side or "") if edge is not None else "",
        backend=item.backend.name if item.backend is not None else "",
        window=str(item.window),
        success=float(values["success_count"]) if "success_count" in values else None,
        failure=float(values["failure_count"]) if "failure_count" in values else None,
        latency_ms=latency,
    )


def parse_metrics(doc: Any) -> list[MetricSample]:
    """A TrafficMetrics or TrafficMetricsList (v1alpha1) as samples; MetricsError naming the first problem."""
    if not isinstance(doc, dict) or doc.get("kind") not in ("TrafficMetrics", "TrafficMetricsList"):
        kind = doc.get("kind") if isinstance(doc, dict) else type(doc).__name__
        raise MetricsError(f"expected a TrafficMetrics or TrafficMetricsList, got {kind!r}")
    try:
        model: Any = models.load(doc)
    except (models.SMIValidationError, LookupError) as exc:
        raise MetricsError(f"not a valid {doc.get('kind')}: {exc}") from None
    items = (model.items or []) if doc["kind"] == "TrafficMetricsList" else [model]
    return [_sample(i) for i in items]


class MetricsWindow:
    """A time window holding only the traffic sent inside it (see the module docstring).

    ``begin()`` waits for the quiet boundary; after the traffic, ``close()`` marks its end; ``query_s()``
    says how long a window the query asks for and waits until the mesh has had ``scrape_delay_s`` to count.
    """

    def __init__(
        self,
        scrape_delay_s: float,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.scrape_delay_s = scrape_delay_s
        self.clock, self.sleep = clock, sleep
        self.start = 0.0
        self.end: float | None = None

    def _until(self, moment: float) -> None:
        while (left := moment - self.clock()) > 0:
            self.sleep(min(left, 1.0))

    def begin(self) -> MetricsWindow:
        """Wait for a whole second at least one full second after now: nothing sent before counts in it."""
        self.start = math.ceil(self.clock()) + 1.0
        self._until(self.start + 0.02)
        return self

    def close(self) -> None:
        self.end = self.clock()

    def ready(self) -> float:
        """Wait until the traffic has been countable for the scrape delay; returns the seconds a query should
        cover."""
        if self.end is None:
            raise RuntimeError("close() the window before querying it")
        self._until(math.ceil(self.end + self.scrape_delay_s) + 0.05)
        return float(math.ceil(self.clock() - self.start))

    def after(self, window_s: float) -> None:
        """Wait until a query with a ``window_s`` window can no longer see any of this window's traffic."""
        if self.end is None:
            raise RuntimeError("close() the window first")
        self._until(math.ceil(self.end + self.scrape_delay_s) + window_s + 1.05)
