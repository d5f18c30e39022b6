from click.testing import CliRunner

from smi_conformance import __version__
from smi_conformance.cli import main


def test_version_flag_prints_package_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output
