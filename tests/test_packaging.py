"""The distribution's metadata builds without a warning, so `make setup` and `pip install` stay quiet.

Builds the metadata of a copy of pyproject.toml with setuptools' own PEP 517 hook (the backend pip runs),
every warning an error: setuptools deprecated `project.license` as a TOML table, and its warning was most
of the set-up output (issue 14).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from email.parser import Parser
from pathlib import Path

from tests.conftest import REPO_ROOT

BUILD_METADATA = (
    "import sys, setuptools.build_meta as backend; "
    "print(backend.prepare_metadata_for_build_wheel(sys.argv[1]))"
)


def test_metadata_builds_without_warnings_and_declares_the_license(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, project / name)
    for package in ("smi_conformance", "reference_mesh"):
        (project / package).mkdir()
        (project / package / "__init__.py").write_text("")
    out = tmp_path / "metadata"
    out.mkdir()

    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", BUILD_METADATA, str(out)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
    dist_info = out / result.stdout.strip().splitlines()[-1]
    metadata = Parser().parsestr((dist_info / "METADATA").read_text())
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["License"] is None  # the deprecated free-text field is gone
