"""The `smi` command line. Each subcommand's module is imported only when that subcommand runs (or help lists
it), so ``smi --version`` and ``smi convert`` do not pay for loading the linter, nor ``smi lint`` for
``smi convert``."""

from __future__ import annotations

import importlib

import click

from smi_conformance import __version__

#: subcommand -> "module:attribute" of its click command.
_SUBCOMMANDS = {
    "convert": "smi_conformance.convert_command:convert_command",
    "lint": "smi_conformance.lint.cli:lint_command",
}


class _LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_SUBCOMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _SUBCOMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="smi")
def main() -> None:
    """Service Mesh Interface tools: lint and convert SMI manifests.

    Certifying a mesh is the smi-conformance command.
    """
