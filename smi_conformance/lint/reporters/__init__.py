"""Output formats of ``smi lint``: each module has ``pieces(result, options)``, the report in pieces.

A large input's findings are read back from disk one at a time (``stored_findings``), and no format holds
its report whole: each writes it as it goes (``frame``: the formats whose library writes a whole document,
JSON, SARIF and JUnit, have it write the frame and pour the findings in). :func:`blocks` gives the report in
blocks of about ``BLOCK`` characters, for writing; :func:`render` all of it (what stdout gets).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass

from smi_conformance.lint.engine import LintResult
from smi_conformance.lint.rule import Severity

__all__ = ["BLOCK", "Options", "blocks", "render"]

_MODULES = {"text": "text", "json": "json_report", "sarif": "sarif", "github": "github", "junit": "junit"}


@dataclass(frozen=True)
class Options:
    fail_on: Severity = Severity.ERROR
    color: bool = False


BLOCK = 64 * 1024  #: characters written at a time (a write per finding would cost more than the finding)


def render(fmt: str, result: LintResult, options: Options) -> str:
    """The report in ``fmt`` (one of ``smi_conformance.lint.config.FORMATS``)."""
    return "".join(_pieces(fmt, result, options))


def blocks(fmt: str, result: LintResult, options: Options) -> Iterator[str]:
    """The report in ``fmt``, in blocks: what ``render`` gives, joined."""
    block: list[str] = []
    size = 0
    for piece in _pieces(fmt, result, options):
        block.append(piece)
        size += len(piece)
        if size >= BLOCK:
            yield "".join(block)
            block, size = [], 0
    if block:
        yield "".join(block)


def _pieces(fmt: str, result: LintResult, options: Options) -> Iterator[str]:
    module = importlib.import_module(f"{__name__}.{_MODULES[fmt]}")
    report: Iterator[str] = module.pieces(result, options)
    return report


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
