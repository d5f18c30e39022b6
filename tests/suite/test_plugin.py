"""The pytest plugin as users run it (pytest's ``pytester``): inert without a mesh; usage errors before
anything starts; ini keys and flags in one order of precedence; real runs against the reference mesh on the
embedded cluster (a conformance test and its report, a user's own tests with the fixtures, an exempted
feature, a deliberate fault, clean-up between tests, Ctrl-C).

Each run against the mesh starts it (a few seconds), so the runs are few and each checks several things.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import psutil
import pytest
import yaml

import reference_mesh.conformance  # noqa: F401  imported once: in-process runs would import it per run
from smi_conformance.plugin import SUITE_DIR
from smi_conformance.report.model import ConformanceReport
from smi_conformance.schema.jsonschema import REPORT_SCHEMA_PATH

pytestmark = pytest.mark.filterwarnings("default")  # the inner runs' warnings are theirs, not errors here

USER_TESTS_WITHOUT_MESH = """
def test_plain():
    assert 1 + 1 == 2

def test_wants_the_suite(smi):
    raise AssertionError("must not run without a mesh")

def test_wants_traffic(smi_traffic):
    raise AssertionError("must not run without a mesh")
"""


def no_traceback(text: str) -> None:
    assert "Traceback" not in text and "INTERNALERROR" not in text, text


# ------------------------------------------------------------------------------------------- no mesh
def test_without_a_mesh_the_plugin_is_inert_and_its_fixtures_skip_saying_why(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_user=USER_TESTS_WITHOUT_MESH)
    result = pytester.runpytest_inprocess("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]1[]] test_user.py:4: no mesh to test: give --smi-mesh (or the ini key smi_mesh)",
            "SKIPPED [[]1[]] test_user.py:7: no mesh to test: give --smi-mesh (or the ini key smi_mesh)",
        ]
    )
    assert "smi-conformance: mesh" not in result.stdout.str()  # no report header, no run
    assert result.ret == 0


def test_the_options_are_listed_in_their_own_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--help")
    result.stdout.fnmatch_lines(["SMI conformance suite:", "*--smi-mesh=STR*", "*--smi-test=VALUE*"])
    for ini in ("smi_mesh", "smi_alpha", "smi_tests"):
        assert ini in result.stdout.str()


BAD_OPTIONS = [
    (["--smi-mesh=nope"], "no mesh adapter named 'nope' (known: "),
    (["--smi-alpha=2"], "--smi-alpha=2: Input should be less than 0.5"),
    (["--smi-alpha=often"], "--smi-alpha=often: Input should be a valid number"),
    (["--smi-timeout=-1"], "--smi-timeout=-1: Input should be greater than 0"),
    (["--smi-cluster=docker"], "--smi-cluster=docker: Input should be 'embedded', 'kind' or 'kubeconfig'"),
    (["--smi-namespace=Upper"], "--smi-namespace=Upper: String should match pattern"),
    (["--smi-profile=core", "--smi-profile=bogus"], "unknown profile 'bogus'; known: core, extended"),
    (["--smi-claim=Bogus"], "unknown feature 'Bogus'; known: TrafficSplit,"),
    (["--smi-exempt=trafficsplit"], "unknown feature 'trafficsplit'"),
    (["--smi-mesh-option", "novalue"], "mesh option 'novalue' is not KEY=VALUE"),
    (["--smi-mesh-option", "faults=bogus"], "unknown fault(s) bogus; known: ignore-weights,"),
    (["--smi-mesh-option", "colour=red"], "unknown option(s) colour; known: split, faults, log-level"),
    (
        ["--smi-test=split-two-backends", "--smi-test=nope"],
        "unknown test id(s) nope; see `smi-conformance list`",
    ),
    (["--smi-skip=nope"], "unknown test id(s) nope"),
]


@pytest.mark.parametrize(("args", "says"), BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_bad_options_are_usage_errors_naming_the_problem(
    pytester: pytest.Pytester, args: list[str], says: str
) -> None:
    pytester.makepyfile(test_user="def test_x(smi): pass")
    mesh = [] if any(a.startswith("--smi-mesh=") for a in args) else ["--smi-mesh=reference"]
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", *mesh, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR: smi-conformance: ")]
    assert len(errors) == 1 and says in errors[0], result.stderr.str()
    no_traceback(result.stdout.str() + result.stderr.str())


SETTINGS_PROBE = """
import json
def test_settings(smi_settings, smi_mesh, record_property):
    print("SETTINGS " + smi_settings.model_dump_json())
    print("MESH " + smi_mesh.name)
"""


def effective_settings(result: pytest.RunResult) -> dict[str, Any]:
    result.assert_outcomes(passed=1)
    line = next(x for x in result.outlines if "SETTINGS " in x)
    settings: dict[str, Any] = json.loads(line.partition("SETTINGS ")[2])
    return settings


def test_ini_keys_and_flags_in_one_order_defaults_then_ini_then_flags(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        """
        [pytest]
        smi_mesh = reference
        smi_alpha = 0.01
        smi_tests =
            split-two-backends
            split-zero-weight
        smi_keep = true
        smi_mesh_options = split=smooth_round_robin
        """
    )
    pytester.makepyfile(test_probe=SETTINGS_PROBE)
    from_ini = effective_settings(
        pytester.runpytest_inprocess("test_probe.py", "-s", "-p", "no:cacheprovider")
    )
    assert from_ini["mesh"] == "reference"
    assert from_ini["alpha"] == 0.01  # ini over the default
    assert from_ini["beta"] == 1e-6  # the default where nothing is said
    assert from_ini["only"] == ["split-two-backends", "split-zero-weight"]
    assert from_ini["keep"] is True
    assert from_ini["mesh_options"] == {"split": "smooth_round_robin"}
    result = pytester.runpytest_inprocess(
        "test_probe.py",
        "-s",
        "-p",
        "no:cacheprovider",
        "--smi-alpha=0.001",
        "--smi-test=split-tcp",
        "--smi-beta=0.01",
    )
    from_flags = effective_settings(result)
    assert (from_flags["alpha"], from_flags["beta"]) == (0.001, 0.01)  # flags over ini
    assert from_flags["only"] == ["split-tcp"]  # a list flag replaces the ini's list
    assert from_flags["keep"] is True
    # the effective settings are in the report header
    result.stdout.fnmatch_lines(["smi-conformance: alpha 0.001, beta 0.01, tolerance 0.05*"])


def test_a_bad_ini_value_is_a_usage_error_naming_the_ini_key(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nsmi_mesh = reference\nsmi_alpha = 2\n")
    pytester.makepyfile(test_probe=SETTINGS_PROBE)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "smi-conformance: smi_alpha = 2 (ini): Input should be less than 0.5" in result.stderr.str()


# ------------------------------------------------------------------------------- runs against the mesh
#: Runs against the mesh are subprocesses, as users run them (in-process, a second run in one interpreter
#: would re-import what the first had imported, cryptography's classes among them). A bound, not a target.
MESH_RUN_TIMEOUT_S = 300
REPO_ROOT = Path(__file__).resolve().parents[2]

USER_TESTS = """
from smi_conformance.suite import manifests as m


def test_conformance_objects_are_gone(smi_traffic, smi_mesh, smi_metrics):
    # runs after access-listed-source-allowed, which allowed client -> web: deleted after it, so denied again
    result = smi_traffic.http("client", "web", count=5)
    assert result.by("form") == {"status 403": 5}, result.summary()
    assert smi_mesh.name == "reference-mesh"
    discovery = smi_metrics("/apis/metrics.smi-spec.io/v1alpha1")
    assert discovery["kind"] == "APIResourceList"


def test_own_objects_with_smi_apply(smi_apply, smi_traffic, smi_cluster):
    smi_apply(m.allow(smi_cluster.topology, "mine", sources=["client"], destination="web"))
    # each destination pod's proxy reads the change on its own: wait for both (seen: web-v2 allowed, web-v3
    # not yet); the change shows within a few probes; bounded
    for _ in range(200):
        got = smi_traffic.http("client", "web-v2", count=4)
        head = smi_traffic.http("client", "web-v3", method="HEAD", count=3)
        if got.count(ok=True) == 4 and head.count(ok=True) == 3:
            break
    assert got.by("version") == {"v2": 4}, got.summary()
    assert head.by("version") == {"v3": 3}, head.summary()
    assert smi_traffic.http("intruder", "web", count=3).count(ok=True) == 0


def test_smi_apply_deleted_them(smi_traffic):
    for _ in range(200):
        got = smi_traffic.http("client", "web", count=4)
        if got.count(ok=True) == 0:
            break
    assert got.by("form") == {"status 403": 4}, got.summary()
"""


def read_reports(directory: Path) -> ConformanceReport:
    as_yaml = yaml.safe_load((directory / "report.yaml").read_text())
    as_json = json.loads((directory / "report.json").read_text())
    assert as_yaml == as_json  # one report, two formats
    schema = json.loads((REPO_ROOT / "schemas" / "json" / REPORT_SCHEMA_PATH).read_text())
    assert [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(as_json)] == []
    return ConformanceReport.model_validate(as_json)


def test_a_run_of_a_conformance_test_and_a_users_own_tests_with_a_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess(
        str(SUITE_DIR / "test_access.py"),
        str(SUITE_DIR / "test_split.py"),
        "test_user.py",
        "-p",
        "no:cacheprovider",
        "-rs",
        "--smi-mesh=reference",
        "--smi-test=access-listed-source-allowed",
        "--smi-test=split-two-backends",
        "--smi-exempt=TrafficSplit",
        "--smi-report=out/report.yaml",
        "--smi-report=out/report.json",
        timeout=MESH_RUN_TIMEOUT_S,
    )
    result.assert_outcomes(passed=4, skipped=1)
    result.stdout.fnmatch_lines(["*not-supported: the mesh does not claim TrafficSplit*"])
    assert result.ret == 0

    report = read_reports(pytester.path / "out")
    tests = {t.id: t for t in report.tests}
    allowed = tests["access-listed-source-allowed"]
    assert allowed.outcome == "passed" and allowed.reason == ""
    assert [c.passed for c in allowed.checks] == [True, True, True, True]
    assert [c.expected["allowed"] for c in allowed.checks] == [True, True, False, False]
    assert allowed.checks[0].message.startswith(
        "smi-conformance/client -> smi-conformance/web: GET /: allowed (200 from web/"
    )
    assert "status 403" in allowed.checks[2].observed["forms"]
    assert allowed.requests == sum(c.requests for c in allowed.checks) > 0
    assert {d["kind"] for d in allowed.objects} == {"HTTPRouteGroup", "TrafficTarget"}
    assert allowed.versions == {"access.smi-spec.io": "v1alpha3", "specs.smi-spec.io": "v1alpha4"}
    exempt = tests["split-two-backends"]
    assert (exempt.outcome, exempt.reason) == ("not-supported", "the mesh does not claim TrafficSplit")
    others = [t for t in report.tests if t.id not in ("access-listed-source-allowed", "split-two-backends")]
    assert {(t.outcome, t.reason) for t in others} >= {("skipped", "not selected (--smi-test)")}
    assert {t.outcome for t in others} <= {"skipped", "not-supported"}
    assert "TrafficSplit" not in report.implementation.features
    assert report.summary["passed"] == 1 and report.summary["failed"] == 0
    assert report.reproduce == (
        "smi-conformance run --mesh reference --cluster embedded --exempt TrafficSplit "
        "--test access-listed-source-allowed --test split-two-backends"
    )
    assert report.cluster["kind"] == "embedded" and report.cluster["pods"] > 0


def test_a_fault_fails_exactly_its_test_with_the_checks_message(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--smi-mesh=reference",
        "--smi-mesh-option",
        "faults=ignore-methods",
        "--smi-test=access-http-methods",
        "--smi-test=access-listed-source-allowed",
        "--smi-report=report.json",
        "--smi-artifacts=artifacts",
        "--smi-timeout=2",  # the faulty check fails once this maximum time to consistency has passed
        timeout=MESH_RUN_TIMEOUT_S,
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, failed=1)
    report = ConformanceReport.model_validate_json((pytester.path / "report.json").read_text())
    tests = {t.id: t for t in report.tests}
    failed = tests["access-http-methods"]
    assert failed.outcome == "failed"
    bad = [c for c in failed.checks if not c.passed]
    assert len(bad) == 1 and failed.reason == bad[0].message
    assert "POST /books: expected denied; after 2 s still not: 200 from web/" in failed.reason
    assert failed.reason in result.stdout.str()  # the same message in pytest's own output
    assert failed.artifacts and all((pytester.path / "artifacts" / a).is_file() for a in failed.artifacts)
    assert tests["access-listed-source-allowed"].outcome == "passed"
    assert report.summary["failed"] == 1
    core = next(p for p in report.profiles if p.name == "core")
    assert (core.result, core.failed_tests) == ("failed", ["access-http-methods"])
    assert "faults: ignore-methods" in report.implementation.name
    assert "--mesh-option faults=ignore-methods" in report.reproduce


# ------------------------------------------------------------------------------------------- Ctrl-C
#: Holds the run inside a conformance test, after its objects were applied, until the test sends SIGINT.
PAUSE_IN_TESTS = """
import time
from pathlib import Path

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    Path("in-test").write_text(item.name)
    time.sleep(120)
    return (yield)
"""


@pytest.mark.parametrize(
    ("tool", "when"),
    [("pytest", "while the mesh starts"), ("pytest", "in a test"), ("smi-conformance run", "in a test")],
)
def test_ctrl_c_leaves_no_mesh_process_and_still_writes_the_report(
    pytester: pytest.Pytester, tool: str, when: str
) -> None:
    """SIGINT, as Ctrl-C in a terminal sends it: the run ends as interrupted (no traceback; pytest's exit code
    2, the command's 130 as a shell reports Ctrl-C), every process it started is gone, and the report is
    written and says so."""
    pytester.makepyfile(pause_plugin=PAUSE_IN_TESTS)
    pytester.makeini("[pytest]\n")  # this folder's settings, not those of the repository holding the suite
    if tool == "pytest":
        command = [sys.executable, "-m", "pytest", str(SUITE_DIR / "test_access.py"), "-c", "tox.ini"]
        command += ["--rootdir", ".", "-p", "no:cacheprovider", "-p", "pause_plugin"]
        command += ["--smi-mesh=reference", "--smi-test=access-listed-source-allowed", "--smi-report=r.json"]
        interrupted_code = int(pytest.ExitCode.INTERRUPTED)
    else:
        command = [sys.executable, "-m", "smi_conformance.cli_conformance", "run", "--no-progress"]
        command += ["--test", "access-listed-source-allowed", "--report", "r.json"]
        command += ["--pytest-arg=-p", "--pytest-arg=pause_plugin"]
        interrupted_code = 130
    proc = subprocess.Popen(
        command, cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        me = psutil.Process(proc.pid)
        started: list[psutil.Process] = []
        deadline = time.monotonic() + MESH_RUN_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            started = me.children(recursive=True)
            if when == "while the mesh starts" and len(started) >= 2:
                break
            if when == "in a test" and (pytester.path / "in-test").exists():
                started = me.children(recursive=True)
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.communicate()[0]
        assert started, "the run started no process"
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=MESH_RUN_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == interrupted_code, output
    no_traceback(output)
    _, alive = psutil.wait_procs(started, timeout=10)
    assert alive == [], [p.cmdline() for p in alive]
    report = ConformanceReport.model_validate_json((pytester.path / "r.json").read_text())
    interrupted = next(t for t in report.tests if t.id == "access-listed-source-allowed")
    assert (interrupted.outcome, interrupted.reason) == ("skipped", "not run: the run was interrupted")
    assert report.summary["passed"] == report.summary["failed"] == 0


def test_testpaths_in_the_ini_are_the_users_tests_not_the_suite(pytester: pytest.Pytester) -> None:
    """A project that sets smi_mesh and testpaths runs its own tests; `pytest` with neither paths nor
    testpaths runs the suite."""
    pytester.makeini("[pytest]\nsmi_mesh = reference\ntestpaths = mine\n")
    pytester.mkdir("mine")
    pytester.makepyfile(**{"mine/test_mine": "def test_my_own(smi_settings): pass"})
    result = pytester.runpytest_inprocess("--collect-only", "-q", "-p", "no:cacheprovider")
    collected = [line for line in result.outlines if "::" in line]
    assert collected == ["mine/test_mine.py::test_my_own"], result.outlines

    pytester.makeini("[pytest]\nsmi_mesh = reference\n")
    result = pytester.runpytest_inprocess("--collect-only", "-q", "-p", "no:cacheprovider")
    collected = [line for line in result.outlines if "::" in line]
    assert "mine/test_mine.py::test_my_own" not in collected
    assert any("test_split.py::" in line for line in collected), result.outlines


CLEAN_UP_FAILS = """
from smi_conformance.cluster.base import ClusterError
from smi_conformance.suite.run import ConformanceRun

stop = ConformanceRun.stop


def failing_stop(self):
    stop(self)  # the cluster does stop; then say that something could not be removed
    raise ClusterError("namespace smi-conformance still there after 300 s")


ConformanceRun.stop = failing_stop
"""


def test_a_failed_clean_up_is_said_and_fails_the_run_without_a_traceback(pytester: pytest.Pytester) -> None:
    """Found certifying Traefik Mesh on kind: an uninstall step that failed ended the run with a traceback."""
    pytester.makeconftest(CLEAN_UP_FAILS)
    pytester.makepyfile(
        test_user="def test_uses_the_cluster(smi_cluster):\n    assert smi_cluster.topology\n"
    )
    result = pytester.runpytest_subprocess(
        "test_user.py",
        "-p",
        "no:cacheprovider",
        "--smi-mesh=reference",
        "--smi-report=r.json",
        timeout=MESH_RUN_TIMEOUT_S,
    )
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    said = (
        "smi-conformance: cleaning up the cluster failed: namespace smi-conformance still there after 300 s"
    )
    assert said in result.stderr.str()
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert (pytester.path / "r.json").exists()  # the verdicts were written before the clean-up
