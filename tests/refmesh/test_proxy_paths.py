"""Request targets in one canonical spelling (sans-IO): table tests of each decision, and properties over
random paths in random spellings against an independent resolver (``path_spellings.py``)."""

from __future__ import annotations

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


SLASH = (
    "an encoded slash (%2F) in the request path: a proxy and an application that decodes it would see "
    "different paths"
)
BACKSLASH = SLASH.replace("slash (%2F)", "backslash (%5C)")
REFUSED = [
    ("/health/..%2f/admin", SLASH),
    ("/health%2f..%2fadmin", SLASH),
    ("/health/%2F../admin", SLASH),
    ("/a%5c..%5cadmin", BACKSLASH),
    ("/a\\..\\admin", "'\\\\' is not allowed in a request path (RFC 3986): percent-encode it"),
    ("/a|b", "'|' is not allowed in a request path (RFC 3986): percent-encode it"),
    ("/a%zz", "a '%' in the request path is not followed by two hex digits"),
    ("/a%2", "a '%' in the request path is not followed by two hex digits"),
    ("/health/..;/admin", "a dot segment with parameters ('..;') in the request path"),
    ("/health/%2e;x/admin", "a dot segment with parameters ('.;x') in the request path"),
    # the message quotes at most 20 characters of the segment
    ("/..;" + "p" * 30 + "/x", "a dot segment with parameters ('..;" + "p" * 17 + "') in the request path"),
    ("/a#frag", "a request target must not carry a fragment (#)"),
    ("admin", "not an origin-form or absolute-form request target: 'admin'"),
    ("a" * 150, f"not an origin-form or absolute-form request target: {'a' * 100!r}"),
    ("*", "the asterisk-form target '*' is for OPTIONS only, not GET"),
]


@pytest.mark.parametrize(("sent", "message"), REFUSED)
def test_spellings_that_could_mean_two_paths_are_refused(sent: str, message: str) -> None:
    """The message is the 400's body: exact."""
    with pytest.raises(BadTarget) as refused:
        canonical_target(sent, "GET")
    assert str(refused.value) == message


def test_target_forms() -> None:
    assert canonical_target("/a/../b?x=/../y", "GET") == RequestTarget(
        "/b", "x=/../y"
    )  # the query is kept as sent
    assert canonical_target("/a?", "GET") == RequestTarget("/a", "")
    assert (
        canonical_target("/a?", "GET").origin_form == "/a?"
        and canonical_target("/a", "GET").origin_form == "/a"
    )
    assert canonical_target("http://api.default:8080/x/%2e%2e/y?q", "GET") == RequestTarget(
        "/y", "q", "api.default:8080"
    )
    assert canonical_target("HTTP://api", "GET") == RequestTarget("/", None, "api")
    assert canonical_target("http://api?x", "GET") == RequestTarget("/", "x", "api")
    assert canonical_target("http://api?x?y/z", "GET") == RequestTarget(
        "/", "x?y/z", "api"
    )  # the first "?" ends it
    assert canonical_target("http:///x", "GET") == RequestTarget(
        "/x", None, ""
    )  # an empty authority, not "/x"
    # a URL inside an origin-form target's path or query is not an absolute-form target
    assert canonical_target("/go?next=http://evil/admin", "GET") == RequestTarget(
        "/go", "next=http://evil/admin"
    )
    assert canonical_target("/x/http://evil/admin", "GET").authority is None
    assert canonical_target("*", "OPTIONS") == RequestTarget("*", None)
    for bad, method in [("*", "POST"), ("api:80", "GET")]:
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
    decisions = {authz.http(WEB, 80, "GET", canonical_target(s, "GET").path, []).allowed for s in spellings_}
    assert decisions == {allows(regex, plain)}, (plain, spellings_)
