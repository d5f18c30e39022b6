"""RE2 compilation shared by config validation and matching, so what validates is exactly what runs."""

from __future__ import annotations

import functools
from typing import Any

import re2  # type: ignore[import-untyped]

__all__ = ["RegexError", "compile_re2"]

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # errors are raised with the pattern, not printed to stderr by the C++ library


class RegexError(ValueError):
    """RE2 rejected a pattern."""


@functools.lru_cache(maxsize=4096)
def compile_re2(pattern: str) -> Any:
    """Compile ``pattern`` with RE2 (cached); raise :class:`RegexError` naming the pattern if RE2 rejects
    it."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise RegexError(f"RE2 rejects {pattern!r}: {detail}") from None
