"""Machine-readable output: every finding with its location, plus the counts. Stable keys (``version`` 1)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from smi_conformance.lint.engine import Finding, LintResult
from smi_conformance.lint.reporters import Options, summary
from smi_conformance.lint.reporters.frame import MARK, json_pieces
from smi_conformance.lint.rule import Severity


def pieces(result: LintResult, options: Options) -> Iterator[str]:
    """The report a finding at a time: what ``json.dumps(report, indent=2)`` writes, written as it goes."""
    report = {"version": 1, "findings": MARK, "summary": _summary(result, options)}
    return json_pieces(report, (_finding(f) for f in result.findings))


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
