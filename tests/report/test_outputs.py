"""Where reports go: the plugin's options write every format from one real run."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from lxml import html

from smi_conformance.report.writers import write_reports
from smi_conformance.suite.settings import SuiteSettings

from .reports import BROKEN, load


def test_write_reports_writes_each_format_it_is_asked_for(tmp_path: Path) -> None:
    report = load(BROKEN)
    settings = SuiteSettings(
        reports=(tmp_path / "a/r.yaml", tmp_path / "r.json"),
        html=tmp_path / "b/r.html",
        junit=tmp_path / "c/r.xml",
    )
    written = write_reports(report, settings)
    assert written == [
        tmp_path / "a/r.yaml",
        tmp_path / "r.json",
        tmp_path / "b/r.html",
        tmp_path / "c/r.xml",
    ]
    assert json.loads((tmp_path / "r.json").read_text())["kind"] == "ConformanceReport"
    assert (tmp_path / "b/r.html").read_text().startswith("<!DOCTYPE html>")
    assert ET.parse(tmp_path / "c/r.xml").getroot().tag == "testsuites"
    assert write_reports(report, SuiteSettings()) == []


def test_the_plugin_options_write_junit_html_and_the_report_from_a_run(tmp_path: Path) -> None:
    """``pytest --smi-mesh=reference --smi-junit ... --smi-html ... --smi-report ...`` on one quick test."""
    junit, page, data = tmp_path / "out/junit.xml", tmp_path / "out/report.html", tmp_path / "out/report.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "--smi-mesh=reference",
            "--smi-test=metrics-api-discovery",
            f"--smi-junit={junit}",
            f"--smi-html={page}",
            f"--smi-report={data}",
            f"--smi-artifacts={tmp_path / 'artifacts'}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(data.read_text())
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert list(cases) == [t["id"] for t in report["tests"]]
    ran = cases.pop("metrics-api-discovery")
    assert ran.find("failure") is None and ran.find("skipped") is None
    assert "PASS [metrics]" in (ran.findtext("system-out") or "")
    assert all(c.find("skipped") is not None for c in cases.values())  # not selected
    dom = html.document_fromstring(page.read_text())
    (section,) = dom.xpath('//section[@data-test="metrics-api-discovery"]')
    assert "passed" in section.get("class")
    assert report["implementation"]["name"] in dom.findtext(".//h1")


@pytest.mark.parametrize("width", [80, 200])
def test_the_console_summary_shows_every_failure_reason_at_any_width(width: int) -> None:
    """A CI log is 80 columns: the verdicts then follow the table instead of being squeezed out of it."""
    from rich.console import Console

    from smi_conformance.suite.cli import print_summary

    report = load(BROKEN)
    console = Console(width=width, record=True, highlight=False)
    print_summary(console, report, [])
    text = " ".join(console.export_text().split())  # as read, whatever the folding
    not_passed = [t for t in report.tests if t.outcome in ("failed", "not-supported")]
    assert not_passed
    for t in not_passed:
        assert t.id in text
        assert " ".join(t.reason.split())[:60] in text, (t.id, t.reason)
