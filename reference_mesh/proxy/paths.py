"""Request targets in one canonical spelling (sans-IO): what the proxies match, route, authorise and
forward.

A path can be spelled many ways (``/health/../admin``, ``/health/%2e%2e/admin``, ``//admin``) and an
application that decodes or resolves before it serves would act on another path than the one a rule
allowed. So both sidecars reduce every request target to one spelling first, decide on it, and forward
exactly it:

* origin-form ``/path?query``, absolute-form ``http://authority/path?query`` (reduced to its path and
  query; the authority is returned apart) and, for OPTIONS only, ``*``; anything else is refused;
* the path (RFC 3986 6.2.2): percent-encoded unreserved characters (``A-Z a-z 0-9 - . _ ~``) are decoded,
  every other percent-encoding is kept with upper-case hex digits, dot segments are removed (RFC 3986
  5.2.4) and repeated slashes merged (Envoy's ``normalize_path`` and ``merge_slashes``);
* refused with 400: an encoded slash or backslash (``%2F``, ``%5C``: one path segment to a proxy, two to
  an application that decodes first; Envoy's ``REJECT_REQUEST``), a character RFC 3986 does not allow in a
  path (a raw backslash, ``"``, ``<``, ``>``, ``^``, backquote, ``{``, ``|``, ``}``: clients
  percent-encode them), a ``%`` not followed by two hex digits, a dot segment with parameters (``..;x``:
  Java servers treat it as ``..``), and a fragment (``#``, never sent by clients);
* the query is kept as sent (rules match paths only); percent-encodings are decoded once, never twice
  (``%252e`` stays ``%252e``: a literal ``%2e``, not a dot).

:func:`canonical_target` is idempotent: the canonical form of a canonical target is itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["BadTarget", "RequestTarget", "canonical_path", "canonical_target"]

#: RFC 3986 ``pchar`` and ``/`` (``%`` is checked separately): the characters a path may hold as sent.
_PATH_CHARS = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*")
_ABSOLUTE_FORM = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
#: Characters whose encoded form must stay encoded and would change the path's structure if decoded.
_SEPARATORS = {"2F": "an encoded slash (%2F)", "5C": "an encoded backslash (%5C)"}


class BadTarget(ValueError):
    """A request target the proxies refuse (400): the message says what and why."""


@dataclass(frozen=True)
class RequestTarget:
    """A request target in canonical form: ``path`` is what is matched and authorised, ``origin_form`` what
    is forwarded; ``authority`` is that of an absolute-form target (None for origin-form)."""

    path: str
    query: str | None
    authority: str | None = None

    @property
    def origin_form(self) -> str:
        return self.path if self.query is None else f"{self.path}?{self.query}"


def canonical_target(target: str, method: str) -> RequestTarget:
    """The canonical form of a request target as received with ``method`` (only OPTIONS may send ``*``);
    raises :class:`BadTarget`."""
    if "#" in target:
        raise BadTarget("a request target must not carry a fragment (#)")
    authority: str | None = None
    found = _ABSOLUTE_FORM.match(target)
    if found is not None:
        rest = target[found.end() :]
        cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
        authority, target = rest[:cut], rest[cut:]
        if not target.startswith("/"):
            target = "/" + target  # "http://api" and "http://api?x" name the root path
    elif target == "*":
        if method != "OPTIONS":
            raise BadTarget(f"the asterisk-form target '*' is for OPTIONS only, not {method}")
        return RequestTarget("*", None)
    elif not target.startswith("/"):
        raise BadTarget(f"not an origin-form or absolute-form request target: {target[:100]!r}")
    path, mark, query = target.partition("?")
    return RequestTarget(canonical_path(path), query if mark else None, authority)


def canonical_path(path: str) -> str:
    """The canonical spelling of an origin-form path (see the module doc); raises :class:`BadTarget`."""
    if _PATH_CHARS.fullmatch(path) is None:
        bad = next(c for c in path if _PATH_CHARS.fullmatch(c) is None)
        raise BadTarget(f"{bad!r} is not allowed in a request path (RFC 3986): percent-encode it")
    if "%" in path:
        path = _decode_unreserved(path)
    if "/." not in path and "//" not in path:
        return path  # nothing to resolve: the common case
    return _remove_dot_segments(path)


def _decode_unreserved(path: str) -> str:
    if path.count("%") != len(_ESCAPE.findall(path)):
        raise BadTarget("a '%' in the request path is not followed by two hex digits")

    def one(found: re.Match[str]) -> str:
        code = found.group(1).upper()
        if code in _SEPARATORS:
            raise BadTarget(
                f"{_SEPARATORS[code]} in the request path: a proxy and an application that decodes it "
                "would see different paths"
            )
        char = chr(int(code, 16))
        return char if char in _UNRESERVED else f"%{code}"

    return _ESCAPE.sub(one, path)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4 on an absolute path, with empty segments merged (``//`` -> ``/``)."""
    segments = path.split("/")[1:]
    last = len(segments) - 1
    out: list[str] = []
    for i, segment in enumerate(segments):
        if segment in ("", ".", ".."):
            if segment == ".." and out:
                out.pop()
            if i == last:
                out.append("")  # "/a/b/.." is "/a/": the directory, as RFC 3986 resolves it
            continue
        if segment.startswith((".;", "..;")):
            raise BadTarget(f"a dot segment with parameters ({segment[:20]!r}) in the request path")
        out.append(segment)
    return "/" + "/".join(out)
