"""A few runs through a real process, as pre-commit and CI run it: streams, exit codes, stdin, start-up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .helpers import CLEAN, ERROR

REPO_ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smi_conformance", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_sarif_on_stdout_is_the_only_output(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(ERROR)
    proc = run("lint", "--format", "sarif", "a.yaml", cwd=tmp_path)
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert [r["ruleId"] for r in report["runs"][0]["results"]] == ["SMI201"]
    assert proc.stderr == ""


def test_helm_style_stdin(tmp_path: Path) -> None:
    rendered = (
        "---\n# Source: chart/templates/split.yaml\n" + CLEAN + "---\n# Source: chart/templates/empty.yaml\n"
    )
    proc = run("lint", "-", stdin=rendered, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "No problems in 1 SMI object in 1 file."


def test_usage_errors_exit_2_on_stderr(tmp_path: Path) -> None:
    proc = run("lint", "missing.yaml", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert "missing.yaml: no such file or directory" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bundled_examples_are_clean() -> None:
    """`make run` lints examples/: the bundled bookstore must pass (with its one reasoned suppression)."""
    proc = run("lint", "examples/", cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = "No problems in 12 SMI objects in 7 files (14 other documents skipped, 1 suppressed)."
    assert summary in proc.stdout
