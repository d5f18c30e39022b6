"""``reference-mesh get [KIND]``: what the control plane's store holds."""

from __future__ import annotations

import json

import click
import yaml
from rich.console import Console
from rich.table import Table

from reference_mesh.cli.client import MeshClient, cluster_target, mesh_option

__all__ = ["get"]

ALIASES = {
    "ts": "TrafficSplit",
    "trafficsplit": "TrafficSplit",
    "trafficsplits": "TrafficSplit",
    "tt": "TrafficTarget",
    "traffictarget": "TrafficTarget",
    "traffictargets": "TrafficTarget",
    "httproutegroup": "HTTPRouteGroup",
    "httproutegroups": "HTTPRouteGroup",
    "tcproute": "TCPRoute",
    "tcproutes": "TCPRoute",
    "udproute": "UDPRoute",
    "udproutes": "UDPRoute",
    "pod": "Pod",
    "pods": "Pod",
    "service": "Service",
    "services": "Service",
    "svc": "Service",
    "serviceaccount": "ServiceAccount",
    "serviceaccounts": "ServiceAccount",
    "sa": "ServiceAccount",
    "identitybinding": "IdentityBinding",
    "identitybindings": "IdentityBinding",
}


@click.command()
@click.argument("kind", required=False)
@click.option("-n", "--namespace", default=None)
@click.option("-o", "--output", type=click.Choice(["table", "yaml", "json"]), default="table")
@mesh_option
@cluster_target
def get(kind: str | None, namespace: str | None, output: str, mesh: str | None) -> None:
    """List stored objects (all kinds, or KIND: trafficsplits, traffictargets, pods, services...)."""
    if kind is not None:
        if kind.lower() not in ALIASES:
            names = sorted(set(ALIASES.values()))
            raise click.BadParameter(f"{kind!r} is not a kind the mesh stores ({', '.join(names)})")
        kind = ALIASES[kind.lower()]
    client = MeshClient.from_context(mesh)
    query = "&".join(f"{k}={v}" for k, v in (("kind", kind), ("namespace", namespace)) if v)
    status, body = client.call(f"/api/objects?{query}")
    if status != 200:
        raise click.ClickException(f"the control plane answered {status}: {body}")
    items = body["items"]
    if output == "json":
        click.echo(json.dumps([i["object"] for i in items], indent=2))
    elif output == "yaml":
        click.echo(yaml.safe_dump_all([i["object"] for i in items], sort_keys=False), nl=False)
    else:
        table = Table("KIND", "NAMESPACE", "NAME", "API VERSION", "REVISION", box=None)
        for i in items:
            table.add_row(i["kind"], i["namespace"], i["name"], i["apiVersion"], str(i["resourceVersion"]))
        Console(width=max(Console().width, 130)).print(table)
        click.echo(f"store revision {body['revision']}, {len(items)} object(s)")
