"""Request targets in one canonical spelling (sans-IO): table tests of each decision, and properties over
random paths in random spellings against an independent resolver (``path_spellings.py``)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from path_spellings import PATH_REGEXES, allows, match, plain_paths, resolve, spellings

from reference_mesh.proxy.authz import Authorizer
from reference_mesh.proxy.config import AuthorizationPolicy, AuthorizationRule
from reference_mesh.proxy.paths import BadTarget, RequestTarget, canonical_path, canonical_target

WEB = "spiffe://cluster.local/ns/default/sa/web"

CANONICAL = [
    # the spellings of /health/../admin
    ("/health/../admin", "/admin"),
    ("/health/%2e%2e/admin", "/admin"),
    ("/health/%2E%2E/admin", "/admin"),
    ("/health/.%2e/admin", "/admin"),
    ("/health/%2e/admin", "/health/admin"),
    # RFC 3986 6.2.2: unreserved decoded, other escapes upper-cased and kept
    ("/%68ealth", "/health"),
    ("/%7euser/%41%2d%5F", "/~user/A-_"),
    ("/a%3ab", "/a%3Ab"),
    ("/caf%c3%a9", "/caf%C3%A9"),
    ("/%252e%252e/admin", "/%252e%252e/admin"),  # decoded once: a literal "%2e", not a dot
    ("/a%20b", "/a%20b"),
    # dot segments and slashes
    ("//api//v1/./x/", "/api/v1/x/"),
    ("/../../etc", "/etc"),
    ("/a/b/..", "/a/"),
    ("/a/.", "/a/"),
    ("/", "/"),
    ("/.well-known/x", "/.well-known/x"),
    ("/a/..b/c.", "/a/..b/c."),
    ("/a;v=1/b", "/a;v=1/b"),
]


@pytest.mark.parametrize(("sent", "canonical"), CANONICAL)
def test_canonical_paths(sent: str, canonical: str) -> None:
    assert canonical_path(sent) == canonical
    assert canonical_path(canonical) == canonical


REFUSED = [
    ("/health/..%2f/admin", "encoded slash"),
    ("/health%2f..%2fadmin", "encoded slash"),
    ("/health/%2F../admin", "encoded slash"),
    ("/a%5c..%5cadmin", "encoded backslash"),
    ("/a\\..\\admin", "is not allowed in a request path"),
    ("/a|b", "'|' is not allowed in a request path"),
    ("/a%zz", "two hex digits"),
    ("/a%2", "two hex digits"),
    ("/health/..;/admin", "dot segment with parameters"),
    ("/health/%2e;x/admin", "dot segment with parameters"),
]


@pytest.mark.parametrize(("sent", "why"), REFUSED)
def test_spellings_that_could_mean_two_paths_are_refused(sent: str, why: str) -> None:
    with pytest.raises(BadTarget, match=re.escape(why)):
        canonical_target(sent)


def test_target_forms() -> None:
    assert canonical_target("/a/../b?x=/../y") == RequestTarget("/b", "x=/../y")  # the query is kept as sent
    assert canonical_target("/a?") == RequestTarget("/a", "")
    assert canonical_target("/a?").origin_form == "/a?" and canonical_target("/a").origin_form == "/a"
    assert canonical_target("http://api.default:8080/x/%2e%2e/y?q") == RequestTarget(
        "/y", "q", "api.default:8080"
    )
    assert canonical_target("HTTP://api") == RequestTarget("/", None, "api")
    assert canonical_target("http://api?x") == RequestTarget("/", "x", "api")
    # a URL inside an origin-form target's path or query is not an absolute-form target
    assert canonical_target("/go?next=http://evil/admin") == RequestTarget("/go", "next=http://evil/admin")
    assert canonical_target("/x/http://evil/admin").authority is None
    assert canonical_target("*", "OPTIONS") == RequestTarget("*", None)
    for bad, method in [("*", "GET"), ("/a#frag", "GET"), ("admin", "GET"), ("api:80", "GET")]:
        with pytest.raises(BadTarget):
            canonical_target(bad, method)


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_every_spelling_of_a_path_is_canonicalised_to_its_resolution(data: st.DataObject) -> None:
    """Random paths in random percent-encodings: the canonical form is the RFC 3986 resolution of the plain
    path (independent oracle), is canonical itself, and has no dot segments, repeated slashes or encoded
    unreserved characters."""
    plain = data.draw(plain_paths)
    spelled = data.draw(spellings(plain))
    canonical = canonical_path(spelled)
    assert canonical == resolve(plain), (plain, spelled)
    assert canonical_path(canonical) == canonical
    assert "//" not in canonical and "/./" not in canonical + "/" and "/../" not in canonical + "/"


@settings(max_examples=500, deadline=None)
@given(data=st.data(), regex=st.sampled_from(PATH_REGEXES))
def test_the_decision_on_any_spelling_is_the_decision_on_the_resolved_path(
    data: st.DataObject, regex: str
) -> None:
    """What the inbound proxy does (canonicalise, then decide) gives the same answer for every spelling of a
    path, and that answer is the pathRegex on the path the oracle resolves."""
    plain = data.draw(plain_paths)
    spellings_ = [data.draw(spellings(plain)) for _ in range(3)]
    authz = Authorizer(
        AuthorizationPolicy(
            rules=(AuthorizationRule(name="default/r", sources=(WEB,), http=(match(regex),)),)
        )
    )
    decisions = {authz.http(WEB, 80, "GET", canonical_target(s).path, []).allowed for s in spellings_}
    assert decisions == {allows(regex, plain)}, (plain, spellings_)
