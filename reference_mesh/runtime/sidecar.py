"""The sidecar process: one :class:`Proxy` following the control plane through a :class:`ControlPlaneAgent`.

    python -m reference_mesh.runtime.sidecar --credentials DIR --instance bookstore-v1-0 \\
        --control-plane 127.42.7.1:15010 \\
        --control-plane-id spiffe://cluster.local/ns/mesh-system/sa/control-plane \\
        --admin 127.42.7.5:15000

Exits cleanly on SIGTERM/SIGINT. Credentials are re-read whenever the identity service rotates them.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import click

from reference_mesh.control.agent import ControlPlaneAgent
from reference_mesh.identity import CredentialsError
from reference_mesh.proxy.server import Proxy
from smi_conformance.hostport import HOST_PORT

__all__ = ["main", "run_sidecar"]


async def run_sidecar(
    credentials: Path,
    instance: str,
    control_plane: tuple[str, int],
    control_plane_id: str,
    admin: tuple[str, int],
    stop: asyncio.Event,
) -> None:
    proxy = Proxy(credentials, admin_address=admin[0], admin_port=admin[1])
    try:
        await proxy.start()
    except CredentialsError as exc:  # the runtime logs it; a person running it by hand reads it
        raise click.ClickException(str(exc)) from None
    agent = ControlPlaneAgent(proxy, instance, control_plane[0], control_plane[1], control_plane_id)
    proxy.source = agent  # type: ignore[assignment]  # the admin endpoint reports its last_error
    task = asyncio.ensure_future(agent.run())
    try:
        await stop.wait()
    finally:
        await agent.stop(task)
        await proxy.stop()


@click.command()
@click.option("--credentials", type=click.Path(path_type=Path), required=True)
@click.option("--instance", required=True, help="the Pod name this sidecar serves")
@click.option("--control-plane", "control_plane", required=True, type=HOST_PORT)
@click.option("--control-plane-id", required=True, help="SPIFFE id the control plane must present")
@click.option("--admin", required=True, type=HOST_PORT)
@click.option("--log-level", default="WARNING")
def main(
    credentials: Path,
    instance: str,
    control_plane: tuple[str, int],
    control_plane_id: str,
    admin: tuple[str, int],
    log_level: str,
) -> None:
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_sidecar(credentials, instance, control_plane, control_plane_id, admin, stop)

    import uvloop

    uvloop.run(run())


if __name__ == "__main__":
    main()
