from importlib.metadata import version

import pytest
from click import Group
from click.testing import CliRunner

from reference_mesh.cli import main as reference_mesh
from smi_conformance import __version__
from smi_conformance.cli import main as smi
from smi_conformance.cli_conformance import main as smi_conformance


@pytest.mark.parametrize(
    ("command", "prog"),
    [(smi, "smi"), (smi_conformance, "smi-conformance"), (reference_mesh, "reference-mesh")],
)
def test_every_command_line_prints_the_installed_version(command: Group, prog: str) -> None:
    result = CliRunner().invoke(command, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"{prog}, version {__version__}\n"
    assert __version__ == version("smi-conformance")  # the package and its installed metadata agree


def test_smi_help_names_only_commands_it_has() -> None:
    """`smi --help` once advertised a `conformance` subcommand that never existed (issue 14)."""
    text = CliRunner().invoke(smi, ["--help"]).output
    summary = text.split("Options:")[0]
    assert "lint" in summary and "convert" in summary
    assert "conformance" not in summary.replace("smi-conformance", "")
    assert set(smi.commands) == {"lint", "convert"}
