"""The pre-commit hook as users run it: pre-commit itself installs this repository's hook from a git
revision into its own environment and runs it on the files of another repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, missing_input

BAD = """\
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: canary}
spec:
  service: web
  backends: [{service: web-v1, weight: -1}]
"""


def git(cwd: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.strip()


@pytest.mark.slow
def test_the_hook_blocks_a_bad_manifest_and_passes_a_fixed_one(tmp_path: Path) -> None:
    pre_commit = shutil.which("pre-commit", path=str(Path(sys.executable).parent))
    if pre_commit is None or not (REPO_ROOT / ".git").exists() or shutil.which("git") is None:
        missing_input("needs pre-commit (the dev extra), git, and this repository as a git checkout")
    revision = git(REPO_ROOT, "rev-parse", "HEAD")  # pre-commit installs committed code, as users get it
    project = tmp_path / "project"
    project.mkdir()
    git(project, "init", "-q")
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {REPO_ROOT}\n  rev: {revision}\n  hooks:\n  - id: smi-lint\n"
    )
    (project / "split.yaml").write_text(BAD)
    git(project, "add", "-A")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache"), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}

    def hook() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [pre_commit, "run", "--all-files", "--color", "never"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    failed = hook()
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "split.yaml:6:40: SMI201 error backend weight -1 is negative" in failed.stdout
    (project / "split.yaml").write_text(BAD.replace("weight: -1", "weight: 1"))
    git(project, "add", "-A")
    passed = hook()
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "smi lint" in passed.stdout and "Passed" in passed.stdout
