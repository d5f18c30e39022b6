"""``reference-mesh``: run the embedded reference mesh and operate it.

Exit codes (every command): 0 success; 1 the command ran and found a problem (manifest rejected, mesh
unhealthy, start-up failed); 2 usage error (bad option, unreadable or invalid file); 3 no running mesh could
be reached.
"""

from __future__ import annotations

import click

from reference_mesh.cli import apply, check, demo, get, inject, install, logs, stats, tap, up
from smi_conformance import __version__

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reference-mesh")
def main() -> None:
    """The SMI reference mesh: a real, readable SMI implementation, on loopback or on Kubernetes."""


main.add_command(up.up)
main.add_command(apply.apply)
main.add_command(apply.delete)
main.add_command(check.check)
main.add_command(get.get)
main.add_command(stats.routes)
main.add_command(stats.top)
main.add_command(tap.tap)
main.add_command(logs.logs)
main.add_command(demo.demo)
main.add_command(install.install)
main.add_command(install.uninstall)
main.add_command(inject.inject)
