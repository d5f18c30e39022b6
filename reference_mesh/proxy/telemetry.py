"""Per-edge request telemetry kept so exact counts can be computed for any window (sans-IO).

Every finished request (or TCP connection / UDP flow) is recorded once, by the proxy that saw it, under an
:class:`Edge` and the wall-clock second it finished in: success and failure counts, counts per status code,
how many of them authorization denied, and a latency histogram. Buckets are kept for ``retention_s`` seconds
(15 minutes by default). The control plane reads them from the admin endpoint
(``GET /telemetry?since=<unix seconds>``) and sums the seconds of a window, so ``success_count`` for
``?t=30s`` is an exact integer, not a rate estimate.

Outcome (the Traffic Metrics API's success/failure, as smi-metrics computes it from Linkerd's classification):
an HTTP response with status < 500 is a success; a 5xx, a timeout or a transport error is a failure. A TCP
connection or UDP flow that the proxy could carry to its end is a success; one refused or broken by an error
is a failure. A request denied by authorization is a 403, i.e. a success by that definition; ``denied``
counts those apart from the application's own answers (``reference-mesh top`` and ``routes`` show them in a
column of their own). The server's proxy knows every denial (HTTP, TCP, UDP, and flows a new policy closed);
the caller's proxy learns of an HTTP denial from the 403's ``x-mesh-denied`` header, but a denied TCP or UDP
flow reaches it only as a closed connection.

Latency histograms are log-linear: bucket ``i`` holds latencies in ``[0.01 ms * g**i, 0.01 ms * g**(i+1))``
with ``g = 2 ** (1/16)``, so a quantile read from merged histograms is within 2.2% of the true value (reported
at the bucket's geometric middle). :class:`LatencyHistogram` merges and reads them; the control plane should
use it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = ["Edge", "LatencyHistogram", "SecondBucket", "Telemetry", "sum_window"]

HIST_MIN_MS = 0.01
HIST_GROWTH = 2 ** (1 / 16)
_LOG_GROWTH = math.log(HIST_GROWTH)


def bucket_index(latency_ms: float) -> int:
    if latency_ms <= HIST_MIN_MS:
        return 0
    return int(math.log(latency_ms / HIST_MIN_MS) / _LOG_GROWTH)


def bucket_middle_ms(index: int) -> float:
    return float(HIST_MIN_MS * HIST_GROWTH ** (index + 0.5))


class LatencyHistogram:
    """Sparse log-linear histogram: bucket index -> count. Mergeable across seconds, edges and proxies."""

    __slots__ = ("counts",)

    def __init__(self, counts: dict[int, int] | None = None):
        self.counts: dict[int, int] = counts if counts is not None else {}

    def add(self, latency_ms: float) -> None:
        i = bucket_index(latency_ms)
        self.counts[i] = self.counts.get(i, 0) + 1

    def merge(self, other: LatencyHistogram) -> None:
        for i, n in other.counts.items():
            self.counts[i] = self.counts.get(i, 0) + n

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def quantile(self, q: float) -> float | None:
        """The q-quantile in ms (nearest-rank over buckets); None for an empty histogram."""
        n = self.total
        if not n:
            return None
        rank = max(1, math.ceil(q * n))
        seen = 0
        for i in sorted(self.counts):
            seen += self.counts[i]
            if seen >= rank:
                return bucket_middle_ms(i)
        raise AssertionError("unreachable")

    def to_json(self) -> dict[str, int]:
        return {str(i): n for i, n in sorted(self.counts.items())}

    @classmethod
    def from_json(cls, data: dict[str, int]) -> LatencyHistogram:
        return cls({int(i): int(n) for i, n in data.items()})


class Edge(NamedTuple):
    """Who talked to whom. Outbound edges are recorded by the caller's proxy, inbound by the callee's.
    (A named tuple: built and hashed for every request, so it must be cheap.)

    ``service`` is the service the caller addressed (the split's root), ``backend`` the one that served it
    (equal to ``service`` without a split), ``split`` the TrafficSplit ("namespace/name") that chose the
    backend, if any. Inbound edges know the caller only by identity; ``source_instance`` is then empty.
    """

    direction: str  # "outbound" | "inbound"
    protocol: str  # "http" | "tcp" | "udp"
    source_identity: str
    source_instance: str
    service: str
    backend: str
    split: str
    destination_identity: str
    destination_instance: str
    port: int
    #: Outbound HTTP: the name of the first matching ``RoutePolicy`` of the addressed service (the control
    #: plane compiles one per HTTPRouteGroup match, as Linkerd's service profiles have routes); "" for the
    #: default route and for other edges.
    route: str = ""


@dataclass
class SecondBucket:
    success: int = 0
    failure: int = 0
    codes: dict[str, int] = field(default_factory=dict)
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    #: Of ``success + failure``, how many authorization denied (an HTTP 403 of the server's proxy, a refused
    #: or revoked flow), as opposed to answers of the application.
    denied: int = 0

    def add(self, success: bool, code: str, latency_index: int, n: int = 1, *, denied: bool = False) -> None:
        """Count ``n`` results whose latency falls in histogram bucket ``latency_index``
        (:func:`bucket_index`)."""
        if success:
            self.success += n
        else:
            self.failure += n
        if denied:
            self.denied += n
        self.codes[code] = self.codes.get(code, 0) + n
        counts = self.latency.counts
        counts[latency_index] = counts.get(latency_index, 0) + n

    def to_json(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "failure": self.failure,
            "codes": dict(self.codes),
            "denied": self.denied,
            "latency_ms": self.latency.to_json(),
        }


class Telemetry:
    """Buckets per (second, edge), plus cumulative totals per edge for Prometheus.

    :meth:`record` only queues the result (the proxy calls it for every request); queued results are added to
    the buckets in a batch, before anything reads them and whenever ``batch`` have queued up, identical ones
    (same edge, second, outcome, code and latency bucket) counted together. Reads are exact: every result
    is counted in the second it finished in.
    """

    def __init__(self, retention_s: int = 900, *, batch: int = 256):
        self.retention_s = retention_s
        self.batch = batch
        self._seconds: dict[int, dict[Edge, SecondBucket]] = {}
        self._totals: dict[Edge, SecondBucket] = {}
        self._queued: list[tuple[Edge, int, bool, str, int, bool]] = []

    def record(
        self,
        edge: Edge,
        *,
        finished_at: float,
        success: bool,
        code: str,
        latency_ms: float,
        denied: bool = False,
    ) -> None:
        """``finished_at`` is wall-clock seconds (time.time()); ``code`` an HTTP status or e.g. "tcp",
        "error"; ``denied``: authorization refused it (the outcome and code say what the caller saw)."""
        self._queued.append((edge, int(finished_at), success, code, bucket_index(latency_ms), denied))
        if len(self._queued) >= self.batch:
            self._add_queued()

    def _add_queued(self) -> None:
        queued, self._queued = self._queued, []
        seconds, totals = self._seconds, self._totals
        for (edge, second, success, code, index, denied), n in Counter(queued).items():
            per_edge = seconds.get(second)
            if per_edge is None:
                per_edge = seconds[second] = {}
                self._prune(second)
            for buckets in (per_edge, totals):
                bucket = buckets.get(edge)
                if bucket is None:
                    bucket = buckets[edge] = SecondBucket()
                bucket.add(success, code, index, n, denied=denied)

    @property
    def totals(self) -> dict[Edge, SecondBucket]:
        """Cumulative per edge since the proxy started."""
        self._add_queued()
        return self._totals

    def _prune(self, now_second: int) -> None:
        oldest = now_second - self.retention_s
        for s in [s for s in self._seconds if s < oldest]:
            del self._seconds[s]

    def buckets(
        self, since: float = 0, until: float | None = None
    ) -> Iterator[tuple[int, Edge, SecondBucket]]:
        """(second, edge, bucket) for seconds in [since, until), oldest first."""
        self._add_queued()
        for second in sorted(self._seconds):
            if second < int(since) or (until is not None and second >= until):
                continue
            for edge, bucket in self._seconds[second].items():
                yield second, edge, bucket

    def to_json(self, since: float = 0, until: float | None = None) -> list[dict[str, Any]]:
        """Edges with their per-second buckets: ``[{"edge": {...}, "seconds": {"<unix s>": bucket}}]``."""
        grouped: dict[Edge, dict[str, Any]] = {}
        for second, edge, bucket in self.buckets(since, until):
            grouped.setdefault(edge, {})[str(second)] = bucket.to_json()
        return [{"edge": edge._asdict(), "seconds": seconds} for edge, seconds in grouped.items()]


def sum_window(entries: Iterable[dict[str, Any]]) -> SecondBucket:
    """Sum ``seconds`` buckets of ``Telemetry.to_json`` entries (one edge or many) into one bucket."""
    out = SecondBucket()
    for entry in entries:
        for bucket in entry["seconds"].values():
            out.success += bucket["success"]
            out.failure += bucket["failure"]
            out.denied += bucket.get("denied", 0)
            for code, n in bucket["codes"].items():
                out.codes[code] = out.codes.get(code, 0) + n
            out.latency.merge(LatencyHistogram.from_json(bucket["latency_ms"]))
    return out
