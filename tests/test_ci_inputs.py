"""Tests whose outside input CI must provide fail under CI=true when it is missing, and skip (saying why)
elsewhere: the official SMI CRDs and spec examples (../shared), the SARIF and JUnit schemas, Chromium."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

NEEDS_INPUT = [
    "tests/lint/test_spec_examples.py::test_every_example",
    "tests/lint/test_reporters.py::test_sarif_validates_against_the_official_schema",
    "tests/report/test_junit.py::test_valid_against_the_jenkins_junit_schema[reference]",
    "tests/report/test_browser.py::test_what_a_person_sees",
]


def _run(ci: str | None, tmp: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "SARIF_SCHEMA", "JUNIT_XSD", "CHROMIUM")}
    env["SMI_SHARED_DIR"] = tmp  # no smi-spec in it
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "0", "-p", "no:cacheprovider", "-rfEs", *NEEDS_INPUT],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("ci", [None, "false"])
def test_outside_ci_a_missing_input_skips_saying_why(ci: str | None, tmp_path: str) -> None:
    done = _run(ci, str(tmp_path))
    assert done.returncode == 0, done.stdout[-3000:]
    assert _outcomes(done.stdout) == {"skipped": len(NEEDS_INPUT)}
    for reason in ("SMI reference data not found", "SARIF_SCHEMA not set", "JUNIT_XSD not set", "CHROMIUM"):
        assert reason in done.stdout


def _outcomes(stdout: str) -> dict[str, int]:
    summary = stdout.strip().splitlines()[-1]
    return {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", summary)}


def test_under_ci_a_missing_input_fails_the_test(tmp_path: str) -> None:
    """A missing input found by a fixture is an error of the test, one found in its body a failure."""
    done = _run("true", str(tmp_path))
    assert done.returncode == 1, done.stdout[-3000:]
    outcomes = _outcomes(done.stdout)
    assert outcomes.get("failed", 0) + outcomes.get("errors", 0) == len(NEEDS_INPUT), outcomes
    assert not {"passed", "skipped"} & set(outcomes)
    assert done.stdout.count("CI=true, and CI must run this test") >= len(NEEDS_INPUT)
