"""HTTPRouteGroup matches -> Gateway API HTTPRouteMatches (used by the split and the Linkerd converters).

One SMI match becomes one HTTPRouteMatch per method (Gateway API takes one method per match; ``*`` or no
methods: no method condition), each with the same path and header conditions:

* pathRegex (SMI: from the start of the path): a literal ``/a/b$`` becomes an Exact match, ``/a/b(/.*)?$`` a
  PathPrefix match, ``.*``/``/``/none no path condition; anything else a RegularExpression rewritten by
  :func:`~smi_conformance.gateway.regex.path_regex` so that any anchoring the mesh applies means the same.
* headers (SMI: the whole value): literals become Exact matches, regexes RegularExpression ones (rewritten
  by :func:`~smi_conformance.gateway.regex.header_regex`).
"""

from __future__ import annotations

import re
from typing import Any

from smi_conformance.gateway import findings as gw
from smi_conformance.gateway.context import Conversion
from smi_conformance.gateway.regex import ShapeKind, header_regex, header_shape, path_regex, path_shape
from smi_conformance.gateway.sources import HttpMatchView

__all__ = ["MAX_HEADERS", "MAX_HEADER_VALUE", "MAX_PATH", "gateway_matches", "valid_path"]

MAX_HEADERS = 16
MAX_PATH = 1024
MAX_HEADER_VALUE = 4096
_PATH_CHARS = re.compile(r"(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|%[0-9a-fA-F]{2})+")


def valid_path(path: str) -> bool:
    """Whether Gateway API accepts ``path`` as an Exact or PathPrefix value (its CEL rules)."""
    return (
        path.startswith("/")
        and len(path) <= MAX_PATH
        and _PATH_CHARS.fullmatch(path) is not None
        and not any(bad in path for bad in ("//", "/./", "/../", "%2f", "%2F", "#"))
        and not path.endswith(("/..", "/."))
    )


def _regex_problem(pattern: str) -> str | None:
    from smi_conformance.lint.rules.routes import regex_error

    error = regex_error(pattern)
    return None if error is None else error[0]


def gateway_matches(
    conv: Conversion, match: HttpMatchView, *, beside_fallback: bool
) -> list[dict[str, Any]] | None:
    """The HTTPRouteMatches of one SMI match; None (with an error reported) when it cannot be converted.

    ``beside_fallback``: the matches share a route with a catch-all rule (a split with ``matches``), so a
    regex path's implementation-defined precedence matters (GW201).
    """
    group = match.group
    regexes = [((*match.path, "pathRegex"), match.path_regex)] if match.path_regex is not None else []
    regexes += [(p, regex) for p, _, regex in match.headers]
    bad = False
    for path, pattern in regexes:
        problem = _regex_problem(pattern)
        if problem is not None:
            conv.report(gw.InvalidRegex, group, path, f"regex {pattern!r} is not valid RE2: {problem}")
            bad = True
    seen: dict[str, str] = {}
    for path, name, _ in match.headers:
        if name.lower() in seen:
            conv.report(
                gw.HeaderRepeated, group, path,
                f"header {name!r} repeats {seen[name.lower()]!r} (names are case-insensitive); Gateway API "
                "would ignore this condition", key=True,
            )  # fmt: skip
            bad = True
        seen.setdefault(name.lower(), name)
    if len(match.headers) > MAX_HEADERS:
        conv.report(
            gw.LimitExceeded, group, (*match.path, "headers"),
            f"match {match.name!r} has {len(match.headers)} header conditions; Gateway API allows "
            f"{MAX_HEADERS}", key=True,
        )  # fmt: skip
        bad = True
    if bad:
        return None

    base: dict[str, Any] = {}
    if match.path_regex is not None:
        path_match = _path(conv, match, beside_fallback)
        if path_match is None:
            return None
        if path_match:
            base["path"] = path_match
    headers = []
    for path, name, pattern in match.headers:
        shape = header_shape(pattern)
        if shape.kind is ShapeKind.EXACT and shape.literal:
            headers.append({"name": name, "type": "Exact", "value": shape.literal})
            continue
        value = header_regex(pattern)
        if len(value) > MAX_HEADER_VALUE:
            conv.report(
                gw.LimitExceeded, group, path,
                f"header regex is {len(value)} characters as converted; Gateway API allows "
                f"{MAX_HEADER_VALUE}",
            )  # fmt: skip
            return None
        conv.report(
            gw.RegexDialect, group, path, f"header {name!r} keeps a regular expression, written as {value!r}"
        )
        headers.append({"name": name, "type": "RegularExpression", "value": value})
    if headers:
        base["headers"] = headers
    methods: list[str | None] = (
        [None] if not match.methods or "*" in match.methods else list(dict.fromkeys(match.methods))
    )
    return [{**base, "method": m} if m is not None else dict(base) for m in methods]


def _path(conv: Conversion, match: HttpMatchView, beside_fallback: bool) -> dict[str, str] | None:
    """The path condition ({} for "any path"); None (reported) when it exceeds a limit."""
    pattern = match.path_regex
    assert pattern is not None
    where = (*match.path, "pathRegex")
    shape = path_shape(pattern)
    if shape.kind is ShapeKind.ANY:
        return {}
    if shape.kind is ShapeKind.EXACT and valid_path(shape.literal):
        return {"type": "Exact", "value": shape.literal}
    if shape.kind is ShapeKind.SEGMENT_PREFIX and valid_path(shape.literal):
        return {"type": "PathPrefix", "value": shape.literal}
    value = path_regex(pattern)
    if len(value) > MAX_PATH:
        conv.report(
            gw.LimitExceeded, match.group, where,
            f"pathRegex is {len(value)} characters as converted; Gateway API allows {MAX_PATH}",
        )  # fmt: skip
        return None
    if beside_fallback:
        conv.report(
            gw.RegexPathPrecedence, match.group, where,
            f"pathRegex {pattern!r} stays a regular expression ({value!r}); the mesh must rank it above the "
            "catch-all rule that sends other requests to the root Service",
        )  # fmt: skip
    else:
        conv.report(
            gw.RegexDialect,
            match.group,
            where,
            f"pathRegex {pattern!r} stays a regular expression: {value!r}",
        )
    return {"type": "RegularExpression", "value": value}
