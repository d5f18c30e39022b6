"""``reference-mesh tap``: the live request log of the mesh, merged from every proxy, filterable."""

from __future__ import annotations

import json
import time
import urllib.parse

import click

from reference_mesh.cli.client import MeshClient, cluster_target, mesh_option

__all__ = ["tap"]


def _line(event: dict[str, object]) -> str:
    when = time.strftime("%H:%M:%S", time.localtime(float(str(event.get("ts", 0)))))
    skip = {"ts", "pod", "direction"}
    rest = " ".join(f"{k}={v}" for k, v in event.items() if k not in skip and v not in ("", None))
    return f"{when} {event.get('pod')} {event.get('direction')} {rest}"


@click.command()
@click.option("-n", "--namespace", default=None)
@click.option("--pod", default=None, help="only this pod's proxy")
@click.option("--direction", type=click.Choice(["inbound", "outbound"]), default=None)
@click.option("--protocol", type=click.Choice(["http", "tcp", "udp"]), default=None)
@click.option("--source", default=None, help="caller SPIFFE id")
@click.option("--max", "max_events", type=int, default=0, help="stop after N events")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
@mesh_option
@cluster_target
def tap(
    namespace: str | None,
    pod: str | None,
    direction: str | None,
    protocol: str | None,
    source: str | None,
    max_events: int,
    output: str,
    mesh: str | None,
) -> None:
    """Stream finished requests as they happen (Ctrl-C to stop)."""
    client = MeshClient.from_context(mesh)
    params = {
        k: v
        for k, v in (
            ("namespace", namespace),
            ("pod", pod),
            ("direction", direction),
            ("protocol", protocol),
            ("source", source),
        )
        if v
    }
    url = f"{client.metrics}/tap?{urllib.parse.urlencode(params)}"
    seen = 0
    try:
        for raw in client.lines(url):
            event = json.loads(raw)
            click.echo(json.dumps(event) if output == "json" else _line(event))
            seen += 1
            if max_events and seen >= max_events:
                return
    except KeyboardInterrupt:
        return
