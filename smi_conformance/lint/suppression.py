"""Suppression annotations on objects: ``lint.smi-conformance.io/ignore: "CODES: reason; CODES: reason"``.

Codes may be rule codes or names, comma-separated. A suppression without a reason, or naming an unknown
rule, is not honoured and is itself reported (``invalid-suppression``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from smi_conformance.lint.registry import ALIASES, RULES, resolve

__all__ = ["ANNOTATION", "AnnotationSuppression", "parse_annotation"]

ANNOTATION = "lint.smi-conformance.io/ignore"
_SPLIT = re.compile(r"[;\n]")


@dataclass(frozen=True)
class AnnotationSuppression:
    codes: frozenset[str]
    reason: str
    explicit: bool  #: every selector named one rule (no prefixes): an unused code can be reported


def _entries(value: str) -> list[str]:
    """Split at ``;`` and newlines; a part without ``:`` continues the previous entry's reason."""
    entries: list[str] = []
    for part in _SPLIT.split(value):
        part = part.strip()
        if not part:
            continue
        if entries and ":" not in part and ":" in entries[-1]:
            entries[-1] += f"; {part}"
        else:
            entries.append(part)
    return entries


def parse_annotation(value: Any) -> tuple[list[AnnotationSuppression], list[str]]:
    """(valid suppressions, problems) of one annotation value."""
    if not isinstance(value, str):
        return [], [f'{ANNOTATION} must be a string like "SMI203: reason"']
    valid: list[AnnotationSuppression] = []
    problems: list[str] = []
    for entry in _entries(value):
        codes_text, sep, reason = entry.partition(":")
        selectors = [c.strip() for c in codes_text.split(",") if c.strip()]
        if not selectors:
            problems.append(f'suppression {entry!r} names no rule; write "CODES: reason"')
            continue
        try:
            codes = resolve(selectors)
        except ValueError as exc:
            problems.append(f"suppression {entry!r}: {exc}")
            continue
        if not sep or not reason.strip():
            problems.append(
                f"suppression of {', '.join(selectors)} has no reason and is not honoured; write "
                f'"{", ".join(selectors)}: why this is fine"'
            )
            continue
        explicit = all(s.upper() in RULES or s.lower() in ALIASES for s in selectors)
        valid.append(AnnotationSuppression(frozenset(codes), reason.strip(), explicit))
    return valid, problems
