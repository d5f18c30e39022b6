"""JUnit XML: one test case per conformance test, the failing check's evidence as text, valid for CI tools."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from smi_conformance.report.junit import render_junit
from tests.conftest import missing_input

from .reports import BROKEN, REFERENCE, SCRIPT, hostile_report, load, result_of


def _xsd() -> Path:
    path = os.environ.get("JUNIT_XSD")
    if not path or not Path(path).is_file():
        missing_input(
            "JUNIT_XSD not set (make test fetches the Jenkins JUnit schema from pytest's source "
            "distribution: ci/junit-xsd.sh); the structural tests here still run"
        )
    return Path(path)


@pytest.mark.parametrize("name", ["reference", "broken", "hostile"])
def test_valid_against_the_jenkins_junit_schema(name: str) -> None:
    from lxml import etree

    schema = etree.XMLSchema(etree.parse(str(_xsd())))
    report = {"reference": lambda: load(REFERENCE), "broken": lambda: load(BROKEN), "hostile": hostile_report}
    document = etree.fromstring(render_junit(report[name]()).encode())
    assert schema.validate(document), schema.error_log


def test_the_schema_check_can_fail() -> None:
    """The XSD is strict enough to matter: the attribute this writer must leave out is refused."""
    from lxml import etree

    schema = etree.XMLSchema(etree.parse(str(_xsd())))
    document = etree.fromstring(render_junit(load(BROKEN)).encode())
    document.set("skipped", "1")
    assert not schema.validate(document)


def _cases(xml: str) -> tuple[ET.Element, dict[str, ET.Element]]:
    root = ET.fromstring(xml)
    suite = root.find("testsuite")
    assert suite is not None
    return suite, {c.get("name", ""): c for c in suite.iter("testcase")}


def test_one_case_per_test_named_by_id_and_grouped_by_api() -> None:
    report = load(BROKEN)
    suite, cases = _cases(render_junit(report))
    assert list(cases) == [t.id for t in report.tests]
    for test in report.tests:
        case = cases[test.id]
        assert case.get("classname") == test.group
        assert float(case.get("time", "")) == pytest.approx(test.duration_seconds, abs=0.001)
    outcomes = [t.outcome for t in report.tests]
    assert suite.get("tests") == str(len(outcomes))
    assert suite.get("failures") == str(outcomes.count("failed"))
    assert suite.get("skipped") == str(outcomes.count("skipped") + outcomes.count("not-supported"))


def test_a_failure_carries_the_failing_check_and_its_evidence() -> None:
    report = load(BROKEN)
    _, cases = _cases(render_junit(report))
    test = result_of(report, "split-canary-sequence")
    check = test.checks[-1]
    failure = cases[test.id].find("failure")
    assert failure is not None
    assert failure.get("message") == check.message and failure.get("type") == "split"
    text = failure.text or ""
    assert text.startswith(check.message)
    evidence = yaml.safe_load(text[len(check.message) :])
    assert evidence["observed"]["counts"] == check.observed["counts"]
    assert evidence["statistics"]["n"] == check.statistics["n"]  # type: ignore[index]
    out = cases[test.id].findtext("system-out") or ""
    assert out.count("PASS [split]") == len(test.checks) - 1 and out.count("FAIL [split]") == 1
    passed = cases["split-matches"]
    assert passed.find("failure") is None and passed.find("skipped") is None


def test_skipped_and_not_supported() -> None:
    report = load(BROKEN)
    _, cases = _cases(render_junit(report))
    not_supported = cases["access-udp-route"].find("skipped")
    skipped = cases["split-tcp"].find("skipped")
    assert not_supported is not None and skipped is not None
    assert not_supported.get("message") == "not-supported: " + result_of(report, "access-udp-route").reason
    assert skipped.get("message") == result_of(report, "split-tcp").reason
    assert not (skipped.get("message") or "").startswith("not-supported")


def test_properties_name_the_implementation_seed_and_settings() -> None:
    report = load(BROKEN)
    suite, _ = _cases(render_junit(report))
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["implementation"] == report.implementation.name
    assert props["implementation.version"] == report.implementation.version
    assert props["adapter.option.faults"] == report.implementation.options["faults"]
    assert props["seed"] == str(report.settings.seed)
    assert props["tolerance"] == "0.05" and props["consistency.timeout.seconds"] == "4"
    assert props["profile.core"] == "failed"
    assert props["reproduce"] == report.reproduce


def test_markup_and_control_characters_stay_text() -> None:
    xml = render_junit(hostile_report())
    _, cases = _cases(xml)  # parses: no raw control character reached the document
    failure = cases["access-http-methods"].find("failure")
    assert failure is not None
    assert SCRIPT in (failure.get("message") or "") and SCRIPT in (failure.text or "")
    assert "\x00" not in xml and "\x07" not in xml and "<script>" not in xml
