"""Prometheus text exposition (format 0.0.4) of a proxy's telemetry, and the merge of many proxies' pages
into one (the metrics API's ``/metrics``).

Three families, each written as one group (``# HELP``, ``# TYPE``, then every sample), as strict parsers
require: ``mesh_requests_total`` (counter, per edge and status code), ``mesh_response_latency_ms``
(histogram per edge on Linkerd's bucket bounds; ``_sum`` is computed from the log-linear buckets, so it is
within their 2.2% relative width, as every quantile is) and ``mesh_config_info`` (gauge: the applied snapshot
version). Labels are the telemetry edge's fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from reference_mesh.proxy.telemetry import bucket_middle_ms

if TYPE_CHECKING:
    from reference_mesh.proxy.telemetry import Telemetry

__all__ = ["FAMILIES", "PROM_BUCKETS_MS", "merge", "render"]

#: Histogram bounds (ms), Linkerd's response_latency_ms buckets.
PROM_BUCKETS_MS: tuple[int, ...] = tuple(m * 10**e for e in range(5) for m in (1, 2, 3, 4, 5))


#: name -> (type, help), in the order they are written.
FAMILIES: Mapping[str, tuple[str, str]] = {
    "mesh_requests_total": ("counter", "Finished requests (HTTP) or flows (TCP/UDP) per edge and outcome."),
    "mesh_response_latency_ms": ("histogram", "Request latency (HTTP) or flow duration (TCP/UDP)."),
    "mesh_config_info": ("gauge", "The configuration snapshot version this proxy applied."),
}


def _escape(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: Iterable[tuple[str, object]]) -> str:
    return ",".join(f'{k}="{_escape(v)}"' for k, v in pairs)


def _header(name: str) -> list[str]:
    kind, help_text = FAMILIES[name]
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]


def render(telemetry: Telemetry, version: str | None) -> str:
    """One proxy's page: its totals since start."""
    requests, histograms = _header("mesh_requests_total"), _header("mesh_response_latency_ms")
    for edge, bucket in telemetry.totals.items():
        labels = _labels(edge._asdict().items())
        for code, n in sorted(bucket.codes.items()):
            requests.append(f'mesh_requests_total{{{labels},code="{_escape(code)}"}} {n}')
        counts = [(bucket_middle_ms(i), n) for i, n in bucket.latency.counts.items()]
        for bound in PROM_BUCKETS_MS:
            le = sum(n for middle, n in counts if middle <= bound)
            histograms.append(f'mesh_response_latency_ms_bucket{{{labels},le="{bound}"}} {le}')
        total = bucket.latency.total
        histograms.append(f'mesh_response_latency_ms_bucket{{{labels},le="+Inf"}} {total}')
        latency_sum = sum(middle * n for middle, n in counts)
        histograms.append(f"mesh_response_latency_ms_sum{{{labels}}} {latency_sum:.3f}")
        histograms.append(f"mesh_response_latency_ms_count{{{labels}}} {total}")
    info = [*_header("mesh_config_info"), f'mesh_config_info{{version="{_escape(version or "")}"}} 1']
    return "\n".join(requests + histograms + info) + "\n"


def _family(sample: str) -> str | None:
    for name, (kind, _) in FAMILIES.items():
        if sample == name or (
            kind == "histogram" and sample in (f"{name}_bucket", f"{name}_sum", f"{name}_count")
        ):
            return name
    return None


def merge(pages: Iterable[tuple[Mapping[str, str], str]]) -> str:
    """Many proxies' pages as one: each page's samples get the page's extra labels (first), and every family
    is written once, with all its samples together. Lines of unknown families are dropped."""
    groups: dict[str, list[str]] = {name: [] for name in FAMILIES}
    for extra, text in pages:
        prefix = _labels(extra.items())
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            name, brace, rest = line.partition("{")
            if not brace:
                name, _, value = line.partition(" ")
                rest = f"}} {value}"
            family = _family(name)
            if family is not None:
                groups[family].append(f"{name}{{{prefix},{rest}" if brace else f"{name}{{{prefix}{rest}")
    out: list[str] = []
    for name, lines in groups.items():
        out += _header(name) + lines
    return "\n".join(out) + "\n"
