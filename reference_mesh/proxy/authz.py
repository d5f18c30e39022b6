"""Inbound authorization decisions (sans-IO): caller identity x request -> allow / deny, with a reason.

Compiled once per snapshot from :class:`~reference_mesh.proxy.config.AuthorizationPolicy`. The caller identity
is the SPIFFE id read from the verified peer certificate (``None`` when there is none), never a header.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from reference_mesh.proxy.config import AuthorizationPolicy, AuthorizationRule, HttpMatch
from smi_conformance.regex import compile_re2

__all__ = ["Authorizer", "CompiledMatch", "Decision"]


@dataclass(frozen=True)
class Decision:
    """``allowed`` is what the proxy does; ``would_deny`` marks a permissive-mode pass that enforcement would
    stop."""

    allowed: bool
    reason: str
    rule: str | None = None
    would_deny: bool = False


class CompiledMatch:
    """An :class:`HttpMatch` with its regexes compiled (RE2)."""

    __slots__ = ("any_method", "headers", "methods", "path")

    def __init__(self, match: HttpMatch):
        self.any_method = not match.methods or "*" in match.methods
        self.methods = frozenset(match.methods)
        self.path: Any = compile_re2(match.path_regex) if match.path_regex is not None else None
        self.headers: tuple[tuple[str, Any], ...] = tuple(
            (name.lower(), compile_re2(pattern)) for name, pattern in match.headers.items()
        )

    def matches(self, method: str, path: str, headers: Sequence[tuple[str, str]]) -> bool:
        """``path`` is the canonical path (:mod:`~reference_mesh.proxy.paths`); header names may be any case.

        A header condition is matched against the header's value; a repeated header is one value, its lines
        joined with ", " (RFC 9110 5.3), which is what the application reads: one matching line among others
        does not pass.
        """
        if not self.any_method and method not in self.methods:
            return False
        if self.path is not None and self.path.match(path) is None:
            return False
        for name, regex in self.headers:
            values = [v for k, v in headers if k.lower() == name]
            if not values or regex.fullmatch(", ".join(values)) is None:
                return False
        return True


def compile_matches(matches: Iterable[HttpMatch]) -> tuple[CompiledMatch, ...]:
    return tuple(CompiledMatch(m) for m in matches)


class _Rule:
    __slots__ = ("http", "name", "ports", "sources", "tcp", "udp")

    def __init__(self, rule: AuthorizationRule):
        self.name = rule.name
        self.sources = frozenset(rule.sources)
        self.http = compile_matches(rule.http)
        self.tcp = rule.tcp
        self.udp = rule.udp
        self.ports = rule.ports


class Authorizer:
    """Decides inbound requests and connections for one workload."""

    def __init__(self, policy: AuthorizationPolicy):
        self.permissive = policy.permissive
        self._rules = tuple(_Rule(r) for r in policy.rules)
        # one decision object per allowing rule, made once (the answer to most requests)
        self._allowed = {r.name: Decision(True, f"allowed by {r.name}", r.name) for r in self._rules}

    def _deny(self, denial: str) -> Decision:
        if self.permissive:
            return Decision(True, f"permissive mode (would deny: {denial})", would_deny=True)
        return Decision(False, denial)

    def _candidates(self, source: str | None, port: int) -> list[_Rule]:
        return [r for r in self._rules if source is not None and source in r.sources and r.ports.covers(port)]

    def http(
        self, source: str | None, port: int, method: str, path: str, headers: Sequence[tuple[str, str]]
    ) -> Decision:
        """An HTTP request on destination ``port``; ``path`` is canonical, without query
        (:func:`~reference_mesh.proxy.paths.canonical_target`)."""
        rules = self._candidates(source, port)
        if not rules:
            return self._deny(f"no policy allows {source or 'unauthenticated callers'}")
        for rule in rules:
            # only HTTPRouteGroup rules speak for HTTP: a TCPRoute allows TCP (non-HTTP) traffic, as each
            # route kind matches one protocol (specs doc) and the access doc's L7 example allows only the
            # listed routes although its targets also name a TCPRoute for the port (docs: data-plane.md)
            if any(m.matches(method, path, headers) for m in rule.http):
                return self._allowed[rule.name]
        return self._deny(f"no route allows {method} {path} for {source}")

    def tcp(self, source: str | None, port: int) -> Decision:
        return self._l4(source, port, "TCP")

    def udp(self, source: str | None, port: int) -> Decision:
        return self._l4(source, port, "UDP")

    def _l4(self, source: str | None, port: int, kind: Literal["TCP", "UDP"]) -> Decision:
        rules = self._candidates(source, port)
        if not rules:
            return self._deny(f"no policy allows {source or 'unauthenticated callers'}")
        for rule in rules:
            ports = rule.tcp if kind == "TCP" else rule.udp
            if ports is not None and ports.covers(port):
                return self._allowed[rule.name]
        return self._deny(f"no {kind} route allows port {port} for {source}")
