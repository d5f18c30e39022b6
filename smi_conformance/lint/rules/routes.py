"""SMI5xx: HTTPRouteGroup matches: regular expressions (RE2, what Envoy and Go meshes run) and names."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

from smi_conformance.lint.resources import LintContext, Resource, headers, route_matches, str_at
from smi_conformance.lint.rule import Hit, Rule, Severity
from smi_conformance.manifests import NodePath

_GROUP = frozenset({"HTTPRouteGroup"})


@functools.lru_cache(maxsize=4096)
def regex_error(pattern: str) -> tuple[str, bool] | None:
    """Why RE2 rejects ``pattern`` and whether Python's ``re`` would accept it; None when RE2 compiles it."""
    import re2  # type: ignore[import-untyped]  # google-re2, imported only when a route group is linted

    options = re2.Options()
    options.log_errors = False
    try:
        re2.compile(pattern, options=options)
    except re2.error as exc:
        reason = (
            exc.args[0].decode("utf-8", "replace")
            if exc.args and isinstance(exc.args[0], bytes)
            else str(exc)
        )
        if len(pattern) > 4096:  # not worth asking a backtracking engine about: just invalid
            return reason, False
        try:
            re.compile(pattern)
        except (re.error, RecursionError, OverflowError):
            return reason, False
        return reason, True
    return None


def regexes(obj: Resource) -> Iterator[tuple[NodePath, str, str]]:
    """(path, what, pattern) for every pathRegex and header value of an HTTPRouteGroup."""
    for path, match in route_matches(obj):
        path_regex = match.get("pathRegex")
        if isinstance(path_regex, str):
            yield (*path, "pathRegex"), "pathRegex", path_regex
        for header_path, name, value in headers(match, path):
            if isinstance(value, str):
                yield header_path, f"header {name!r}", value


class InvalidRegex(Rule):
    """A pathRegex or header regex is not a valid regular expression at all.

    Why: the mesh cannot compile it; depending on the implementation the whole route group is rejected or
    the match silently never matches. SMI regexes are RE2 syntax (see SPEC-NOTES).

    Bad:
    ```yaml
    matches:
    - name: api
      pathRegex: /api/[v1
    ```

    Good:
    ```yaml
    matches:
    - name: api
      pathRegex: /api/\\[v1
    ```
    """

    code = "SMI501"
    name = "invalid-regex"
    severity = Severity.ERROR
    summary = "a pathRegex or header regex does not compile"
    kinds = _GROUP

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        for path, what, pattern in regexes(obj):
            error = regex_error(pattern)
            if error is not None and not error[1]:
                yield Hit(f"{what} {pattern!r} is not a valid regular expression: {error[0]}", path)


class Re2Unsupported(Rule):
    """A regex uses a construct RE2 does not support (lookahead/lookbehind, backreferences, possessive
    quantifiers, repetition counts over 1000), although other regex engines accept it.

    Why: SMI meshes match with RE2 or a compatible linear-time engine (Envoy, Go): they reject the route or
    never match. Rewrite without the construct: RE2 syntax is documented at github.com/google/re2/wiki/Syntax.

    Bad:
    ```yaml
    headers:
      cookie: "^(?!.*beta=off).*$"     # negative lookahead
    ```

    Good:
    ```yaml
    headers:
      cookie: "^(.*;)?\\s*beta=on(;.*)?$"
    ```
    """

    code = "SMI502"
    name = "re2-unsupported"
    severity = Severity.ERROR
    summary = "a regex uses a construct RE2 rejects"
    kinds = _GROUP

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        for path, what, pattern in regexes(obj):
            error = regex_error(pattern)
            if error is not None and error[1]:
                yield Hit(f"{what} {pattern!r} is not RE2 syntax: {error[0]}", path)


class DuplicateMatchName(Rule):
    """Two matches of one HTTPRouteGroup have the same name.

    Why: TrafficTarget rules pick matches by name, so a duplicated name selects both, or whichever the mesh
    finds first; either way the rule does not say what it seems to.

    Bad:
    ```yaml
    matches:
    - name: api
      pathRegex: /api
    - name: api
      pathRegex: /v2/api
    ```
    """

    code = "SMI503"
    name = "duplicate-match-name"
    severity = Severity.ERROR
    summary = "two matches of one HTTPRouteGroup share a name"
    kinds = _GROUP

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        seen: dict[Any, NodePath] = {}
        for path, match in route_matches(obj):
            name = str_at(match, "name")
            if name is None:
                continue
            if name in seen:
                yield Hit(f"match name {name!r} is used twice in this HTTPRouteGroup", (*path, "name"))
            seen.setdefault(name, path)


RULES = (InvalidRegex, Re2Unsupported, DuplicateMatchName)
