"""Reports the writer tests read: two real runs, saved, and a hand-edited copy with what no run gives yet.

``data/reference-run.yaml``: the whole suite against the reference mesh (one failure: the known hole in
access-no-foreign-grants at the time). ``data/broken-mesh-run.yaml``: the suite against the reference mesh
with fault switches (``--smi-mesh-option faults=skewed-weights,ignore-methods,cumulative-metrics,
failures-as-success --smi-timeout 4 --smi-exempt UDPRoute --smi-skip split-tcp``): failed weight checks
(off, and a split that never showed), failed access, count, roll-off and latency checks, a skipped and a
not-supported test. :func:`hostile_report` adds markup and control characters where a mesh's answers go.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from smi_conformance.report.model import CheckResult, ConformanceReport, TestResult

DATA = Path(__file__).parent / "data"
REFERENCE = DATA / "reference-run.yaml"
BROKEN = DATA / "broken-mesh-run.yaml"
SCRIPT = "<script>document.title='pwned'</script>"


def load(path: Path) -> ConformanceReport:
    return ConformanceReport.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def result_of(report: ConformanceReport, test_id: str) -> TestResult:
    return next(t for t in report.tests if t.id == test_id)


def hostile_report() -> ConformanceReport:
    """The broken-mesh run, plus markup in a reply body, a check's message, the implementation's name and
    URL, and control characters XML cannot carry."""
    report = load(BROKEN)
    report.implementation.name = "mesh <b>&amp; co</b>"
    report.implementation.url = "javascript:alert(1)"
    access = result_of(report, "access-http-methods")
    failed = next(c for c in access.checks if not c.passed)
    failed.observed = {**failed.observed, "examples": [f"body {SCRIPT}\x00\x1b[31m"]}
    failed.message += f" {SCRIPT} \x07bell"
    access.reason = failed.message
    access.checks.insert(
        0, CheckResult(name=f"reply {SCRIPT}", kind="access", passed=True, message=f"ok {SCRIPT}")
    )
    return report
