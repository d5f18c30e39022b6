"""SMI5xx: HTTPRouteGroup matches: regular expressions (RE2, what Envoy and Go meshes run) and names."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from smi_conformance.lint.resources import (
    LintContext,
    Resource,
    headers,
    per_object,
    route_matches,
    str_at,
)
from smi_conformance.lint.rule import Hit, Rule, Severity
from smi_conformance.manifests import NodePath
from smi_conformance.regex import RegexError, compile_re2

_GROUP = frozenset({"HTTPRouteGroup"})


@functools.lru_cache(maxsize=4096)
def regex_error(pattern: str) -> tuple[str, bool] | None:
    """Why RE2 rejects ``pattern`` and whether Python's ``re`` would accept it; None when RE2 compiles it."""
    try:
        compile_re2(pattern)
    except RegexError as exc:
        if len(pattern) > 4096:  # not worth asking a backtracking engine about: just invalid
            return exc.reason, False
        try:
            re.compile(pattern)
        except (re.error, RecursionError, OverflowError):
            return exc.reason, False
        return exc.reason, True
    return None


@per_object
def regexes(obj: Resource) -> tuple[tuple[NodePath, str, str], ...]:
    """(path, what, pattern) for every pathRegex and header value of an HTTPRouteGroup."""
    return tuple(_regexes(obj))


def _regexes(obj: Resource) -> Iterator[tuple[NodePath, str, str]]:
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
    apiVersion: specs.smi-spec.io/v1alpha4
    kind: HTTPRouteGroup
    metadata: {name: api-routes}
    spec:
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
    matches:
    - name: copies
      pathRegex: /books/([0-9]+)/copies/\\1     # a backreference
    ```

    Good:
    ```yaml
    apiVersion: specs.smi-spec.io/v1alpha4
    kind: HTTPRouteGroup
    metadata: {name: copies}
    spec:
      matches:
      - name: copies
        pathRegex: /books/[0-9]+/copies/[0-9]+
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

    Good:
    ```yaml
    apiVersion: specs.smi-spec.io/v1alpha4
    kind: HTTPRouteGroup
    metadata: {name: api-routes}
    spec:
      matches:
      - name: api
        pathRegex: /api
      - name: api-v2
        pathRegex: /v2/api
    ```
    """

    code = "SMI503"
    name = "duplicate-match-name"
    severity = Severity.ERROR
    summary = "two matches of one HTTPRouteGroup share a name"
    kinds = _GROUP

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        seen: set[str] = set()
        for path, match in route_matches(obj):
            name = str_at(match, "name")
            if name is None:
                continue
            if name in seen:
                yield Hit(f"match name {name!r} is used twice in this HTTPRouteGroup", (*path, "name"))
            seen.add(name)


class MatchWithoutCriteria(Rule):
    """An HTTPRouteGroup match has no pathRegex, no methods and no headers: it matches every request.

    Why: the spec says a match without pathRegex and methods applies to any path and method, so a
    TrafficTarget rule naming it allows everything, and a TrafficSplit `matches` group with it splits
    every request. That may be meant (a catch-all), but more often a field was misspelt at the wrong
    level or left out; name it `all` or similar so readers see it is deliberate, and suppress this.

    Bad:
    ```yaml
    matches:
    - name: metrics      # the pathRegex was forgotten
    ```

    Good:
    ```yaml
    apiVersion: specs.smi-spec.io/v1alpha4
    kind: HTTPRouteGroup
    metadata: {name: api-routes}
    spec:
      matches:
      - name: metrics
        pathRegex: /metrics
        methods: [GET]
    ```
    """

    code = "SMI504"
    name = "match-without-criteria"
    severity = Severity.INFO
    summary = "a match with no pathRegex, methods or headers, which matches every request"
    kinds = _GROUP

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        for path, match in route_matches(obj):
            if not (match.get("pathRegex") or match.get("methods") or match.get("headers")):
                name = str_at(match, "name")
                what = f"match {name!r}" if name is not None else "this match"
                yield Hit(f"{what} has no pathRegex, methods or headers: it matches every request", path)


#: Characters that stand for themselves at the start of a regex and can start no path ("/" starts them).
_LITERAL_START = re.compile(r"\^?[A-Za-z0-9_~%!$&',;=:@-](?![?*{])")


class PathRegexWithoutSlash(Rule):
    """A pathRegex starts with a character other than `/`, so it can never match a path.

    Why: a pathRegex is matched from the beginning of the request path (the spec anchors it), and every
    path starts with `/`. `api/.*` matches nothing, not `/api/...`: the rule allows nothing, the split
    splits nothing. (Regexes that start with `.`, `(`, `[`, `\\` or an alternation are not judged.)

    Bad:
    ```yaml
    matches:
    - name: api
      pathRegex: api/v1/.*
    ```

    Good:
    ```yaml
    apiVersion: specs.smi-spec.io/v1alpha4
    kind: HTTPRouteGroup
    metadata: {name: api-routes}
    spec:
      matches:
      - name: api
        pathRegex: /api/v1/.*
    ```
    """

    code = "SMI505"
    name = "path-regex-without-slash"
    severity = Severity.WARNING
    summary = "a pathRegex that starts with something other than / and so never matches a path"
    kinds = _GROUP

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        for path, match in route_matches(obj):
            pattern = match.get("pathRegex")
            if isinstance(pattern, str) and "|" not in pattern and _LITERAL_START.match(pattern):
                yield Hit(
                    f"pathRegex {pattern!r} does not start with '/': it is matched from the start of the "
                    "path, "
                    "which always begins with '/', so it never matches",
                    (*path, "pathRegex"),
                )


RULES = (
    InvalidRegex, Re2Unsupported, DuplicateMatchName, MatchWithoutCriteria, PathRegexWithoutSlash,
)  # fmt: skip
