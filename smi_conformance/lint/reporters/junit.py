"""JUnit XML for CI test tabs: one test case per linted file; findings at or above ``--fail-on`` fail it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict

from smi_conformance.lint.engine import Finding, LintResult
from smi_conformance.lint.reporters import Options, summary

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _XML_INVALID.sub("\ufffd", text)


def _line(f: Finding) -> str:
    about = f" [{f.object}]" if f.object else ""
    return _clean(f"{f.location}: {f.code} {f.severity.label} {f.message} ({f.name}){about}")


def render(result: LintResult, options: Options) -> str:
    by_file: dict[str, list[Finding]] = defaultdict(list)
    for f in result.findings:
        by_file[f.location.file].append(f)
    files = list(by_file) or ["(inputs)"]
    suites = ET.Element("testsuites", name="smi lint")
    suite = ET.SubElement(
        suites, "testsuite", name="smi lint", tests=str(len(files)), errors="0", skipped="0"
    )
    failures = 0
    for file in files:
        case = ET.SubElement(suite, "testcase", classname="smi-lint", name=_clean(file))
        failing = [f for f in by_file.get(file, []) if f.severity >= options.fail_on]
        other = [f for f in by_file.get(file, []) if f.severity < options.fail_on]
        if failing:
            failures += 1
            failure = ET.SubElement(
                case,
                "failure",
                type=failing[0].code,
                message=_clean(f"{len(failing)} finding(s) at or above {options.fail_on.label}"),
            )
            failure.text = "\n".join(_line(f) for f in failing)
        if other:
            ET.SubElement(case, "system-out").text = "\n".join(_line(f) for f in other)
    suite.set("failures", str(failures))
    ET.SubElement(suite, "system-out").text = summary(result)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
