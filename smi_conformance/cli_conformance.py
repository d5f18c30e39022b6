"""The ``smi-conformance`` command line: certify a service mesh, and the tools that prepare a cluster for it.

Each subcommand lives in the module that implements it and is added here (``run`` and ``list`` from
:mod:`smi_conformance.suite.cli`, ``images`` from :mod:`smi_conformance.images`).
"""

from __future__ import annotations

import click

from smi_conformance import __version__
from smi_conformance.images import images
from smi_conformance.suite.cli import list_command, run_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="smi-conformance")
def main() -> None:
    """SMI conformance: certify a service mesh against the Service Mesh Interface."""


main.add_command(run_command)
main.add_command(list_command)
main.add_command(images)


if __name__ == "__main__":
    main()
