"""JUnit XML for CI test tabs: one test case per linted file; findings at or above ``--fail-on`` fail it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from xml.sax.saxutils import escape

from smi_conformance.lint.engine import Finding, LintResult
from smi_conformance.lint.reporters import Options, summary
from smi_conformance.lint.reporters.frame import MARK, fill

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _XML_INVALID.sub("\ufffd", text)


def _line(f: Finding) -> str:
    about = f" [{f.object}]" if f.object else ""
    return _clean(f"{f.location}: {f.code} {f.severity.label} {f.message} ({f.name}){about}")


def pieces(result: LintResult, options: Options) -> Iterator[str]:
    """The report a line at a time. ElementTree writes the frame, one test case per file whose failure and
    system-out texts are ``MARK``; the findings' lines are written into it as they are read. The frame needs
    each file's counts, so the findings are read three times: once to count, then, side by side, the
    failing ones and the others (a file's findings come together: ``LintResult`` sorts them by file)."""
    files = _count(result, options) or {"(inputs)": _Counts()}
    suites = ET.Element("testsuites", name="smi lint")
    suite = ET.SubElement(
        suites, "testsuite", name="smi lint", tests=str(len(files)), errors="0", skipped="0"
    )
    texts: list[tuple[bool, int]] = []  #: (failing, how many lines) of each MARK, in order
    for file, counts in files.items():
        case = ET.SubElement(suite, "testcase", classname="smi-lint", name=_clean(file))
        if counts.failing:
            failure = ET.SubElement(
                case,
                "failure",
                type=counts.first_failing,
                message=_clean(f"{counts.failing} finding(s) at or above {options.fail_on.label}"),
            )
            failure.text = MARK
            texts.append((True, counts.failing))
        if counts.other:
            ET.SubElement(case, "system-out").text = MARK
            texts.append((False, counts.other))
    suite.set("failures", str(sum(c.failing > 0 for c in files.values())))
    ET.SubElement(suite, "system-out").text = summary(result)
    ET.indent(suites)
    frame = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    failing = (f for f in result.findings if f.severity >= options.fail_on)
    other = (f for f in result.findings if f.severity < options.fail_on)
    return fill(frame, (_text(islice(failing if fails else other, n)) for fails, n in texts))


@dataclass
class _Counts:
    failing: int = 0
    other: int = 0
    first_failing: str = ""  #: the code of the file's first failing finding: the failure's type


def _count(result: LintResult, options: Options) -> dict[str, _Counts]:
    """Each file with findings, in order, and how many of them fail."""
    files: dict[str, _Counts] = {}
    last = None
    for f in result.findings:
        file = f.location.file
        if file != last and file in files:
            raise ValueError(f"the findings of {file} are not together (the JUnit report needs them by file)")
        last = file
        counts = files.setdefault(file, _Counts())
        if f.severity >= options.fail_on:
            counts.failing += 1
            counts.first_failing = counts.first_failing or f.code
        else:
            counts.other += 1
    return files


def _text(findings: Iterable[Finding]) -> Iterator[str]:
    """The findings' lines, one a line, escaped as ElementTree escapes text."""
    separator = ""
    for f in findings:
        yield separator + escape(_line(f))
        separator = "\n"
