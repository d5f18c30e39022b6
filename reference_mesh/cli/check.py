"""``reference-mesh check``: is every component healthy, every certificate valid, every proxy up to date?

Checks (each one line, ✓ or ✗): the control plane runs and has compiled the store's latest revision; the
metrics API answers; every pod is ready with its processes running; every proxy is connected to the control
plane and has acknowledged the latest snapshot computed for it (else it is *stale*, or refused it); every
workload certificate is valid and not near expiry (less than 25% of its lifetime or 60 s left: rotation at 70%
should have replaced it). Exit code 1 when any check fails (with ``--wait``, after retrying that long).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from reference_mesh.cli.client import KubeMeshClient, MeshClient, cluster_target, mesh_option

__all__ = ["Check", "check", "print_checks", "run_checks"]


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return json.loads(resp.read())


def _cert_check(pod: str, admin: str, now: dt.datetime) -> Check:
    try:
        cert = _get_json(f"http://{admin}/ready")["certificate"]
    except Exception as exc:  # an unreachable admin endpoint is a failed check, whatever the reason
        return Check(f"certificate {pod}", False, f"sidecar admin unreachable: {exc}")
    start, end = dt.datetime.fromisoformat(cert["not_before"]), dt.datetime.fromisoformat(cert["not_after"])
    left = (end - now).total_seconds()
    lifetime = (end - start).total_seconds()
    if left <= 0:
        return Check(f"certificate {pod}", False, f"expired at {end.isoformat()}")
    if left < max(60.0, 0.25 * lifetime):
        return Check(f"certificate {pod}", False, f"expires in {left:.0f}s (not rotated?)")
    return Check(f"certificate {pod}", True, f"valid for {left / 60:.0f} more minutes")


def run_checks(client: MeshClient) -> list[Check]:
    status, body = client.call("/api/status")
    if status != 200 or not isinstance(body, dict):
        return [Check("admin API", False, f"answered {status}")]
    checks = [Check("admin API", True, client.admin)]
    cp, store = body["control_plane"], body["store"]
    checks.append(
        Check(
            "control plane",
            bool(cp["running"]) and cp["compiled_revision"] == store["revision"],
            f"running={cp['running']} compiled revision {cp['compiled_revision']} of {store['revision']}",
        )
    )
    try:
        _get_json(client.metrics + "/apis/metrics.smi-spec.io/v1alpha1")
        checks.append(Check("metrics API", True, client.metrics))
    except Exception as exc:  # any failure to answer is the finding
        checks.append(Check("metrics API", False, str(exc)))
    now = dt.datetime.now(dt.timezone.utc)
    runtime = body.get("runtime", {})
    for pod in runtime.get("pods", []):
        procs = [p for p in (pod.get("app"), pod.get("sidecar")) if p]
        down = [f"{p['name']} {p['state']} (exit {p['last_exit']})" for p in procs if p["state"] != "running"]
        restarts = sum(p["restarts"] for p in procs)
        detail = "; ".join(down) or f"ready, {restarts} restart(s)"
        checks.append(Check(f"pod {pod['pod']}", pod["ready"] and not down, detail))
        checks.append(_cert_check(pod["pod"], pod["admin"], now))
    for proxy in body.get("proxies", []):
        name = f"proxy {proxy['instance']}"
        if not proxy["connected"]:
            checks.append(
                Check(name, False, f"not connected to the control plane (serving {proxy['acked']})")
            )
        elif proxy["nacked"] and proxy["nacked"] == proxy["desired"]:
            checks.append(Check(name, False, f"refused snapshot {proxy['nacked']}: {proxy['error']}"))
        elif not proxy["up_to_date"]:
            checks.append(
                Check(name, False, f"stale: on version {proxy['acked']}, latest is {proxy['desired']}")
            )
        else:
            checks.append(Check(name, True, f"on the latest snapshot ({proxy['acked']})"))
    ca_end = runtime.get("ca_not_after")
    if ca_end:
        left = (dt.datetime.fromisoformat(ca_end) - now).total_seconds()
        checks.append(Check("mesh CA", left > 7 * 86400, f"valid for {left / 86400:.0f} more days"))
    return checks


def print_checks(checks: list[Check], console: Console) -> None:
    """One line per check, marked; details are printed as text (they may hold brackets rich would eat)."""
    for c in checks:
        mark = "[green]✓[/]" if c.ok else "[red]✗[/]"
        console.print(f"{mark} {escape(c.name)}: {escape(c.detail)}")


@click.command()
@click.option(
    "--wait", "wait_s", default=0.0, help="retry for up to this many seconds until every check passes"
)
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table")
@mesh_option
@cluster_target
def check(wait_s: float, output: str, mesh: str | None) -> None:
    """Check the health of every component of the running mesh."""
    client = MeshClient.from_context(mesh)
    deadline = time.monotonic() + wait_s
    while True:
        if isinstance(client, KubeMeshClient):
            from reference_mesh.cli.kubecheck import kube_checks

            checks = kube_checks(client)
        else:
            checks = run_checks(client)
        healthy = all(c.ok for c in checks)
        if healthy or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    if output == "json":
        click.echo(json.dumps({"healthy": healthy, "checks": [c.__dict__ for c in checks]}, indent=2))
    else:
        console = Console(highlight=False)
        print_checks(checks, console)
        console.print("[bold green]mesh is healthy[/]" if healthy else "[bold red]mesh has problems[/]")
    sys.exit(0 if healthy else 1)
