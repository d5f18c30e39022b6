"""The suite catches broken meshes, each on the right test, and passes the correct one.

Every fault switch of the reference mesh (reference_mesh/faults.py) is a bug a real mesh could have. For
each, `smi-conformance run` is pointed at the broken mesh with the tests that must catch it and a test the
fault does not touch (a control): the first must fail with a message that names what went wrong, the control
must pass.
The full matrix (every test against every fault) is in docs/conformance/faults.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reference_mesh.faults import FAULTS

#: fault -> (tests that must fail, words the first failure message must contain, control tests that must pass)
CAUGHT_BY: dict[str, tuple[list[str], str, list[str]]] = {
    "ignore-weights": (["split-two-backends"], "split", ["access-listed-source-allowed"]),
    "skewed-weights": (["split-two-backends", "split-three-backends"], "expected", ["access-http-methods"]),
    "zero-weight-traffic": (["split-zero-weight"], "weight 0", ["split-two-backends"]),
    "split-ignores-matches": (["split-matches"], "web-v2", ["split-two-backends"]),
    "allow-by-default": (["access-deny-by-default"], "expected denied", ["split-two-backends"]),
    "ignore-methods": (["access-http-methods"], "POST", ["access-http-path-regex"]),
    "ignore-headers": (["access-http-headers"], "x-group", ["access-http-methods"]),
    "unanchored-paths": (["access-http-path-regex"], "/shop/books/42", ["access-http-methods"]),
    "ignore-source-namespace": (
        ["access-source-namespace"],
        "smi-conformance-other/client",
        ["access-http-methods"],
    ),
    "ignore-tcp-ports": (["access-tcp-route-ports"], "TCP", ["access-tcp-route"]),
    "sticky-deletes": (["access-delete-denies-again"], "expected denied", []),
    "cumulative-metrics": (["metrics-window-rolls-off"], "observed", ["metrics-api-discovery"]),
    "failures-as-success": (["metrics-counts-in-window"], "failure", ["metrics-api-discovery"]),
}


def test_every_fault_has_a_test() -> None:
    assert set(CAUGHT_BY) == set(FAULTS)


def run_suite(
    tmp_path: Path, fault: str | None, tests: list[str]
) -> tuple[int, dict[str, dict[str, object]]]:
    report = tmp_path / "report.json"
    args = [sys.executable, "-m", "smi_conformance.cli_conformance", "run", "--no-progress", "--timeout", "4"]
    if fault:
        args += ["--mesh-option", f"faults={fault}"]
    for t in tests:
        args += ["--test", t]
    args += ["--report", str(report), "--artifacts", str(tmp_path / "artifacts")]
    proc = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert report.exists(), proc.stdout + proc.stderr
    data = json.loads(report.read_text())
    return proc.returncode, {t["id"]: t for t in data["tests"]}


@pytest.mark.parametrize("fault", sorted(CAUGHT_BY))
def test_the_suite_fails_the_broken_mesh_on_the_right_test(tmp_path: Path, fault: str) -> None:
    failing, words, controls = CAUGHT_BY[fault]
    code, tests = run_suite(tmp_path, fault, failing + controls)
    assert code == 1
    for test_id in failing:
        assert tests[test_id]["outcome"] == "failed", (test_id, tests[test_id])
    assert words in tests[failing[0]]["reason"], tests[failing[0]]["reason"]
    for test_id in controls:
        assert tests[test_id]["outcome"] == "passed", (test_id, tests[test_id]["reason"])


def test_the_correct_mesh_passes_every_test(tmp_path: Path) -> None:
    code, tests = run_suite(tmp_path, None, [])
    failed = {t: r["reason"] for t, r in tests.items() if r["outcome"] != "passed"}
    assert not failed
    assert code == 0
