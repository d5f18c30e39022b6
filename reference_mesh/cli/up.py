"""``reference-mesh up TOPOLOGY``: start the whole mesh in the foreground until Ctrl-C / SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from reference_mesh.runtime.topology import TopologyError, load_topology

if TYPE_CHECKING:
    from reference_mesh.runtime.mesh import EmbeddedMesh

__all__ = ["up"]


def _summary(mesh: EmbeddedMesh, console: Console) -> None:
    console.print(
        f"[bold green]mesh {mesh.topology.name!r} is up[/] in {mesh.startup_s:.2f}s "
        f"(subnet {mesh.prefix}.0/24, run dir {mesh.run_dir})"
    )
    console.print(
        f"  admin API   {mesh.admin_url}    metrics API {mesh.metrics_url}/apis/metrics.smi-spec.io/v1alpha1"
    )
    table = Table("pod", "address", "service account", "ports", box=None)
    for rt in mesh.pods.values():
        ports = (
            ", ".join(f"{p.container_port}/{p.protocol}" for p in rt.pod.spec.ports)
            or "client (outbound :15001)"
        )
        table.add_row(
            f"{rt.key.namespace}/{rt.key.name}", rt.address, rt.pod.spec.service_account_name, ports
        )
    console.print(table)
    console.print(
        "Send traffic through a pod's sidecar: curl -H 'Host: bookstore' http://<pod address>:15001/ ; "
        "stop with Ctrl-C."
    )


async def _run(mesh: EmbeddedMesh, console: Console) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    from reference_mesh.runtime.mesh import MeshStartError

    # Ctrl-C/SIGTERM must work while starting too (a pod that never gets ready would hold `up` until
    # --ready-timeout): starting is a task the signal cancels; start() stops whatever it had started.
    starting = asyncio.ensure_future(mesh.start())
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError, MeshStartError):
            await starting
        console.print("stopped before the mesh was up; nothing left running")
        return 0
    stopping.cancel()
    try:
        starting.result()
    except MeshStartError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}")
        return 1
    _summary(mesh, console)
    await stop.wait()
    console.print("stopping...")
    await mesh.stop()
    console.print("stopped; nothing left running")
    return 0


@click.command()
@click.argument("topology", type=click.Path(path_type=Path))
@click.option(
    "--home",
    type=click.Path(path_type=Path),
    envvar="REFERENCE_MESH_HOME",
    help="where meshes keep their state and logs (default ~/.cache/reference-mesh)",
)
@click.option("--log-level", default="WARNING", show_default=True, help="sidecars' log level")
@click.option("--ready-timeout", default=60.0, show_default=True, help="seconds to wait for every pod")
def up(topology: Path, home: Path | None, log_level: str, ready_timeout: float) -> None:
    """Start the CA, control plane, metrics API, workloads and sidecars of TOPOLOGY on loopback."""
    try:
        topo = load_topology(topology)
    except TopologyError as exc:
        raise click.UsageError(str(exc)) from None
    from reference_mesh.runtime.mesh import EmbeddedMesh

    console = Console(stderr=False)
    mesh = EmbeddedMesh(
        topo, base_dir=topology.parent, home=home, log_level=log_level, ready_timeout_s=ready_timeout
    )
    import uvloop

    sys.exit(uvloop.run(_run(mesh, console)))
