"""Machine-readable output: every finding with its location, plus the counts. Stable keys (``version`` 1)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from smi_conformance.lint.engine import Finding, LintResult
from smi_conformance.lint.reporters import Options, summary
from smi_conformance.lint.rule import Severity


def render(result: LintResult, options: Options) -> str:
    return "".join(pieces(result, options))


def pieces(result: LintResult, options: Options) -> Iterator[str]:
    """The report a finding at a time: what ``json.dumps(report, indent=2)`` writes, written as it goes."""
    yield '{\n  "version": 1,\n  "findings": ['
    separator = "\n"
    for f in result.findings:
        yield separator + _INDENT.sub("    ", _dumps(_finding(f)))
        separator = ",\n"
    yield "]" if separator == "\n" else "\n  ]"
    yield ',\n  "summary": ' + _INDENT.sub("  ", _dumps(_summary(result, options)))[2:] + "\n}\n"


_INDENT = re.compile(r"^", re.MULTILINE)


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _finding(f: Finding) -> dict[str, Any]:
    return {
        "code": f.code,
        "name": f.name,
        "severity": f.severity.label,
        "message": f.message,
        "file": f.location.file,
        "line": f.location.line,
        "column": f.location.column,
        "endLine": f.location.end_line,
        "endColumn": f.location.end_column,
        "object": f.object,
    }


def _summary(result: LintResult, options: Options) -> dict[str, Any]:
    return {
        "files": result.files,
        "documents": result.documents,
        "smiObjects": result.smi_objects,
        "skipped": result.skipped,
        "suppressed": result.suppressed,
        "errors": result.count(Severity.ERROR),
        "warnings": result.count(Severity.WARNING),
        "infos": result.count(Severity.INFO),
        "failOn": options.fail_on.label,
        "failed": result.failed(options.fail_on),
        "text": summary(result),
    }
