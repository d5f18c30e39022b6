"""The routes of a service (reference_mesh/control/routes.py): which HTTPRouteGroup matches name a
service's requests in telemetry, in which order, and that they change no routing or resilience behaviour."""

from __future__ import annotations

from builders import bookstore, pod, service, smi

from reference_mesh.control.compiler import MeshSettings, compile_mesh, route_table
from reference_mesh.control.resources import ObjectKey
from reference_mesh.control.routes import route_name
from reference_mesh.proxy.config import HttpMatch, Resilience, RoutePolicy

BUYER = ObjectKey("Pod", "default", "bookbuyer-0")

GROUPS = """
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: store}
spec:
  matches:
  - {name: books-bought, pathRegex: /books-bought, methods: [GET]}
  - {name: buy-a-book, pathRegex: "/buy-a-book/.*", methods: [GET]}
  - {name: admin, pathRegex: "/admin/.*", methods: ["*"]}
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: ab}
spec:
  matches: [{name: firefox, headers: {user-agent: ".*Firefox.*"}}]
"""


def target(name: str, rules: str, sa: str = "bookstore") -> str:
    return f"""
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {{name: {name}}}
spec:
  destination: {{kind: ServiceAccount, name: {sa}, namespace: default}}
  sources: [{{kind: ServiceAccount, name: bookbuyer, namespace: default}}]
  rules: {rules}
"""


def test_a_target_names_the_matches_it_lists_and_all_of_a_group_without_a_list() -> None:
    table = route_table(
        bookstore(
            service("buyers", {"app": "bookbuyer"}),
            *smi(
                GROUPS
                + target("some", "[{kind: HTTPRouteGroup, name: store, matches: [buy-a-book]}]")
                + target("all", "[{kind: HTTPRouteGroup, name: ab}]")
            ),
        )
    )
    # every service whose selector picks a bookstore pod gets the routes, groups by name then document order
    for svc in ("bookstore.default", "bookstore-v1.default", "bookstore-v2.default"):
        assert table[svc] == ("ab/firefox", "store/buy-a-book")
    # a Service none of whose pods a TrafficTarget names has none (but is listed: it has an HTTP port)
    assert table["buyers.default"] == ()


def test_the_union_of_listed_matches_keeps_the_groups_document_order() -> None:
    table = route_table(
        bookstore(
            *smi(
                GROUPS
                + target("a", "[{kind: HTTPRouteGroup, name: store, matches: [admin]}]")
                + target("b", "[{kind: HTTPRouteGroup, name: store, matches: [books-bought]}]")
            )
        )
    )
    assert table["bookstore.default"] == ("store/books-bought", "store/admin")


def test_split_matches_and_split_backends_pods_give_the_root_its_routes() -> None:
    objs = smi(
        GROUPS
        + """
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: canary}
spec:
  service: web
  matches: [{kind: HTTPRouteGroup, name: ab}]
  backends: [{service: bookstore-v1, weight: 1}]
"""
        + target("t", "[{kind: HTTPRouteGroup, name: store, matches: [books-bought]}]")
    )
    # `web` selects no pod at all: its routes come from its split's matches and its backend's pods
    table = route_table(bookstore(service("web", {"app": "nothing"}), *objs))
    assert table["web.default"] == ("ab/firefox", "store/books-bought")


def test_a_target_in_another_namespace_names_no_route_and_missing_groups_add_nothing() -> None:
    objs = smi(
        """
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: shared, namespace: ops}
spec:
  matches: [{name: health, pathRegex: /healthz}]
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: t, namespace: ops}
spec:
  destination: {kind: ServiceAccount, name: bookstore, namespace: default}
  sources: [{kind: ServiceAccount, name: bookbuyer, namespace: default}]
  rules: [{kind: HTTPRouteGroup, name: shared}]
---"""
        + GROUPS
        + target(
            "t",
            "[{kind: HTTPRouteGroup, name: store, matches: [buy-a-book]}, {kind: HTTPRouteGroup, name: x}]",
        )
    )
    # the ops target covers no default pod (SMI404: it would open another namespace), so it names nothing
    assert route_table(bookstore(*objs))["bookstore.default"] == ("store/buy-a-book",)


def test_a_group_of_another_namespace_would_be_qualified() -> None:
    assert route_name("default", "default", "store", "buy") == "store/buy"
    assert route_name("default", "ops", "shared", "health") == "ops/shared/health"


def test_tcp_only_services_and_unnamed_targets_have_no_routes() -> None:
    table = route_table(bookstore(service("db", {"app": "bookstore"}, [(5432, "tcp")]), *smi(GROUPS)))
    assert "db.default" not in table
    assert table["bookstore.default"] == ()  # no TrafficTarget: no routes, all on the default route


def test_smi_routes_follow_user_routes_and_override_nothing() -> None:
    user = RoutePolicy(match=HttpMatch(name="slow", path_regex="/books-bought"), timeout_ms=50)
    settings = MeshSettings(default_resilience=Resilience(timeout_ms=1234, routes=(user,)))
    objs = smi(GROUPS + target("t", "[{kind: HTTPRouteGroup, name: store}]"))
    state = bookstore(*objs)
    res = compile_mesh(state, settings)[BUYER].outbound.services["bookstore.default"].resilience
    assert [r.match.name for r in res.routes] == [
        "slow",
        "store/books-bought",
        "store/buy-a-book",
        "store/admin",
    ]
    assert res.routes[0] == user  # the user's route keeps its timeout and its precedence
    assert all(r.timeout_ms is None and r.retryable is None for r in res.routes[1:])
    assert res.timeout_ms == 1234
    assert route_table(state, settings)["bookstore.default"][0] == "slow"
    # the matches are the groups' own (the authorizer's): same method, path and header filters
    admin = next(r for r in res.routes if r.match.name == "store/admin")
    assert admin.match.path_regex == "/admin/.*" and admin.match.methods == ("*",)


def test_a_split_root_keeps_the_routes_of_its_own_pods_beside_its_backends() -> None:
    objs = smi(
        GROUPS
        + """
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: canary}
spec:
  service: web
  backends: [{service: bookstore-v1, weight: 1}]
"""
        + target("t", "[{kind: HTTPRouteGroup, name: store, matches: [admin]}]", sa="web")
    )
    # `web` selects web-0 (account web, named by the TrafficTarget); its backend's pods are named by none
    st = bookstore(service("web", {"app": "web"}), pod("web-0", "web", {"app": "web"}, "127.0.0.30"), *objs)
    assert route_table(st)["web.default"] == ("store/admin",)
