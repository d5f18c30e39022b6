"""What an SMI regex means, in forms other APIs can hold: literal shapes, and anchoring-proof rewrites.

SMI reads a ``pathRegex`` from the start of the path only (``/api`` matches ``/apix/1``) and a header regex
against the whole value (SPEC-NOTES; the reference mesh does the same). Gateway API leaves a
RegularExpression's anchoring to the implementation, and Istio has no regexes at all. So:

* :func:`path_shape` / :func:`header_shape` recognise the regexes that are really literals: an exact value,
  a string prefix, a suffix, any value. Those convert exactly to Exact/PathPrefix matches, or to Istio's
  ``exact``, ``prefix*``, ``*suffix`` and ``*`` forms.
* :func:`path_regex` / :func:`header_regex` rewrite a regex so that it selects the same values whether the
  implementation matches the whole value, from the start, or anywhere: ``^(?:R).*`` for a path (open at
  the end, as SMI means), ``^(?:R)$`` for a header value. The group is left out when ``R`` has no
  top-level ``|``, and the tail when ``R`` already ends with ``.*`` or ``$``.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

__all__ = ["Shape", "ShapeKind", "header_regex", "header_shape", "path_regex", "path_shape"]

# A run of literal characters: anything but a metacharacter, or a backslash before punctuation.
_LIT = r"((?:[^.^$*+?()\[\]{}|\\]|\\[^A-Za-z0-9])*)"
_UNESCAPE = re.compile(r"\\(.)", re.S)


class ShapeKind(enum.Enum):
    ANY = "any"  #: every value
    NONEMPTY = "nonempty"  #: every non-empty value (headers)
    EXACT = "exact"  #: the value equals ``literal``
    PREFIX = "prefix"  #: the value starts with ``literal`` (a string prefix)
    SEGMENT_PREFIX = "segment-prefix"  #: the path is ``literal`` or starts with ``literal + "/"``
    SUFFIX = "suffix"  #: the value ends with ``literal``
    REGEX = "regex"  #: none of the above


@dataclass(frozen=True)
class Shape:
    kind: ShapeKind
    literal: str = ""


def _unescape(text: str) -> str:
    return _UNESCAPE.sub(r"\1", text)


_PATH_FORMS: tuple[tuple[re.Pattern[str], ShapeKind], ...] = (
    (re.compile(r"\^?(?:\.\*)?\$?"), ShapeKind.ANY),  # "", "^", ".*", "^.*$"
    (re.compile(rf"\^?{_LIT}\$"), ShapeKind.EXACT),
    (re.compile(rf"\^?{_LIT}\((?:\?:)?/\.\*\)\?\$"), ShapeKind.SEGMENT_PREFIX),
    (re.compile(rf"\^?{_LIT}(?:\.\*)?"), ShapeKind.PREFIX),
    (re.compile(rf"\^?\.\*{_LIT}\$"), ShapeKind.SUFFIX),
)

_HEADER_FORMS: tuple[tuple[re.Pattern[str], ShapeKind], ...] = (
    (re.compile(r"\^?\.\*\$?"), ShapeKind.ANY),
    (re.compile(r"\^?\.\+\$?"), ShapeKind.NONEMPTY),
    (re.compile(rf"\^?{_LIT}\$?"), ShapeKind.EXACT),
    (re.compile(rf"\^?{_LIT}\.\*\$?"), ShapeKind.PREFIX),
    (re.compile(rf"\^?\.\*{_LIT}\$?"), ShapeKind.SUFFIX),
)


def _shape(pattern: str, forms: tuple[tuple[re.Pattern[str], ShapeKind], ...]) -> Shape:
    for form, kind in forms:
        match = form.fullmatch(pattern)
        if match:
            literal = _unescape(match.group(1)) if form.groups else ""
            if kind is ShapeKind.SEGMENT_PREFIX and (not literal.startswith("/") or literal.endswith("/")):
                continue
            return Shape(kind, literal)
    return Shape(ShapeKind.REGEX)


def path_shape(pattern: str | None) -> Shape:
    """What a pathRegex (matched from the start of the path) selects, when that is a literal shape."""
    if pattern is None:
        return Shape(ShapeKind.ANY)
    shape = _shape(pattern, _PATH_FORMS)
    if shape.kind is ShapeKind.PREFIX and shape.literal in ("", "/"):
        return Shape(ShapeKind.ANY)  # every request path starts with "/"
    return shape


def header_shape(pattern: str) -> Shape:
    """What a header regex (matched against the whole value) selects, when that is a literal shape."""
    return _shape(pattern, _HEADER_FORMS)


def _scan(pattern: str) -> tuple[bool, bool, bool]:
    """(top-level ``|``, ends with an unescaped top-level ``$``, ends with an unescaped top-level ``.*``)."""
    alternation = ends_dollar = ends_dotstar = prev_dot = False
    depth = 0
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":  # an escape: two characters, never a metacharacter
            i += 2
            ends_dollar = ends_dotstar = prev_dot = False
            continue
        if in_class:
            in_class = char != "]"
            i += 1
            ends_dollar = ends_dotstar = prev_dot = False
            continue
        if char == "[":
            in_class = True
            if pattern.startswith("]", i + 1):  # a ']' first in a class is a member
                i += 1
            elif pattern.startswith("^]", i + 1):
                i += 2
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            alternation = True
        ends_dollar = char == "$" and depth == 0
        ends_dotstar = char == "*" and prev_dot and depth == 0
        prev_dot = char == "."
        i += 1
    return alternation, ends_dollar, ends_dotstar


def _strip_caret(pattern: str) -> str:
    return pattern[1:] if pattern.startswith("^") else pattern


def path_regex(pattern: str) -> str:
    """``pattern`` (SMI: from the start of the path) as a regex with the same meaning under any anchoring."""
    alternation, ends_dollar, ends_dotstar = _scan(pattern)
    if alternation:
        return f"^(?:{pattern}).*"
    tail = "" if ends_dollar or ends_dotstar else ".*"
    return f"^{_strip_caret(pattern)}{tail}"


def header_regex(pattern: str) -> str:
    """``pattern`` (SMI: the whole header value) as a regex with the same meaning under any anchoring."""
    alternation, ends_dollar, _ = _scan(pattern)
    if alternation:
        return f"^(?:{pattern})$"
    return f"^{_strip_caret(pattern)}{'' if ends_dollar else '$'}"
