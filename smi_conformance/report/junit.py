"""JUnit XML for CI test tabs: one test case per conformance test, with the evidence of a failure as text.

``classname`` is the test's SMI API group and ``name`` its id, so CI tools group tests by API. A failed
test's ``<failure>`` carries the failing check's message and, as its text, that check's evidence (expected,
observed, statistics, convergence) as YAML; skipped and not-supported tests are ``<skipped>`` with the reason
(the latter prefixed ``not-supported:``); the implementation, seed and settings are the suite's
``<properties>``. Valid against the Jenkins JUnit schema (junit-10.xsd), which the tests check.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from smi_conformance.lint.reporters.junit import _clean
from smi_conformance.report.evidence import evidence_text
from smi_conformance.report.model import CheckResult, ConformanceReport, TestResult

__all__ = ["render_junit"]

NOT_SUPPORTED = "not-supported: "


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.3f}"


def _properties(report: ConformanceReport) -> list[tuple[str, str]]:
    impl, s = report.implementation, report.settings
    props = [
        ("implementation", impl.name),
        ("implementation.version", impl.version),
        ("implementation.verified", str(impl.verified).lower()),
        ("adapter", impl.adapter),
        *((f"adapter.option.{k}", v) for k, v in sorted(impl.options.items())),
        ("features", ",".join(impl.features)),
        ("cluster", str(report.cluster.get("kind", ""))),
        ("suite.version", report.suite_version),
        ("date", report.date.isoformat()),
        ("seed", str(s.seed)),
        ("alpha", f"{s.alpha:g}"),
        ("beta", f"{s.beta:g}"),
        ("tolerance", f"{s.tolerance:g}"),
        ("consistency.timeout.seconds", f"{s.consistency_timeout_seconds:g}"),
        ("consistency.consecutive.probes", str(s.consecutive_probes)),
        ("generated.examples", str(s.generated_examples)),
        ("namespace", s.namespace),
        *((f"profile.{p.name}", p.result) for p in report.profiles),
        ("reproduce", report.reproduce),
    ]
    if s.max_samples is not None:
        props.append(("max.samples", str(s.max_samples)))
    return props


def _check_line(check: CheckResult) -> str:
    return f"{'PASS' if check.passed else 'FAIL'} [{check.kind}] {check.message}"


def _case(parent: ET.Element, test: TestResult) -> None:
    case = ET.SubElement(
        parent, "testcase", classname=test.group, name=test.id, time=_seconds(test.duration_seconds)
    )
    if test.outcome == "failed":
        failed = [c for c in test.checks if not c.passed]
        check = failed[-1] if failed else None
        failure = ET.SubElement(
            case,
            "failure",
            message=_clean(check.message if check is not None else test.reason),
            type=check.kind if check is not None else "suite",
        )
        parts = [test.reason] if check is None else [check.message, evidence_text(check)]
        failure.text = _clean("\n\n".join(p for p in parts if p))
    elif test.outcome in ("skipped", "not-supported"):
        prefix = NOT_SUPPORTED if test.outcome == "not-supported" else ""
        ET.SubElement(case, "skipped", message=_clean(prefix + test.reason))
    if test.checks:
        ET.SubElement(case, "system-out").text = _clean("\n".join(_check_line(c) for c in test.checks))


def render_junit(report: ConformanceReport) -> str:
    """The JUnit XML document (one ``<testsuite>`` for the run)."""
    tests = report.tests
    failures = str(sum(1 for t in tests if t.outcome == "failed"))
    skipped = str(sum(1 for t in tests if t.outcome in ("skipped", "not-supported")))
    name = _clean(f"smi-conformance {report.implementation.name} {report.implementation.version}")
    time = _seconds(report.duration_seconds or sum(t.duration_seconds for t in tests))
    # the schema has no ``skipped`` on <testsuites>
    suites = ET.Element(
        "testsuites", name=name, time=time, tests=str(len(tests)), failures=failures, errors="0"
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=name,
        time=time,
        timestamp=report.date.isoformat(),
        tests=str(len(tests)),
        failures=failures,
        errors="0",
        skipped=skipped,
    )
    properties = ET.SubElement(suite, "properties")
    for key, value in _properties(report):
        ET.SubElement(properties, "property", name=key, value=_clean(value))
    for test in tests:
        _case(suite, test)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
