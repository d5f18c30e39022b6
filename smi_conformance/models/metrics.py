"""metrics.smi-spec.io: TrafficMetrics and TrafficMetricsList, served by an aggregated API (not CRDs).

The spec's v1alpha1 document carries the 2020 v1alpha2 text (edge ``side``, TrafficSplit ``backend``);
SPEC-NOTES resolves this as: the API serves v1alpha1 with the document's fields. So v1alpha1 here accepts
``side`` and ``backend`` (both optional, as the original v1alpha1 had neither), and v1alpha2 (smi-sdk-go)
requires ``side`` on every edge. Values are Quantities, because the reference server fills counts with
Prometheus ``increase()`` and latencies with fractions of a unit; every latency value carries its ``unit``.
"""

# No `from __future__ import annotations` here: see smi_conformance.models._base.
import re
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, GetCoreSchemaHandler, GetJsonSchemaHandler, StringConstraints
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from smi_conformance.models._base import FORMAT, TYPE, Expect, SMIModel, SMIObject, custom_error, plain_schema
from smi_conformance.models.meta import LabelSelector, ListMeta, NonEmptyStr
from smi_conformance.models.quantity import Quantity

GROUP = "metrics.smi-spec.io"

DURATION_PATTERN = r"^[-+]?(?:0|(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+)$"
Duration = Annotated[
    str,
    StringConstraints(pattern=DURATION_PATTERN),
    Expect("a duration such as '30s', '1m30s' or '250ms'"),
]
"""A Go duration string (metav1.Duration), e.g. 30s."""

_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
RFC3339_PATTERN = _RFC3339.pattern


class Timestamp(datetime):
    """An RFC 3339 timestamp with a time zone. YAML loaders hand these over as datetimes, JSON as strings;
    both are accepted, and it is written back as an RFC 3339 string."""

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return plain_schema(_parse_timestamp, _format_timestamp)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "format": "date-time"}


def _parse_timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise custom_error(FORMAT, f"must have a time zone (e.g. 'Z'), got {value.isoformat()!r}")
        return value
    if not isinstance(value, str):
        raise custom_error(TYPE, "must be an RFC 3339 timestamp such as '2019-04-08T22:25:55Z'")
    match = _RFC3339.match(value)
    if match is None:
        raise custom_error(
            FORMAT, f"must be an RFC 3339 timestamp such as '2019-04-08T22:25:55Z', got {value!r}"
        )
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micros = int((fraction or ".0")[1:7].ljust(6, "0"))
    if zone in ("Z", "z"):
        tz = timezone.utc
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * (int(zone[1:3]) * 60 + int(zone[4:6])) * timedelta(minutes=1))
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tz)
    except ValueError as exc:
        raise custom_error(FORMAT, f"must be a valid date and time, got {value!r} ({exc})") from None


def _format_timestamp(value: datetime) -> str:
    if value.utcoffset() == timezone.utc.utcoffset(None):
        return value.replace(tzinfo=None).isoformat() + "Z"
    return value.isoformat()


class ObjectReference(SMIModel):
    """A reference to a Kubernetes object (core/v1 ObjectReference); every field optional, {} means "any"."""

    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    uid: str | None = None
    api_version: str | None = None
    resource_version: str | None = None
    field_path: str | None = None


class EdgeV1alpha1(SMIModel):
    """The other end of the traffic the metrics describe."""

    direction: Literal["to", "from"]
    """"to": traffic the resource sends to edge.resource; "from": traffic it receives from it."""
    side: Literal["client", "server"] | None = None
    """Where the metrics are measured."""
    resource: ObjectReference
    """The other end; {} for all traffic."""


class Edge(EdgeV1alpha1):
    """The other end of the traffic the metrics describe; ``side`` is required (v1alpha2)."""

    side: Literal["client", "server"]
    """Where the metrics are measured."""


class Backend(SMIModel):
    """The TrafficSplit branch (backend) these metrics describe."""

    apex: NonEmptyStr
    """The TrafficSplit's root service."""
    name: NonEmptyStr
    """The backend service."""
    weight: Annotated[int, Field(ge=0), Expect("an integer >= 0")]
    """The backend's weight in the split."""


class Metric(SMIModel):
    """One measurement: p99/p90/p50_response_latency (with a unit), success_count, failure_count."""

    name: NonEmptyStr
    """Metric name."""
    unit: str | None = None
    """Unit of the value, e.g. "ms" or "seconds"."""
    value: Quantity
    """The value, a Kubernetes Quantity (exact; counts may be fractional)."""


class _TrafficMetricsBody(SMIModel):
    metadata: ListMeta | None = None
    timestamp: Timestamp
    """End of the window the metrics were collected over."""
    window: Duration
    """Length of that window."""
    resource: ObjectReference
    """The resource the metrics belong to."""
    edge: EdgeV1alpha1 | None = None
    """Restricts the metrics to traffic with one other resource."""
    backend: Backend | None = None
    """For a TrafficSplit: the backend these metrics describe."""
    metrics: list[Metric]
    """The measurements."""


class _TrafficMetricsBodyV1alpha2(_TrafficMetricsBody):
    edge: Edge | None = None
    """Restricts the metrics to traffic with one other resource."""


class _TrafficMetrics(SMIObject):
    KIND: ClassVar[str] = "TrafficMetrics"
    GROUP: ClassVar[str] = GROUP
    kind: Literal["TrafficMetrics"]


class TrafficMetricsV1alpha1(_TrafficMetricsBody, _TrafficMetrics):
    """metrics.smi-spec.io/v1alpha1 TrafficMetrics, with the fields of the spec document (side, backend)."""

    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha1",)
    api_version: Literal["metrics.smi-spec.io/v1alpha1"]


class TrafficMetricsV1alpha2(_TrafficMetricsBodyV1alpha2, _TrafficMetrics):
    """metrics.smi-spec.io/v1alpha2 TrafficMetrics (smi-sdk-go, unreleased in the spec): edges have a side."""

    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha2",)
    api_version: Literal["metrics.smi-spec.io/v1alpha2"]


class TrafficMetricsItemV1alpha1(_TrafficMetricsBody):
    """A TrafficMetrics inside a list; apiVersion and kind may be left out there."""

    api_version: Literal["metrics.smi-spec.io/v1alpha1"] | None = None
    kind: Literal["TrafficMetrics"] | None = None


class TrafficMetricsItemV1alpha2(_TrafficMetricsBodyV1alpha2):
    """A TrafficMetrics inside a list; apiVersion and kind may be left out there."""

    api_version: Literal["metrics.smi-spec.io/v1alpha2"] | None = None
    kind: Literal["TrafficMetrics"] | None = None


class _TrafficMetricsList(SMIObject):
    KIND: ClassVar[str] = "TrafficMetricsList"
    GROUP: ClassVar[str] = GROUP
    kind: Literal["TrafficMetricsList"]
    metadata: ListMeta | None = None
    resource: ObjectReference
    """What was listed: a kind (and namespace), or one resource whose edges are listed."""
    selector: LabelSelector | None = None
    """Label selector that filtered the items."""


class TrafficMetricsListV1alpha1(_TrafficMetricsList):
    """metrics.smi-spec.io/v1alpha1 TrafficMetricsList: metrics of several resources or of one's edges."""

    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha1",)
    api_version: Literal["metrics.smi-spec.io/v1alpha1"]
    items: list[TrafficMetricsItemV1alpha1] | None = None
    """The metrics; null is read as an empty list, as Kubernetes clients do."""


class TrafficMetricsListV1alpha2(_TrafficMetricsList):
    """metrics.smi-spec.io/v1alpha2 TrafficMetricsList."""

    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha2",)
    api_version: Literal["metrics.smi-spec.io/v1alpha2"]
    items: list[TrafficMetricsItemV1alpha2] | None = None
    """The metrics; null is read as an empty list, as Kubernetes clients do."""
