"""GitHub Actions workflow commands: each finding becomes an annotation on the pull request's diff."""

from __future__ import annotations

from collections.abc import Iterator

from smi_conformance.lint.engine import LintResult
from smi_conformance.lint.reporters import Options, summary
from smi_conformance.lint.rule import Severity

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def pieces(result: LintResult, options: Options) -> Iterator[str]:
    """The report a line at a time."""
    for f in result.findings:
        loc = f.location
        props = [f"file={_property(loc.file)}", f"line={loc.line}", f"col={loc.column}"]
        if loc.end_line is not None and loc.end_column is not None:
            props += [f"endLine={loc.end_line}", f"endColumn={loc.end_column}"]
        props.append(f"title={_property(f'{f.code} {f.name}')}")
        yield f"::{_LEVEL[f.severity]} {','.join(props)}::{_data(f.message)}\n"
    yield summary(result) + "\n"
