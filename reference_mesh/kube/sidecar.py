"""The injected proxy container (``mesh-proxy``): ``python -m reference_mesh.kube.sidecar``.

1. Obtain a certificate: the pod's projected token and a new key's CSR go to the control plane
   (:mod:`.identity`), retried with backoff until it answers; the credentials are written to an in-memory
   volume, where the proxy reads them (and re-reads them after each renewal).
2. Run the proxy (:class:`~reference_mesh.proxy.server.Proxy`, admin endpoint on ``:15000``: readiness,
   telemetry for the metrics API, tap) following the control plane's snapshots
   (:class:`~reference_mesh.control.agent.ControlPlaneAgent`, as the embedded sidecar does). Snapshots carry
   the interception ports: the proxy listens there for what the init container's rules redirect.
3. Renew the certificate at 70% of its lifetime (a fresh key each time); a failed renewal is retried with
   backoff until the certificate expires.

Exits cleanly on SIGTERM.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import random
import signal
from pathlib import Path

import aiohttp
import click

from reference_mesh.control.agent import ControlPlaneAgent
from reference_mesh.identity import WorkloadCredentials, write_credentials
from reference_mesh.kube import names
from reference_mesh.kube.identity import IdentityClient, IdentityRefused
from reference_mesh.proxy.server import Proxy

__all__ = ["main", "run_sidecar"]

log = logging.getLogger(__name__)
RENEW_AT = 0.7


async def _obtain(
    client: IdentityClient, stop: asyncio.Event, *, deadline: float | None = None
) -> WorkloadCredentials | None:
    """A certificate, asking until the control plane gives one (None: stopped or past ``deadline``)."""
    loop = asyncio.get_running_loop()
    failures = 0
    while not stop.is_set():
        try:
            return await client.obtain()
        except (IdentityRefused, aiohttp.ClientError, OSError, asyncio.TimeoutError, TimeoutError) as exc:
            failures += 1
            delay = random.uniform(0.5, 1.0) * min(10.0, 0.2 * 2 ** min(failures, 10))
            log.warning("no certificate yet (%s); asking again in %.1f s", exc, delay)
            if deadline is not None and loop.time() + delay > deadline:
                return None
            await _stopped(stop, delay)
    return None


async def _stopped(stop: asyncio.Event, within_s: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), within_s)
    except (asyncio.TimeoutError, TimeoutError):
        return False
    return True


async def _renew(
    client: IdentityClient, directory: Path, creds: WorkloadCredentials, stop: asyncio.Event
) -> None:
    """Renew at 70% of each certificate's lifetime; retry until it expires."""
    loop = asyncio.get_running_loop()
    while True:
        renew_at = creds.not_before + (creds.not_after - creds.not_before) * RENEW_AT
        if await _stopped(stop, max(1.0, (renew_at - _now()).total_seconds())):
            return
        renewed = await _obtain(
            client, stop, deadline=loop.time() + (creds.not_after - _now()).total_seconds()
        )
        if renewed is None:
            if not stop.is_set():
                log.error("the certificate could not be renewed before it expired")
            return
        write_credentials(directory, renewed)
        creds = renewed
        log.info("certificate renewed, valid until %s", creds.not_after.isoformat())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


async def run_sidecar(
    *,
    instance: str,
    control_plane: str,
    trust_domain: str,
    trust_anchors: str,
    token_path: Path,
    credentials_dir: Path,
    admin: tuple[str, int],
    stop: asyncio.Event,
    https_port: int = 443,
    snapshot_port: int = names.SNAPSHOT_PORT,
) -> None:
    client = IdentityClient(f"https://{control_plane}:{https_port}/v1/identity", trust_anchors, token_path)
    creds = await _obtain(client, stop)
    if creds is None:
        return
    write_credentials(credentials_dir, creds)
    log.info("certificate for %s, valid until %s", creds.spiffe_id, creds.not_after.isoformat())
    proxy = Proxy(credentials_dir, admin_address=admin[0], admin_port=admin[1])
    await proxy.start()
    namespace = os.environ.get("POD_NAMESPACE", "")
    agent = ControlPlaneAgent(
        proxy, instance, control_plane, snapshot_port, names.control_plane_id(trust_domain)
    )
    proxy.source = agent  # type: ignore[assignment]  # the admin endpoint reports its last_error
    tasks = [
        asyncio.ensure_future(agent.run()),
        asyncio.ensure_future(_renew(client, credentials_dir, creds, stop)),
    ]
    log.info("proxy of %s/%s started", namespace, instance)
    try:
        await stop.wait()
    finally:
        await agent.stop(tasks[0])
        tasks[1].cancel()
        await asyncio.gather(tasks[1], return_exceptions=True)
        await proxy.stop()


@click.command()
@click.option(
    "--control-plane", default=names.service_dns(), show_default=True, help="the control plane's host"
)
@click.option("--trust-domain", default="cluster.local", show_default=True)
@click.option("--instance", envvar="POD_NAME", required=True, help="the pod's name (default: $POD_NAME)")
@click.option("--trust-anchors", envvar="MESH_TRUST_ANCHORS", required=True, help="PEM ($MESH_TRUST_ANCHORS)")
@click.option(
    "--token",
    "token_path",
    type=click.Path(path_type=Path),
    default=f"{names.TOKEN_DIR}/token",
    show_default=True,
)
@click.option(
    "--credentials-dir",
    type=click.Path(path_type=Path),
    default="/var/run/reference-mesh/credentials",
    show_default=True,
)
@click.option(
    "--admin-port", type=click.IntRange(1, 65535), default=names.PROXY_ADMIN_PORT, show_default=True
)
@click.option("--log-level", default="INFO", show_default=True)
def main(
    control_plane: str,
    trust_domain: str,
    instance: str,
    trust_anchors: str,
    token_path: Path,
    credentials_dir: Path,
    admin_port: int,
    log_level: str,
) -> None:
    """The reference mesh's proxy in a pod: identity from the service-account token, snapshots from the
    control plane, traffic from the interception rules."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_sidecar(
            instance=instance,
            control_plane=control_plane,
            trust_domain=trust_domain,
            trust_anchors=trust_anchors,
            token_path=token_path,
            credentials_dir=credentials_dir,
            admin=("0.0.0.0", admin_port),
            stop=stop,
        )

    import uvloop

    uvloop.run(run())


if __name__ == "__main__":
    main()
