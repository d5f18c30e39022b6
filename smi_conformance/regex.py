"""RE2, the regex flavour SMI's ``pathRegex`` and header values are read in (SPEC-NOTES): one compiler for
the linter, the conformance suite's oracle and the reference mesh, so what ``smi lint`` accepts is exactly
what the mesh runs and the oracle predicts, and an RE2 error reads the same everywhere.

``re2`` (google-re2) is imported on first use: ``smi lint`` runs without it until a route group needs it.
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["RegexError", "compile_re2"]


class RegexError(ValueError):
    """RE2 rejected ``pattern``; ``reason`` is RE2's own words. A ValueError, so pydantic validators that
    compile a pattern report it at the field's location."""

    def __init__(self, pattern: str, reason: str):
        super().__init__(f"RE2 rejects {pattern!r}: {reason}")
        self.pattern = pattern
        self.reason = reason


@functools.lru_cache(maxsize=4096)
def compile_re2(pattern: str) -> Any:
    """``pattern`` compiled with RE2 (cached); raises :class:`RegexError` when RE2 rejects it."""
    import re2  # type: ignore[import-untyped]

    options = re2.Options()
    options.log_errors = False  # raised with the pattern, not printed to stderr by the C++ library
    try:
        return re2.compile(pattern, options=options)
    except re2.error as exc:
        raw = exc.args[0] if exc.args else str(exc)
        reason = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        raise RegexError(pattern, reason) from None
