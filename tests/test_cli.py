import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import click
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
    assert smi.list_commands(click.Context(smi)) == ["convert", "lint"]


def test_version_loads_neither_the_linter_nor_the_converter() -> None:
    """`smi --version` (and `smi convert`) start without importing what they do not run: subcommands load
    on first use."""
    code = (
        "import sys; from click.testing import CliRunner; from smi_conformance.cli import main; "
        "r = CliRunner().invoke(main, ['--version']); assert r.exit_code == 0, r.output; "
        "print(sorted(m for m in sys.modules if m.startswith(('smi_conformance.lint', "
        "'smi_conformance.convert_command', 'smi_conformance.models', 'pydantic'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert isinstance(smi.get_command(click.Context(smi), "lint"), click.Command)


def test_lint_of_one_kind_loads_only_that_kinds_models(tmp_path: Path) -> None:
    """`smi lint` of a small file (what pre-commit runs) defines the model classes of the API groups it meets,
    not every group's, and loads neither the converter nor a TOML parser when there is no configuration."""
    (tmp_path / "split.yaml").write_text(
        "apiVersion: split.smi-spec.io/v1alpha4\nkind: TrafficSplit\nmetadata: {name: web, namespace: shop}\n"
        "spec:\n  service: web\n  backends:\n  - {service: web-v1, weight: -1}\n"
    )
    code = (
        "import json, sys; from click.testing import CliRunner; from smi_conformance.cli import main; "
        "r = CliRunner().invoke(main, ['lint', 'split.yaml']); assert r.exit_code == 1, r.output; "
        "assert 'SMI201' in r.output, r.output; "
        "print(json.dumps([m for m in sys.modules if m.startswith(('smi_conformance.models.', 'tomllib'))]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    loaded = set(json.loads(out.stdout))
    assert "smi_conformance.models.split" in loaded
    assert not loaded & {
        "smi_conformance.models.access",
        "smi_conformance.models.specs",
        "smi_conformance.models.metrics",
        "smi_conformance.models.conversion",
        "tomllib",
    }
