"""``smi-conformance list`` and ``smi-conformance run`` as installed (the console script, in a subprocess):
the registry with each test's selection, exit codes 0 / 1 / 2, the summary table and the reports it writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from smi_conformance.report.model import ConformanceReport
from smi_conformance.suite.registry import load_suite
from smi_conformance.suite.topology import standard_topology

SCRIPT = str(Path(sys.executable).with_name("smi-conformance"))
#: A bound on a run against the mesh (a few seconds each here), not a target.
RUN_TIMEOUT_S = 300


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "COLUMNS": "250",
        "NO_COLOR": "1",
    }  # a wide table: whole ids and messages on one line
    return subprocess.run(
        [SCRIPT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
    )


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr


def test_list_shows_every_registered_test() -> None:
    result = cli("list")
    assert result.returncode == 0, result.stderr
    suite = load_suite()
    assert f"{len(suite)} conformance tests" in result.stdout
    for test_id in suite:
        assert test_id in result.stdout


def test_list_json_with_a_mesh_gives_each_tests_selection() -> None:
    plain = cli("list", "--json")
    assert plain.returncode == 0, plain.stderr
    rows = json.loads(plain.stdout)["tests"]
    suite = load_suite()
    assert [r["id"] for r in rows] == list(suite)
    assert all("selection" not in r for r in rows)
    assert rows[0] == suite[rows[0]["id"]].to_json(standard_topology())

    with_mesh = cli("list", "--json", "--mesh", "reference", "--mesh-option", "split=smooth_round_robin")
    assert with_mesh.returncode == 0, with_mesh.stderr
    selections = {r["id"]: r["selection"] for r in json.loads(with_mesh.stdout)["tests"]}
    assert set(selections) == set(suite)
    # the reference mesh claims every feature and serves every released version
    assert {s["outcome"] for s in selections.values()} == {"run"}
    assert selections["split-quantity-weights"]["versions"] == {
        "split.smi-spec.io": "v1alpha1",
        "access.smi-spec.io": "v1alpha3",
        "specs.smi-spec.io": "v1alpha4",
    }
    assert selections["access-deny-by-default"]["versions"] == {"access.smi-spec.io": "v1alpha3"}


USAGE_ERRORS = [
    (["list", "--mesh", "nope"], "no mesh adapter named 'nope'"),
    (["list", "--mesh", "reference", "--mesh-option", "faults=bogus"], "unknown fault(s) bogus"),
    (["run", "--alpha", "2"], "smi-conformance: --alpha=2.0: Input should be less than 0.5"),  # its own name
    (["run", "--timeout", "-1"], "smi-conformance: --timeout=-1.0: Input should be greater than 0"),
    (["run", "--test", "nope"], "unknown test id(s) nope"),
    (["run", "--mesh", "nope"], "no mesh adapter named 'nope'"),
    (["run", "--mesh-option", "novalue"], "mesh option 'novalue' is not KEY=VALUE"),
    (["run", "--claim", "Teleport"], "unknown feature 'Teleport'"),
    (["run", "--profile", "bogus"], "'bogus' is not one of 'core', 'extended'"),
]


@pytest.mark.parametrize(("args", "says"), USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS])
def test_usage_errors_exit_2_with_the_reason_and_no_traceback(
    args: list[str], says: str, tmp_path: Path
) -> None:
    result = cli(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert says in result.stdout + result.stderr
    no_traceback(result)
    assert list(tmp_path.iterdir()) == []  # nothing started, nothing written


def test_run_of_a_passing_test_exits_0_with_the_summary_and_its_reports(tmp_path: Path) -> None:
    result = cli(
        "run",
        "--test",
        "access-listed-source-allowed",
        "--report",
        "out/r.yaml",
        "--report",
        "out/r.json",
        "--no-progress",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    no_traceback(result)
    out = result.stdout
    assert "       passed  access-listed-source-allowed" in out  # the line printed when it ended
    row = next(line for line in out.splitlines() if line.startswith("│ access-listed-source-allowed"))
    assert [cell.strip() for cell in row.split("│")[2:4]] == ["core", "passed"]
    assert "smi-conformance/client -> smi-conformance/stats: GET /: denied" in row  # the last check
    assert f"{len(load_suite()) - 1} tests not selected" in out
    assert "profile core: PARTIAL (1 passed," in out  # one test does not certify a profile
    reproduce = "smi-conformance run --mesh reference --cluster embedded --test access-listed-source-allowed"
    assert f"reproduce: {reproduce}" in out
    assert "report: out/r.yaml" in out and "report: out/r.json" in out
    report = ConformanceReport.model_validate_json((tmp_path / "out" / "r.json").read_text())
    assert [t.outcome for t in report.tests if t.id == "access-listed-source-allowed"] == ["passed"]
    assert (tmp_path / "out" / "r.yaml").is_file()


def test_run_with_a_fault_exits_1_and_the_table_says_which_check_failed(tmp_path: Path) -> None:
    result = cli(
        "run",
        "--mesh-option",
        "faults=ignore-methods",
        "--test",
        "access-http-methods",
        "--timeout",
        "2",
        "--no-progress",
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    no_traceback(result)
    out = result.stdout
    assert "reference-mesh (faults: ignore-methods)" in out
    row = next(line for line in out.splitlines() if line.startswith("│ access-http-methods"))
    assert [cell.strip() for cell in row.split("│")[2:4]] == ["core", "failed"]
    assert "POST /books: expected denied; after 2 s" in row
    assert "profile core: FAILED (1 failed," in out
    assert "--mesh-option faults=ignore-methods" in out
