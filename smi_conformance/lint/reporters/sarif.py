"""SARIF 2.1.0 for GitHub code scanning (``github/codeql-action/upload-sarif``) and other SARIF viewers.

What GitHub needs: ``tool.driver.name`` and ``rules`` (with help text), a ``results`` array (even when
empty), and for each result a ``ruleId``, ``message.text`` and a physical location whose ``uri`` is relative
to the repository root (``%SRCROOT%``) with a real ``region``. Columns count Unicode code points.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from smi_conformance import __version__
from smi_conformance.lint.engine import Finding, LintResult
from smi_conformance.lint.reporters import Options
from smi_conformance.lint.reporters.frame import MARK, json_pieces
from smi_conformance.lint.rule import Rule, Severity

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _uri(file: str) -> tuple[str, str | None]:
    """(uri, base id): relative to the current directory when below it, else an absolute file URI."""
    if file.startswith("<"):
        return quote(file.strip("<>")), "%SRCROOT%"
    path = Path(file)
    absolute = path.absolute()
    try:
        return quote(absolute.relative_to(Path.cwd()).as_posix()), "%SRCROOT%"
    except ValueError:
        return absolute.as_uri(), None


def _rule(rule: Rule) -> dict[str, object]:
    explanation = rule.explanation()
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": explanation.split("\n\n", 1)[0]},
        "help": {"text": explanation, "markdown": f"**{rule.code} {rule.name}**\n\n{explanation}"},
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {"tags": ["smi", rule.code[:4] + "xx"]},
    }


def _result(f: Finding, index: int) -> dict[str, object]:
    uri, base = _uri(f.location.file)
    artifact: dict[str, object] = {"uri": uri}
    if base:
        artifact["uriBaseId"] = base
    region: dict[str, int] = {"startLine": f.location.line, "startColumn": f.location.column}
    if f.location.end_line is not None and f.location.end_column is not None:
        end_line, end_column = f.location.end_line, f.location.end_column
        if (end_line, end_column) > (f.location.line, f.location.column):
            region.update(endLine=end_line, endColumn=end_column)
    message = f.message if f.object is None else f"{f.message} [{f.object}]"
    return {
        "ruleId": f.code,
        "ruleIndex": index,
        "level": _LEVEL[f.severity],
        "message": {"text": message},
        "locations": [{"physicalLocation": {"artifactLocation": artifact, "region": region}}],
    }


def pieces(result: LintResult, options: Options) -> Iterator[str]:
    """The report a result at a time: what ``json.dumps(report, indent=2)`` writes, written as it goes. The
    rules come first, so the findings are read twice: once for the codes they use, once to write them."""
    known = {r.code: r for r in result.rules}
    found = {f.code for f in result.findings}
    rules = sorted((known | {code: _registry(code) for code in found if code not in known}).items())
    index = {code: i for i, (code, _) in enumerate(rules)}
    run = {
        "tool": {
            "driver": {
                "name": "smi-lint",
                "fullName": "smi lint (smi-conformance)",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": "https://smi-spec.io",
                "rules": [_rule(rule) for _, rule in rules],
            }
        },
        "columnKind": "unicodeCodePoints",
        "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().absolute().as_uri() + "/"}},
        "results": MARK,
    }
    report = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json_pieces(report, (_result(f, index[f.code]) for f in result.findings))


def _registry(code: str) -> Rule:
    from smi_conformance.lint.registry import RULES

    return RULES[code]
