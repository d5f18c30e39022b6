"""Human-readable output: ``file:line:col: CODE severity message (name) [object]``, then a summary line.

:func:`finding_line` is the one way a finding is written for people: ``smi lint`` and ``reference-mesh
apply`` (the control plane's admission) both print with it.
"""

from __future__ import annotations

from collections.abc import Iterator

import click

from smi_conformance.lint.engine import LintResult
from smi_conformance.lint.reporters import Options, summary
from smi_conformance.lint.rule import Severity
from smi_conformance.manifests import Location

__all__ = ["finding_line", "pieces"]

_COLORS = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "blue"}


def finding_line(
    code: str,
    name: str,
    severity: Severity,
    message: str,
    location: Location | str | None = None,
    obj: str | None = None,
    *,
    color: bool = False,
) -> str:
    """One finding on one line; ``location`` may be a ``file:line:col`` string (as an API sends it)."""
    where = f"{location}: " if location else ""
    label = f"{code} {severity.label}"
    about = f" [{obj}]" if obj else ""
    if color:
        where = click.style(where, bold=True)
        label = click.style(label, fg=_COLORS[severity], bold=True)
        about = click.style(about, dim=True)
    named = f" ({name})" if name else ""
    return f"{where}{label} {message}{named}{about}"


def pieces(result: LintResult, options: Options) -> Iterator[str]:
    """The report a line at a time."""
    for f in result.findings:
        yield finding_line(f.code, f.name, f.severity, f.message, f.location, f.object, color=options.color)
        yield "\n"
    line = summary(result)
    if options.color:
        failed = result.failed(options.fail_on)
        line = click.style(line, fg="red" if failed else "green", bold=True)
    yield line + "\n"
