"""Human-readable output: ``file:line:col: CODE severity message``, then a summary line."""

from __future__ import annotations

import click

from smi_conformance.lint.engine import LintResult
from smi_conformance.lint.reporters import Options, summary
from smi_conformance.lint.rule import Severity

_COLORS = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "blue"}


def render(result: LintResult, options: Options) -> str:
    lines = []
    for f in result.findings:
        where = f"{f.location}:"
        code = f"{f.code} {f.severity.label}"
        about = f" [{f.object}]" if f.object else ""
        if options.color:
            where = click.style(where, bold=True)
            code = click.style(code, fg=_COLORS[f.severity], bold=True)
            about = click.style(about, dim=True)
        lines.append(f"{where} {code} {f.message} ({f.name}){about}")
    line = summary(result)
    if options.color:
        failed = result.failed(options.fail_on)
        line = click.style(line, fg="red" if failed else "green", bold=True)
    lines.append(line)
    return "\n".join(lines) + "\n"
