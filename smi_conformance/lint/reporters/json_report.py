"""Machine-readable output: every finding with its location, plus the counts. Stable keys (``version`` 1)."""

from __future__ import annotations

import json

from smi_conformance.lint.engine import LintResult
from smi_conformance.lint.reporters import Options, summary
from smi_conformance.lint.rule import Severity


def render(result: LintResult, options: Options) -> str:
    report = {
        "version": 1,
        "findings": [
            {
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
            for f in result.findings
        ],
        "summary": {
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
        },
    }
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
