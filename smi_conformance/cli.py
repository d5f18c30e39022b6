"""The `smi` command line. Subcommands are added by the modules that implement them."""

from __future__ import annotations

import click

from smi_conformance import __version__
from smi_conformance.convert_command import convert_command
from smi_conformance.lint.cli import lint_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="smi")
def main() -> None:
    """Service Mesh Interface tools: lint and convert SMI manifests.

    Certifying a mesh is the smi-conformance command.
    """


main.add_command(lint_command)
main.add_command(convert_command)
