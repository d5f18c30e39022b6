"""Run one sidecar proxy as a process: ``python -m reference_mesh.proxy --credentials DIR --config FILE``.

The proxy reads its credentials from DIR (``cert.pem``, ``key.pem``, ``bundle.pem``, reloaded when they are
rotated) and follows the snapshot in FILE (re-read when it changes; an invalid file is reported on the admin
endpoint and ignored). When ready it prints one JSON line on stderr: ``{"admin": "127.0.0.1:PORT", "pid":
...}``. SIGINT/SIGTERM stop it cleanly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

import click
import uvloop

from reference_mesh.identity import CredentialsError
from reference_mesh.proxy.server import Proxy
from reference_mesh.proxy.sources import FileConfigSource
from smi_conformance.hostport import HOST_PORT


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--credentials",
    "credentials",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="directory with cert.pem, key.pem, bundle.pem (see reference_mesh.identity.write_credentials)",
)
@click.option(
    "--config",
    "config",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="snapshot file (ProxyConfig JSON), followed for changes",
)
@click.option(
    "--admin",
    "admin",
    type=HOST_PORT,
    default="127.0.0.1:0",
    show_default=True,
    help="admin endpoint (port 0: any port)",
)
@click.option("--log-level", default="WARNING", show_default=True)
def main(credentials: Path, config: Path, admin: tuple[str, int], log_level: str) -> None:
    """Run a reference-mesh sidecar proxy until SIGINT/SIGTERM."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host, port = admin

    async def run() -> None:
        proxy = Proxy(credentials, admin_address=host, admin_port=port)
        try:
            await proxy.start()
        except CredentialsError as exc:
            raise click.ClickException(str(exc)) from None
        proxy.follow(FileConfigSource(config))
        print(
            json.dumps({"admin": f"{host}:{proxy.admin_port}", "pid": os.getpid()}),
            file=sys.stderr,
            flush=True,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await proxy.stop()

    uvloop.run(run())


if __name__ == "__main__":
    main()
