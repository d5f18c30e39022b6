"""Output formats of ``smi lint``: each module has ``render(result, options) -> str``, all stdout gets."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from smi_conformance.lint.engine import LintResult
from smi_conformance.lint.rule import Severity

__all__ = ["Options", "render"]

_MODULES = {"text": "text", "json": "json_report", "sarif": "sarif", "github": "github", "junit": "junit"}


@dataclass(frozen=True)
class Options:
    fail_on: Severity = Severity.ERROR
    color: bool = False


def render(fmt: str, result: LintResult, options: Options) -> str:
    """The report in ``fmt`` (one of ``smi_conformance.lint.config.FORMATS``)."""
    module = importlib.import_module(f"{__name__}.{_MODULES[fmt]}")
    text: str = module.render(result, options)
    return text


def summary(result: LintResult) -> str:
    """One line: what was checked and what was found."""
    counts = [
        f"{n} {label}{'s' if n != 1 and label != 'info' else ''}"
        for label, n in (
            ("error", result.count(Severity.ERROR)),
            ("warning", result.count(Severity.WARNING)),
            ("info", result.count(Severity.INFO)),
        )
        if n
    ]
    checked = f"{result.smi_objects} SMI object{'s' * (result.smi_objects != 1)} in {result.files} file" + (
        "s" if result.files != 1 else ""
    )
    extra = []
    if result.skipped:
        extra.append(f"{result.skipped} other document{'s' * (result.skipped != 1)} skipped")
    if result.suppressed:
        extra.append(f"{result.suppressed} suppressed")
    tail = f" ({', '.join(extra)})" if extra else ""
    if not counts:
        return f"No problems in {checked}{tail}."
    return f"Found {', '.join(counts)} in {checked}{tail}."
