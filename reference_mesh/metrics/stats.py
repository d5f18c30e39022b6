"""Client-side statistics for ``reference-mesh top`` and ``routes`` (sans-IO): success rate, requests per
second and p50/p95/p99 latency per group of outbound telemetry rows over a window.

Not part of the Traffic Metrics API (the SMI spec has no route resource); the metrics server serves these
rows at ``/stats``. Every row: ``success``, ``failure`` (exact counts in the window), ``success_rate`` (None
without requests), ``denied`` (of those, how many authorization refused: a 403 of the server's proxy; they
count as successes, as in the Traffic Metrics API, where only 5xx and errors fail), ``rps`` (requests /
window length), ``p50_ms``/``p95_ms``/``p99_ms`` (None without requests; within 2.2%), ``codes`` (count per
status code, or "tcp"/"udp"/"error" for flows).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reference_mesh.control.routes import DEFAULT_ROUTE
from reference_mesh.metrics.aggregate import Row, Stats, peer_pod
from reference_mesh.metrics.window import Window

__all__ = ["edge_stats", "route_stats"]


def _stat_row(keys: dict[str, Any], stats: Stats, window: Window) -> dict[str, Any]:
    q = {p: stats.latency.quantile(p / 100) for p in (50, 95, 99)}
    return {
        **keys,
        "success": stats.success,
        "failure": stats.failure,
        "success_rate": round(stats.success / stats.total, 4) if stats.total else None,
        "denied": stats.denied,
        "rps": round(stats.total / window.length, 3),
        **{f"p{p}_ms": None if v is None else round(v, 3) for p, v in q.items()},
        "codes": stats.codes,
    }


def _outbound(rows: Iterable[Row]) -> Iterable[Row]:
    return (row for row in rows if row.edge["direction"] == "outbound")


def edge_stats(rows: Iterable[Row], window: Window) -> list[dict[str, Any]]:
    """``top``: per source pod and destination pod (requests that never reached a pod count under ``-``)."""
    groups: dict[tuple[str, str, str], Stats] = {}
    for row in _outbound(rows):
        peer = peer_pod(row)
        key = (
            f"{row.pod.namespace}/{row.pod.name}",
            f"{peer.namespace}/{peer.name}" if peer else "-",
            row.edge["protocol"],
        )
        groups.setdefault(key, Stats()).add(row.bucket)
    names = ("source", "destination", "protocol")
    return [_stat_row(dict(zip(names, k, strict=True)), s, window) for k, s in sorted(groups.items())]


def route_stats(
    rows: Iterable[Row],
    window: Window,
    routes: Mapping[str, Sequence[str]],
    *,
    to: str | None = None,
    by_backend: bool = False,
) -> list[dict[str, Any]]:
    """``routes``: per addressed service and route, measured by the callers' proxies.

    ``routes`` maps each service key with an HTTP port to its route names in first-match order (the
    compiler's ``route_table``). HTTP rows are per route of the service, whatever its port (``port`` None);
    requests on no route are on :data:`DEFAULT_ROUTE`. TCP and UDP rows are per service port (``route``
    None). A service is listed when it had traffic in the window or is ``to`` (a service key: only that one);
    then every route it defines is listed, with zero requests where it had none (as ``linkerd viz routes``
    lists every route of a ServiceProfile), except with ``by_backend``, which splits each row by the backend
    (and TrafficSplit) that served it and lists only what had traffic.

    Order: services by key; a service's routes in first-match order, then names no longer defined (traffic
    from before a change), then the default route; then TCP/UDP ports.
    """
    groups: dict[tuple[str, str, int | None, str | None, str, str], Stats] = {}
    for row in _outbound(rows):
        e = row.edge
        if to is not None and e["service"] != to:
            continue
        http = e["protocol"] == "http"
        key = (
            e["service"],
            e["protocol"],
            None if http else int(e["port"]),
            (e.get("route") or DEFAULT_ROUTE) if http else None,
            e["backend"] if by_backend else "",
            (e.get("split") or "") if by_backend else "",
        )
        groups.setdefault(key, Stats()).add(row.bucket)
    if not by_backend:
        listed = {k[0] for k in groups} | ({to} if to is not None else set())
        for service in listed & routes.keys():
            for name in (*routes[service], DEFAULT_ROUTE):
                groups.setdefault((service, "http", None, name, "", ""), Stats())

    position = {service: {name: i for i, name in enumerate(names)} for service, names in routes.items()}

    def order(key: tuple[str, str, int | None, str | None, str, str]) -> tuple[Any, ...]:
        service, protocol, port, route, backend, split = key
        if route is None:
            place: tuple[Any, ...] = (3, protocol, port)
        elif route == DEFAULT_ROUTE:
            place = (2,)
        elif route in (defined := position.get(service, {})):
            place = (0, defined[route])
        else:
            place = (1, route)
        return (service, place, backend, split)

    names = ("service", "protocol", "port", "route", "backend", "split")
    out = []
    for key in sorted(groups, key=order):
        keys = dict(zip(names, key, strict=True))
        if not by_backend:
            del keys["backend"], keys["split"]
        out.append(_stat_row(keys, groups[key], window))
    return out
