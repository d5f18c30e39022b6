"""``reference-mesh top`` (per edge: source pod -> destination pod) and ``routes`` (per service route and
backend): success rate, requests per second and p50/p95/p99 latency over a window, measured by the callers'
proxies."""

from __future__ import annotations

import json
import time
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from reference_mesh.cli.client import MeshClient, mesh_option

__all__ = ["routes", "show", "top"]


def _fmt(v: Any, pct: bool = False) -> str:
    if v is None:
        return "-"
    return f"{v * 100:.2f}%" if pct else f"{v:g}"


def show(
    client: MeshClient,
    by: str,
    window: str,
    namespace: str | None,
    output: str,
    console: Console | None = None,
) -> None:
    status, body = client.call(f"/stats?by={by}&t={window}", base=client.metrics)
    if status != 200:
        raise click.ClickException(f"the metrics API answered {status}: {body}")
    rows = body["rows"]
    if namespace:
        field = "service" if by == "route" else "source"
        rows = [
            r
            for r in rows
            if (r[field].rsplit(".", 1)[-1] if by == "route" else r[field].split("/")[0]) == namespace
        ]
    if output == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    keys = ["service", "port", "backend"] if by == "route" else ["source", "destination", "protocol"]
    table = Table(
        *[k.upper() for k in keys],
        "SUCCESS",
        "RPS",
        "P50 ms",
        "P95 ms",
        "P99 ms",
        "REQUESTS",
        title=f"{'routes' if by == 'route' else 'top'}: last {body['window']} until {body['timestamp']}",
    )
    for r in rows:
        table.add_row(
            *[str(r[k]) for k in keys],
            _fmt(r["success_rate"], pct=True),
            _fmt(r["rps"]),
            _fmt(r["p50_ms"]),
            _fmt(r["p95_ms"]),
            _fmt(r["p99_ms"]),
            str(r["success"] + r["failure"]),
        )
    (console or Console(width=max(Console().width, 130))).print(table)


def _options(f: Any) -> Any:
    f = click.option("-t", "--window", default="30s", show_default=True, help="window, e.g. 10s, 1m")(f)
    f = click.option("-n", "--namespace", default=None)(f)
    f = click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table")(f)
    f = click.option("--watch", "watch_s", type=float, default=0.0, help="refresh every N seconds")(f)
    return mesh_option(f)


def _loop(by: str, window: str, namespace: str | None, output: str, watch_s: float, mesh: str | None) -> None:
    client = MeshClient.from_context(mesh)
    while True:
        show(client, by, window, namespace, output)
        if watch_s <= 0:
            return
        time.sleep(watch_s)


@click.command()
@_options
def top(window: str, namespace: str | None, output: str, watch_s: float, mesh: str | None) -> None:
    """Traffic per edge (source pod -> destination pod)."""
    _loop("edge", window, namespace, output, watch_s, mesh)


@click.command()
@_options
def routes(window: str, namespace: str | None, output: str, watch_s: float, mesh: str | None) -> None:
    """Traffic per route (service:port) and backend."""
    _loop("route", window, namespace, output, watch_s, mesh)
