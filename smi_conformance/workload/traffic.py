"""What the suite asks the traffic driver to send, and what the driver says answered: the driver's wire
format.

The driver (:mod:`.driver`) runs inside a client pod, so its traffic goes through the mesh exactly as an
application's would; the suite reaches it over HTTP and exchanges these models as JSON. Results are aggregated
into groups of identical outcomes (status, answering backend, error kind) with counts, so a batch of 5,000
requests costs one small JSON document, and every group keeps one example body as evidence.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ErrorKind",
    "HttpRequestSpec",
    "Outcome",
    "OutcomeGroup",
    "StreamSpec",
    "TrafficResult",
]

#: How a request or flow failed without an answer. ``closed``: the peer closed the connection before
#: answering (how many meshes deny TCP); ``reset``: a TCP reset; ``refused``: nothing listens; ``timeout``: no
#: answer in time (UDP denials look like this); ``tls``: a TLS handshake failed; ``protocol``: the answer
#: was not
#: valid HTTP (or not the echo greeting); ``mismatch``: a TCP/UDP echo came back altered; ``resolve``: the
#: name did not resolve.
ErrorKind = Literal["closed", "reset", "refused", "timeout", "tls", "protocol", "mismatch", "resolve"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpRequestSpec(_Model):
    """``count`` identical HTTP/1.1 requests over ``concurrency`` connections."""

    #: Where to connect, ``host:port`` (a Service name the cluster resolves, or the sidecar's outbound
    #: listener on the embedded cluster).
    connect: str
    #: The Host header: the Service as the mesh should see it (e.g. ``web.smi-conformance:8080``).
    host: str
    method: str = "GET"
    #: The request target, with its query (sent as given: no normalisation on the client side).
    path: str = "/"
    headers: list[tuple[str, str]] = Field(default_factory=list)
    body: str = ""
    count: Annotated[int, Field(ge=1, le=100_000)] = 1
    concurrency: Annotated[int, Field(ge=1, le=256)] = 8
    #: Reuse connections (HTTP keep-alive); False sends ``connection: close`` and opens one per request.
    keep_alive: bool = True
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 5.0


class StreamSpec(_Model):
    """``count`` TCP connections or UDP flows (a fresh socket each): read the echo's greeting, send
    ``payload_bytes`` and expect them back."""

    connect: str
    protocol: Literal["tcp", "udp"]
    count: Annotated[int, Field(ge=1, le=100_000)] = 1
    concurrency: Annotated[int, Field(ge=1, le=256)] = 8
    payload_bytes: Annotated[int, Field(ge=1, le=60_000)] = 64
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 2.0


class Outcome(_Model):
    """One kind of answer. ``service``/``version``/``instance`` come from the echo workload's reply: who
    really
    answered; they are empty when the answer did not come from an echo backend (a mesh's own 403 page)."""

    status: int = 0  # HTTP status; 0 for TCP/UDP and for failures without an answer
    service: str = ""
    version: str = ""
    instance: str = ""
    #: The answering pod's namespace, when the echo workload knows it.
    namespace: str = ""
    error: ErrorKind | None = None

    @property
    def ok(self) -> bool:
        """Answered by a backend: a 2xx from an echo (HTTP), or a complete echo (TCP/UDP)."""
        return self.error is None and bool(self.service) and (self.status == 0 or 200 <= self.status < 300)

    @property
    def form(self) -> str:
        """How a refusal looked, for reports: ``status 403``, ``closed``, ``timeout``... or ``ok``."""
        if self.ok:
            return "ok"
        if self.error is not None:
            return self.error
        return f"status {self.status}"


class OutcomeGroup(_Model):
    outcome: Outcome
    count: int
    #: The first answer's body (up to 300 characters) or error message: evidence for a report.
    example: str = ""


class TrafficResult(_Model):
    """What a batch got back."""

    sent: int
    groups: list[OutcomeGroup]
    elapsed_s: float
    #: Latency of answered requests (ms): p50, p90, p99 and max; empty when nothing was answered.
    latency_ms: dict[str, float] = Field(default_factory=dict)

    def count(self, *, ok: bool | None = None) -> int:
        return sum(g.count for g in self.groups if ok is None or g.outcome.ok == ok)

    def by(self, key: Literal["service", "version", "instance", "form"]) -> Counter[str]:
        """Counts of answered requests by the backend's service, version or instance; ``form`` counts every
        outcome by how it looked (``ok``, ``status 403``, ``timeout``...)."""
        out: Counter[str] = Counter()
        for g in self.groups:
            if key == "form":
                out[g.outcome.form] += g.count
            elif g.outcome.ok:
                out[getattr(g.outcome, key)] += g.count
        return out

    def merged(self, other: TrafficResult) -> TrafficResult:
        """Both batches as one (latencies are not merged: percentiles do not add)."""
        groups: dict[Outcome, OutcomeGroup] = {g.outcome: g for g in self.groups}
        for g in other.groups:
            mine = groups.get(g.outcome)
            groups[g.outcome] = (
                g
                if mine is None
                else OutcomeGroup(outcome=g.outcome, count=mine.count + g.count, example=mine.example)
            )
        return TrafficResult(
            sent=self.sent + other.sent,
            groups=list(groups.values()),
            elapsed_s=self.elapsed_s + other.elapsed_s,
        )

    def summary(self) -> str:
        """``200 from web/v1: 40, status 403: 2`` (largest first)."""
        parts = []
        for g in sorted(self.groups, key=lambda g: -g.count):
            o = g.outcome
            what = f"{o.status or 'ok'} from {o.service}/{o.version}" if o.ok else o.form
            parts.append(f"{what}: {g.count:,}")
        return ", ".join(parts) or "nothing sent"
