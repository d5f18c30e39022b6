"""The sweep for decisions that read something spellable two ways (issue 11, part 5), over real sidecars and
the echo application: each test pins what the decision reads and checks that the application reads the same.

Paths have their own module (``test_mesh_paths.py``). Findings and decisions: "One spelling per request" in
docs/reference-mesh/data-plane.md.
"""

from __future__ import annotations

import pytest
from loopback import OUTBOUND_HTTP_PORT
from mesh_support import HTTP_PORT, LoopThread, Response, Topology, raw_exchange

from reference_mesh.proxy.config import AuthorizationPolicy, AuthorizationRule, HttpMatch
from reference_mesh.proxy.tls import MeshTls

ADMIN = "spiffe://cluster.local/ns/default/sa/admin"


def allow(topo: Topology, loop_thread: LoopThread, *matches: HttpMatch) -> None:
    rule = AuthorizationRule(name="default/r", sources=(topo.web.identity.uri,), http=matches)
    loop_thread.run(topo.configure(authorization=AuthorizationPolicy(rules=(rule,))))


def get(
    topo: Topology, loop_thread: LoopThread, target: str = "/", host: str = "api-v1", **kw: object
) -> Response:
    return loop_thread.run(topo.client().request("GET", target, host=host, **kw))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------- Host
@pytest.mark.parametrize(
    "host",
    [
        "api-v1",
        "API-V1",
        "api-v1.default",
        "Api-V1.Default.Svc.Cluster.Local.",
        "api-v1.default.svc.cluster.local.",
        "api-v1:8080",
        "API-V1.default.svc.:08080",
        "api-v1.default:",  # an empty port is no port (RFC 3986 3.2.3)
    ],
)
def test_every_spelling_of_a_host_names_the_same_service(
    topo: Topology, loop_thread: LoopThread, host: str
) -> None:
    """Case, a trailing dot, the cluster suffix and the port (default or written, leading zeros) do not change
    the service; the application gets the Host line as the client wrote it (it is that service either way)."""
    r = get(topo, loop_thread, host=host)
    assert r.status == 200, r.body
    assert r.json()["instance"] == topo.v1.name and r.json()["headers"]["host"] == host


@pytest.mark.parametrize(
    "host",
    ["api-v1:9999", "api-v1.other", "api-v1..default", "api-v1.default.svc.example.org", "api-v1:x"],
)
def test_hosts_that_name_no_service_of_this_cluster_get_404(
    topo: Topology, loop_thread: LoopThread, host: str
) -> None:
    assert get(topo, loop_thread, host=host).status == 404


def test_two_host_headers_are_refused_on_both_sides(topo: Topology, loop_thread: LoopThread) -> None:
    """RFC 9112 3.2: the proxy and the application might each pick a different one."""
    request = b"GET / HTTP/1.1\r\nhost: api-v1\r\nhost: api-v2\r\nconnection: close\r\n\r\n"
    via_sidecar = loop_thread.run(raw_exchange(topo.web.address, OUTBOUND_HTTP_PORT, request))
    tls = MeshTls(topo.web.credentials)
    try:
        direct = loop_thread.run(raw_exchange(topo.v1.address, HTTP_PORT, request, tls.client))
    finally:
        tls.close()
    for answer in (via_sidecar, direct):
        assert answer.startswith(b"HTTP/1.1 400") and b"more than one Host header" in answer


# ------------------------------------------------------------------------------------------- absolute-form
def test_an_absolute_form_target_names_the_service_and_is_sent_on_as_host(
    topo: Topology, loop_thread: LoopThread
) -> None:
    """RFC 9112 3.2.2: the target's authority wins over Host, and the proxy sends it on as Host, so the
    application is told the service it was routed to (it used to get the client's other Host line)."""
    r = get(topo, loop_thread, "http://api-v1/x?y=1", host="api-v2")
    echoed = r.json()
    assert (echoed["instance"], echoed["path"], echoed["query"]) == (topo.v1.name, "/x", "y=1")
    assert echoed["headers"]["host"] == "api-v1"


def test_a_url_in_an_origin_form_target_is_not_an_authority(topo: Topology, loop_thread: LoopThread) -> None:
    """``/go?next=http://api-v2/admin`` used to be read as absolute-form: sent to api-v2 with path /admin."""
    for target, path in [
        ("/go?next=http://api-v2/admin", "/go"),
        ("/go/http://api-v2/admin", "/go/http:/api-v2/admin"),
    ]:
        echoed = get(topo, loop_thread, target, host="api-v1").json()
        assert (echoed["instance"], echoed["path"]) == (topo.v1.name, path)  # "//" merged, as in any path


# -------------------------------------------------------------------------------------------------- headers
def test_header_names_match_in_any_case(topo: Topology, loop_thread: LoopThread) -> None:
    allow(topo, loop_thread, HttpMatch(headers={"X-User": "alice"}))
    for name in ("x-user", "X-USER", "x-User"):
        r = get(topo, loop_thread, headers=[(name, "alice")])
        assert r.status == 200 and r.json()["headers"]["x-user"] == "alice", name
    assert get(topo, loop_thread, headers=[("x_user", "alice")]).status == 403  # another name


def test_a_repeated_header_is_matched_as_the_combined_value_the_application_reads(
    topo: Topology, loop_thread: LoopThread
) -> None:
    """RFC 9110 5.3: a repeated field is one value, its lines joined with ", " (what the echo, and most
    frameworks, read). A rule for ``x-user: alice`` used to pass ``alice`` + ``mallory`` because one line
    matched; the application then read ``alice, mallory`` or only ``mallory``."""
    allow(topo, loop_thread, HttpMatch(headers={"x-user": "alice"}))
    for lines in ([("x-user", "alice"), ("x-user", "mallory")], [("x-user", "mallory"), ("X-User", "alice")]):
        r = get(topo, loop_thread, headers=lines)
        assert r.status == 403, lines
    allow(topo, loop_thread, HttpMatch(headers={"x-user": "alice(, bob)?"}))
    r = get(topo, loop_thread, headers=[("x-user", "alice"), ("x-user", "bob")])
    assert r.status == 200 and r.json()["headers"]["x-user"] == "alice, bob"


def test_whitespace_around_a_header_value_is_not_part_of_it(topo: Topology, loop_thread: LoopThread) -> None:
    """RFC 9110 5.5: a field value has no leading or trailing whitespace (the application strips it too)."""
    allow(topo, loop_thread, HttpMatch(headers={"x-user": "alice"}))
    request = b"GET / HTTP/1.1\r\nhost: api-v1\r\nx-user:  alice \t\r\nconnection: close\r\n\r\n"
    answer = loop_thread.run(raw_exchange(topo.web.address, OUTBOUND_HTTP_PORT, request))
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]


def test_identity_headers_spelled_with_underscores_are_dropped(
    topo: Topology, loop_thread: LoopThread
) -> None:
    """CGI-style servers (WSGI, PHP) read ``x_mesh_client_id`` as ``x-mesh-client-id``: a forged underscore
    spelling must not reach the application beside the real header."""
    forged = [("x_mesh_client_id", ADMIN), ("X_Mesh_Client_ID", ADMIN), ("l5d_client_id", "admin")]
    seen = get(topo, loop_thread, headers=forged).json()["headers"]
    assert seen["x-mesh-client-id"] == topo.web.identity.uri
    assert not [name for name in seen if "_" in name], seen


# ------------------------------------------------------------------------------------------ path and method
def test_paths_are_case_sensitive_and_reach_the_application_as_decided(
    topo: Topology, loop_thread: LoopThread
) -> None:
    allow(topo, loop_thread, HttpMatch(path_regex="/health"))
    assert [get(topo, loop_thread, p).status for p in ("/health", "/Health", "/HEALTH")] == [200, 403, 403]
    allow(topo, loop_thread, HttpMatch(path_regex="(?i)/health"))
    r = get(topo, loop_thread, "/HeAlth")
    assert r.status == 200 and r.json()["path"] == "/HeAlth"


def test_methods_are_upper_case_only(topo: Topology, loop_thread: LoopThread) -> None:
    """A method is case-sensitive (RFC 9110 9.1): ``get`` is not ``GET``, and llhttp refuses it."""
    allow(topo, loop_thread, HttpMatch(methods=("GET",)))
    request = b"get / HTTP/1.1\r\nhost: api-v1\r\nconnection: close\r\n\r\n"
    assert loop_thread.run(raw_exchange(topo.web.address, OUTBOUND_HTTP_PORT, request)).startswith(
        b"HTTP/1.1 400"
    )
