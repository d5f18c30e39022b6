"""``reference-mesh top`` (per edge: source pod -> destination pod) and ``routes`` (per route of each
service, from its HTTPRouteGroups): success rate, requests denied by policy, requests per second and
p50/p95/p99 latency over a window, measured by the callers' proxies.

SUCCESS is the Traffic Metrics API's: only 5xx and errors fail, so a request authorization denied (a 403)
is a success there; DENIED counts those apart, so a client that is refused does not read as healthy.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from reference_mesh.cli.client import MeshClient, cluster_target, mesh_option

__all__ = ["CAPTION", "routes", "show", "top"]

#: Under every table: what the two outcome columns mean (issue 14: a refused client read as healthy).
CAPTION = (
    "SUCCESS: all but 5xx and errors, as SMI Traffic Metrics count; DENIED: of those, refused by policy (403)"
)


def _fmt(v: Any, pct: bool = False) -> str:
    if v is None:
        return "-"
    return f"{v * 100:.2f}%" if pct else f"{v:g}"


def _route_cell(row: dict[str, Any]) -> str:
    """HTTP rows name their route; TCP and UDP rows their port."""
    return str(row["route"]) if row["route"] is not None else f"{row['protocol']}:{row['port']}"


def show(
    client: MeshClient,
    by: str,
    window: str,
    namespace: str | None,
    output: str,
    console: Console | None = None,
    to: str | None = None,
    backends: bool = False,
) -> None:
    """Print one ``/stats`` answer as a table or JSON (``by``: ``edge`` for top, ``route`` for routes)."""
    query = {"by": by, "t": window}
    if to is not None:
        query["to"] = to
    if backends:
        query["backends"] = "true"
    status, body = client.call(f"/stats?{urlencode(query)}", base=client.metrics)
    if status != 200:
        detail = body.get("message", body) if isinstance(body, dict) else body
        raise click.ClickException(f"the metrics API answered {status}: {detail}")
    rows = body["rows"]
    if body.get("missing"):
        click.echo(
            f"warning: the proxies of {', '.join(body['missing'])} did not answer the metrics API in time; "
            "their traffic is left out",
            err=True,
        )
    if namespace:
        rows = [
            r
            for r in rows
            if (r["service"].rsplit(".", 1)[-1] if by == "route" else r["source"].split("/")[0]) == namespace
        ]
    if output == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    if by == "route":
        headers = ["SERVICE", "ROUTE"] + (["BACKEND", "SPLIT"] if backends else [])
        keys: list[Callable[[dict[str, Any]], Any]] = [lambda r: r["service"], _route_cell]
        if backends:
            keys += [lambda r: r["backend"], lambda r: r["split"] or "-"]
    else:
        headers = ["SOURCE", "DESTINATION", "PROTOCOL"]
        keys = [lambda r: r["source"], lambda r: r["destination"], lambda r: r["protocol"]]
    table = Table(
        *headers,
        "SUCCESS",
        "DENIED",
        "RPS",
        "P50 ms",
        "P95 ms",
        "P99 ms",
        "REQUESTS",
        title=f"{'routes' if by == 'route' else 'top'}: last {body['window']} until {body['timestamp']}",
        caption=CAPTION,
    )
    for r in rows:
        table.add_row(
            *[escape(str(k(r))) for k in keys],  # `[default]` is not markup
            _fmt(r["success_rate"], pct=True),
            str(r.get("denied", 0)),
            _fmt(r["rps"]),
            _fmt(r["p50_ms"]),
            _fmt(r["p95_ms"]),
            _fmt(r["p99_ms"]),
            str(r["success"] + r["failure"]),
        )
    (console or Console(width=max(Console().width, 130))).print(table)


def _window(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A bad window is a usage error here, before the mesh is asked (the metrics API checks it too)."""
    from reference_mesh.metrics.window import Window, WindowError

    try:
        Window.ending_now(0, value)
    except WindowError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


def _options(f: Any) -> Any:
    f = click.option(
        "-t", "--window", default="30s", show_default=True, callback=_window, help="window, e.g. 10s, 1m"
    )(f)
    f = click.option("-n", "--namespace", default=None, help="only this namespace's services (sources)")(f)
    f = click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table")(f)
    f = click.option("--watch", "watch_s", type=float, default=0.0, help="refresh every N seconds")(f)
    return cluster_target(mesh_option(f))


def _loop(mesh: str | None, watch_s: float, **kw: Any) -> None:
    client = MeshClient.from_context(mesh)
    while True:
        show(client, **kw)
        if watch_s <= 0:
            return
        time.sleep(watch_s)


@click.command()
@_options
def top(window: str, namespace: str | None, output: str, watch_s: float, mesh: str | None) -> None:
    """Traffic per edge (source pod -> destination pod)."""
    _loop(mesh, watch_s, by="edge", window=window, namespace=namespace, output=output)


@click.command()
@_options
@click.option("--to", default=None, metavar="SERVICE", help="only this service (name, or name.namespace)")
@click.option(
    "--backends", is_flag=True, help="split each row by the backend (and TrafficSplit) that served it"
)
def routes(
    window: str,
    namespace: str | None,
    output: str,
    watch_s: float,
    mesh: str | None,
    to: str | None,
    backends: bool,
) -> None:
    """Traffic per route of each service: the HTTPRouteGroup matches its TrafficTargets and TrafficSplit
    reference (`<group>/<match>`, `[default]` for requests on none), TCP and UDP per port."""
    _loop(
        mesh,
        watch_s,
        by="route",
        window=window,
        namespace=namespace,
        output=output,
        to=to,
        backends=backends,
    )
