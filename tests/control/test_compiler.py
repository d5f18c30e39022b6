"""Compilation of SMI objects (every version) into proxy snapshots: table tests, one behaviour per case."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest
import yaml
from builders import account, bookstore, pod, service, sid, smi, state

from reference_mesh.control import compiler
from reference_mesh.control.compiler import MeshSettings, compile_instance, compile_mesh
from reference_mesh.control.resources import (
    ContainerPort,
    ObjectKey,
    Pod,
    PodSpec,
    PodStatus,
    Service,
    ServicePortSpec,
    ServiceSpec,
    SimpleMeta,
)
from reference_mesh.control.state import StoreState
from reference_mesh.proxy.authz import Authorizer
from reference_mesh.proxy.config import HttpMatch, Interception, PortSet, ProxyConfig, Resilience
from smi_conformance import models

STORE = ObjectKey("Pod", "default", "bookstore-v1-0")
BUYER = ObjectKey("Pod", "default", "bookbuyer-0")


def compiled(text: str, key: ObjectKey = STORE, **settings: object) -> ProxyConfig:
    return compile_mesh(bookstore(*smi(text)), MeshSettings(**settings))[key]  # type: ignore[arg-type]


def split_of(text: str) -> object:
    return compiled(text, BUYER).outbound.services["bookstore.default"].split


# --------------------------------------------------------------------------------------------------- splits
SPLIT_CASES = [
    ("v1alpha1 quantities exact", "split.smi-spec.io/v1alpha1", '"1"', "500m", (Fraction(1), Fraction(1, 2))),
    ("v1alpha1 milli only", "split.smi-spec.io/v1alpha1", "100m", "900m", (Fraction(1, 10), Fraction(9, 10))),
    ("v1alpha2 integers", "split.smi-spec.io/v1alpha2", "90", "10", (Fraction(90), Fraction(10))),
    ("v1alpha3 integers", "split.smi-spec.io/v1alpha3", "0", "100", (Fraction(0), Fraction(100))),
    ("v1alpha4 integers", "split.smi-spec.io/v1alpha4", "1", "3", (Fraction(1), Fraction(3))),
]


@pytest.mark.parametrize(
    ("api", "w1", "w2", "expected"), [c[1:] for c in SPLIT_CASES], ids=[c[0] for c in SPLIT_CASES]
)
def test_split_weights_are_exact_in_every_version(
    api: str, w1: str, w2: str, expected: tuple[Fraction, ...]
) -> None:
    split = split_of(f"""
apiVersion: {api}
kind: TrafficSplit
metadata: {{name: canary}}
spec:
  service: bookstore
  backends: [{{service: bookstore-v1, weight: {w1}}}, {{service: bookstore-v2, weight: {w2}}}]
""")
    assert split is not None
    assert tuple(b.weight for b in split.backends) == expected  # type: ignore[attr-defined]
    assert [b.service for b in split.backends] == ["bookstore-v1.default", "bookstore-v2.default"]  # type: ignore[attr-defined]
    assert split.name == "default/canary"  # type: ignore[attr-defined]


def test_split_matches_become_the_union_of_the_groups_filters() -> None:
    split = split_of("""
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: ab}
spec:
  service: bookstore
  matches:
  - {kind: HTTPRouteGroup, name: firefox}
  - {kind: HTTPRouteGroup, name: missing}
  - {kind: HTTPRouteGroup, name: v3}
  backends: [{service: bookstore-v1, weight: 0}, {service: bookstore-v2, weight: 100}]
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: firefox}
spec:
  matches: [{name: ff, headers: {user-agent: ".*Firefox.*"}}]
---
apiVersion: specs.smi-spec.io/v1alpha3
kind: HTTPRouteGroup
metadata: {name: v3}
spec:
  matches: [{name: api, pathRegex: /api, methods: [GET]}]
""")
    assert split.matches == (  # type: ignore[attr-defined]
        HttpMatch(name="ff", headers={"user-agent": ".*Firefox.*"}),
        HttpMatch(name="api", methods=("GET",), path_regex="/api"),
    )


def test_split_whose_groups_are_all_missing_splits_nothing() -> None:
    split = split_of("""
apiVersion: split.smi-spec.io/v1alpha3
kind: TrafficSplit
metadata: {name: ab}
spec:
  service: bookstore
  matches: [{kind: HTTPRouteGroup, name: nowhere}]
  backends: [{service: bookstore-v2, weight: 1}]
""")
    assert split.matches == ()  # type: ignore[attr-defined]


def test_split_without_matches_splits_every_request_and_other_services_are_plain() -> None:
    config = compiled(
        """
apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata: {name: s}
spec: {service: bookstore, backends: [{service: bookstore-v2, weight: 1}]}
""",
        BUYER,
    )
    assert config.outbound.services["bookstore.default"].split.matches is None  # type: ignore[union-attr]
    assert config.outbound.services["bookstore-v1.default"].split is None


def test_two_splits_for_one_root_the_first_created_wins() -> None:
    objs = smi("""
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: old}
spec: {service: bookstore, backends: [{service: bookstore-v1, weight: 1}]}
---
apiVersion: split.smi-spec.io/v1alpha1
kind: TrafficSplit
metadata: {name: new}
spec: {service: bookstore, backends: [{service: bookstore-v2, weight: "1"}]}
""")
    config = compile_mesh(bookstore(*objs))[BUYER]
    assert config.outbound.services["bookstore.default"].split.name == "default/old"  # type: ignore[union-attr]


def test_split_algorithm_comes_from_the_mesh_settings() -> None:
    text = """
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: s}
spec: {service: bookstore, backends: [{service: bookstore-v2, weight: 1}]}
"""
    split = (
        compiled(text, BUYER, split_algorithm="smooth_round_robin")
        .outbound.services["bookstore.default"]
        .split
    )
    assert split is not None and split.algorithm == "smooth_round_robin"


# --------------------------------------------------------------------------------------------------- endpoint
def test_endpoints_are_ready_selected_pods_with_their_identity() -> None:
    st = state(
        account("api"),
        service("api", {"app": "api"}, [(8080, "http")]),
        pod("api-0", "api", {"app": "api"}, "127.0.0.10", [(8080, "http")]),
        pod("api-1", "api", {"app": "api"}, "127.0.0.11", [(8080, "http")], ready=False),
        pod("api-2", "api", {"app": "api"}, "127.0.0.12", [(9090, "http")]),  # lacks the port
        pod(
            "other-0", "api", {"app": "api"}, "127.0.0.13", [(8080, "http")], ns="other"
        ),  # another namespace
        pod("client-0", "client", {"app": "client"}, "127.0.0.14"),
    )
    config = compile_mesh(st)[ObjectKey("Pod", "default", "client-0")]
    eps = config.outbound.services["api.default"].ports[0].endpoints
    assert [(e.address, e.port, e.identity, e.instance) for e in eps] == [
        ("127.0.0.10", 8080, sid("api"), "api-0")
    ]
    assert config.outbound.http_port == 15001
    assert config.workload.identity.uri == sid("client")


def test_target_port_and_workload_membership() -> None:
    st = state(
        service("web", {"app": "web"}, [(80, "http")]),
        pod("web-0", "web", {"app": "web"}, "127.0.0.20", [(8080, "http")]),
    )
    svc = st.get("Service", "default", "web").obj  # type: ignore[union-attr]
    st = state(
        svc.model_copy(
            update={
                "spec": svc.spec.model_copy(
                    update={"ports": (svc.spec.ports[0].model_copy(update={"target_port": 8080}),)}
                )
            }
        ),
        st.get("Pod", "default", "web-0").obj,
    )  # type: ignore[union-attr]
    config = compile_mesh(st)[ObjectKey("Pod", "default", "web-0")]
    port = config.outbound.services["web.default"].ports[0]
    assert port.port == 80 and port.endpoints[0].port == 8080
    assert config.workload.services == ("web",)
    assert [(ln.port, ln.app_port, ln.app_address) for ln in config.inbound.listeners] == [
        (8080, 18080, "127.0.0.20")
    ]


def test_tcp_and_udp_service_ports_get_local_bindings_on_every_client() -> None:
    config = compile_mesh(bookstore())[BUYER]
    assert [(b.listen_port, b.service, b.port) for b in config.outbound.tcp] == [
        (20000, "bookstore.default", 9000)
    ]
    assert [(b.listen_port, b.service, b.port) for b in config.outbound.udp] == [
        (20001, "bookstore.default", 9001)
    ]


# --------------------------------------------------------------------------------------------------- access
ROUTES = """
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: routes}
spec:
  matches:
  - {name: buy, pathRegex: /buy, methods: [GET]}
  - {name: admin, pathRegex: /admin, methods: ["*"], headers: {x-role: admin}}
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: tcp9000}
spec: {matches: {ports: [9000]}}
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: UDPRoute
metadata: {name: udp-all}
spec: {matches: {ports: []}}
"""


def rules_of(text: str, key: ObjectKey = STORE) -> tuple[object, ...]:
    return compiled(ROUTES + "---\n" + text, key).inbound.authorization.rules


def test_v1alpha3_target_named_matches_tcp_and_udp() -> None:
    (rule,) = rules_of("""
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: t}
spec:
  destination: {kind: ServiceAccount, name: bookstore, namespace: default}
  sources: [{kind: ServiceAccount, name: bookbuyer}, {kind: ServiceAccount, name: x, namespace: other}]
  rules:
  - {kind: HTTPRouteGroup, name: routes, matches: [buy]}
  - {kind: TCPRoute, name: tcp9000}
  - {kind: UDPRoute, name: udp-all}
""")
    assert rule.name == "default/t"  # type: ignore[attr-defined]
    assert rule.sources == (sid("bookbuyer"), sid("x", "other"))  # type: ignore[attr-defined]
    assert [m.name for m in rule.http] == ["buy"]  # type: ignore[attr-defined]
    assert rule.tcp == PortSet(ports=(9000,)) and rule.udp == PortSet()  # type: ignore[attr-defined]


def test_rule_without_matches_takes_every_match_of_the_group() -> None:
    (rule,) = rules_of("""
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: t}
spec:
  destination: {kind: ServiceAccount, name: bookstore}
  sources: [{kind: ServiceAccount, name: bookbuyer}]
  rules: [{kind: HTTPRouteGroup, name: routes}]
""")
    assert [m.name for m in rule.http] == ["buy", "admin"]  # type: ignore[attr-defined]
    assert rule.http[1].headers == {"x-role": "admin"}  # type: ignore[attr-defined]
    assert rule.tcp is None and rule.udp is None  # type: ignore[attr-defined]


def test_v1alpha1_target_specs_and_destination_port() -> None:
    (rule,) = rules_of("""
apiVersion: specs.smi-spec.io/v1alpha1
kind: HTTPRouteGroup
metadata: {name: old-routes}
matches: [{name: metrics, pathRegex: /metrics, methods: [GET]}]
---
apiVersion: specs.smi-spec.io/v1alpha1
kind: TCPRoute
metadata: {name: old-tcp}
---
apiVersion: access.smi-spec.io/v1alpha1
kind: TrafficTarget
metadata: {name: legacy}
destination: {kind: ServiceAccount, name: bookstore, namespace: default, port: 8080}
sources: [{kind: ServiceAccount, name: bookbuyer, namespace: default}]
specs:
- {kind: HTTPRouteGroup, name: old-routes, matches: [metrics]}
- {kind: TCPRoute, name: old-tcp}
""")
    assert [m.path_regex for m in rule.http] == ["/metrics"]  # type: ignore[attr-defined]
    assert rule.tcp == PortSet()  # type: ignore[attr-defined]  # TCPRoute before v1alpha4: every port
    assert rule.ports == PortSet(ports=(8080,))  # type: ignore[attr-defined]
    authz = Authorizer(compiled(ROUTES).inbound.authorization.model_copy(update={"rules": (rule,)}))
    assert authz.tcp(sid("bookbuyer"), 8080).allowed
    assert not authz.tcp(sid("bookbuyer"), 9000).allowed  # destination.port limits the whole rule


def test_v1alpha2_target_port_optional() -> None:
    (rule,) = rules_of("""
apiVersion: access.smi-spec.io/v1alpha2
kind: TrafficTarget
metadata: {name: t2}
spec:
  destination: {kind: ServiceAccount, name: bookstore}
  sources: [{kind: ServiceAccount, name: bookbuyer}]
  rules: [{kind: TCPRoute, name: tcp9000}]
""")
    assert rule.ports == PortSet() and rule.tcp == PortSet(ports=(9000,))  # type: ignore[attr-defined]


def test_targets_for_other_destinations_do_not_apply_and_missing_routes_allow_nothing() -> None:
    rules = rules_of("""
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: to-buyer}
spec:
  destination: {kind: ServiceAccount, name: bookbuyer}
  sources: [{kind: ServiceAccount, name: bookstore}]
  rules: [{kind: TCPRoute, name: tcp9000}]
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: dangling}
spec:
  destination: {kind: ServiceAccount, name: bookstore}
  sources: [{kind: ServiceAccount, name: bookbuyer}]
  rules: [{kind: TCPRoute, name: nowhere}, {kind: HTTPRouteGroup, name: nothing}]
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: no-sources}
spec:
  destination: {kind: ServiceAccount, name: bookstore}
  rules: [{kind: TCPRoute, name: tcp9000}]
""")
    assert [r.name for r in rules] == ["default/dangling", "default/no-sources"]  # type: ignore[attr-defined]
    authz = Authorizer(compiled(ROUTES).inbound.authorization.model_copy(update={"rules": rules}))
    assert not authz.tcp(sid("bookbuyer"), 9000).allowed
    assert not authz.http(sid("bookbuyer"), 8080, "GET", "/buy", []).allowed


def test_v1alpha4_identity_bindings() -> None:
    rules = rules_of("""
apiVersion: access.smi-spec.io/v1alpha4
kind: IdentityBinding
metadata: {name: store-pods}
spec: {schemes: {podLabelSelector: {matchLabels: {app: bookstore}}}}
---
apiVersion: access.smi-spec.io/v1alpha4
kind: IdentityBinding
metadata: {name: buyers}
spec:
  schemes:
    spiffeIdentities: ["cluster.local/ns/default/sa/bookbuyer", "not a spiffe id"]
    serviceAccount: extra
---
apiVersion: access.smi-spec.io/v1alpha4
kind: TrafficTarget
metadata: {name: ib}
spec:
  destination: {kind: IdentityBinding, group: access.smi-spec.io, name: store-pods}
  sources: [{kind: IdentityBinding, group: access.smi-spec.io, name: buyers}]
  rules: [{kind: TCPRoute, name: tcp9000}]
""")
    (rule,) = rules
    assert rule.sources == (sid("extra"), sid("bookbuyer"))  # type: ignore[attr-defined]
    assert (
        rules_of("""
apiVersion: access.smi-spec.io/v1alpha4
kind: TrafficTarget
metadata: {name: ib}
spec:
  destination: {kind: IdentityBinding, name: missing}
  sources: [{kind: ServiceAccount, name: bookbuyer}]
  rules: [{kind: TCPRoute, name: tcp9000}]
""")
        == ()
    )


CROSS_NAMESPACE = """
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: all-tcp, namespace: other}
spec: {matches: {ports: []}}
---
apiVersion: access.smi-spec.io/v1alpha4
kind: IdentityBinding
metadata: {name: their-store, namespace: other}
spec: {schemes: {spiffeIdentities: ["spiffe://cluster.local/ns/default/sa/bookstore"]}}
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: grab, namespace: other}
spec:
  destination: {kind: ServiceAccount, name: bookstore, namespace: default}
  sources: [{kind: ServiceAccount, name: eve, namespace: other}]
  rules: [{kind: TCPRoute, name: all-tcp}]
---
apiVersion: access.smi-spec.io/v1alpha4
kind: TrafficTarget
metadata: {name: grab-by-binding, namespace: other}
spec:
  destination: {kind: IdentityBinding, name: their-store}
  sources: [{kind: ServiceAccount, name: eve}]
  rules: [{kind: TCPRoute, name: all-tcp}]
"""


def test_a_target_grants_nothing_outside_its_own_namespace() -> None:
    """Defence in depth behind admission (SMI404): a TrafficTarget in ``other`` that names a destination in
    ``default`` (directly, or through an IdentityBinding listing its SPIFFE id) reaches the store some other
    way; the default namespace's pods still get no rule from it."""
    state_ = bookstore(*smi(CROSS_NAMESPACE))
    config = compile_mesh(state_, MeshSettings())[STORE]
    assert config.inbound.authorization.rules == ()
    assert not Authorizer(config.inbound.authorization).tcp(sid("eve", "other"), 9000).allowed


def test_a_target_still_admits_sources_from_other_namespaces() -> None:
    """The namespace rule is about destinations only: sources may live anywhere."""
    (rule,) = rules_of("""
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: t, namespace: default}
spec:
  destination: {kind: ServiceAccount, name: bookstore, namespace: default}
  sources: [{kind: ServiceAccount, name: eve, namespace: other}]
  rules: [{kind: TCPRoute, name: tcp9000}]
""")
    assert rule.sources == (sid("eve", "other"),)  # type: ignore[attr-defined]


def test_permissive_switch_reaches_every_proxy() -> None:
    assert compiled("", STORE, permissive=True).inbound.authorization.permissive
    assert not compiled("", STORE).inbound.authorization.permissive


def test_versions_of_one_kind_coexist() -> None:
    rules = rules_of("""
apiVersion: specs.smi-spec.io/v1alpha2
kind: HTTPRouteGroup
metadata: {name: v2-routes}
matches: [{name: hdr, headers: {x-env: prod}}]
---
apiVersion: access.smi-spec.io/v1alpha2
kind: TrafficTarget
metadata: {name: a}
spec:
  destination: {kind: ServiceAccount, name: bookstore}
  sources: [{kind: ServiceAccount, name: bookbuyer}]
  rules: [{kind: HTTPRouteGroup, name: v2-routes}]
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: b}
spec:
  destination: {kind: ServiceAccount, name: bookstore}
  sources: [{kind: ServiceAccount, name: bookthief}]
  rules: [{kind: HTTPRouteGroup, name: routes, matches: [admin]}]
""")
    assert [(r.name, [m.name for m in r.http]) for r in rules] == [  # type: ignore[attr-defined]
        ("default/a", ["hdr"]),
        ("default/b", ["admin"]),
    ]


def test_compilation_is_deterministic() -> None:
    text = (
        ROUTES
        + """---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: s}
spec: {service: bookstore, backends: [{service: bookstore-v1, weight: 1}, {service: bookstore-v2, weight: 2}]}
"""
    )
    a = compile_mesh(bookstore(*smi(text)))
    b = compile_mesh(bookstore(*reversed(smi(text))))
    assert {k: v.model_dump_json() for k, v in a.items()} == {k: v.model_dump_json() for k, v in b.items()}


_GROUPS = {"TrafficSplit": "split", "TrafficTarget": "access", "IdentityBinding": "access"}
_SPECS_FOR = {
    "access": {"v1alpha1": "v1alpha1", "v1alpha2": "v1alpha3", "v1alpha3": "v1alpha4", "v1alpha4": "v1alpha4"}
}


def _implied_api_version(file: str, kind: str) -> str:
    """Spec snippets often omit apiVersion: take it from the doc the file came from (specs kinds in an access
    or split doc use the specs version that doc pairs with)."""
    _, doc_group, version, *_ = file.split("-")
    group = _GROUPS.get(kind, "specs")
    if group == "specs" and doc_group != "specs":
        version = _SPECS_FOR.get(doc_group, {}).get(version, version)
    return f"{group}.smi-spec.io/{version}"


def test_every_spec_example_compiles(smi_spec_dir: Path) -> None:
    """Each loadable SMI object of the spec's docs, in the same store as the others, yields valid
    snapshots."""
    objs, seen = [], set()
    for path in sorted((smi_spec_dir / "examples").glob("*.yaml")):
        try:
            docs = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError:
            continue  # a few doc snippets elide parts with "..."
        for doc in docs:
            if not isinstance(doc, dict) or doc.get("kind") in ("TrafficMetrics", "TrafficMetricsList"):
                continue
            doc.setdefault("apiVersion", _implied_api_version(path.name, str(doc.get("kind"))))
            info = models.lookup(str(doc.get("apiVersion")), str(doc.get("kind")))
            if info is None or models.validate(doc):
                continue
            obj = models.load(doc)
            key = (obj.kind, obj.metadata.namespace or "default", obj.metadata.name)  # type: ignore[attr-defined]
            if key not in seen:
                seen.add(key)
                objs.append(obj)
    assert len(objs) >= 15
    configs = compile_mesh(bookstore(*objs))
    assert len(configs) == 4
    for config in configs.values():
        ProxyConfig.model_validate_json(config.model_dump_json())  # round-trips through the wire format


def test_a_split_root_written_as_a_dns_name_names_the_service_of_its_namespace() -> None:
    from smi_conformance.service_names import split_root

    for written in ("web", "web.shop", "web.shop.svc", "web.shop.svc.cluster.local"):
        assert split_root(written, "shop") == "web", written
    assert split_root("web.other", "shop") == "web.other"  # another namespace's: names nothing here


# --------------------------------------------------------------------------------- snapshot, field by field
CLIENT = ObjectKey("Pod", "default", "client-0")


def test_endpoints_skip_unready_unselected_and_portless_pods_wherever_they_come() -> None:
    st = state(
        service("api", {"app": "api"}, [(8080, "http")]),
        pod("api-0", "api", {"app": "api"}, "127.0.0.10", [(8080, "http")], ready=False),
        pod("api-1", "api", {"app": "api", "track": "canary"}, "127.0.0.11", [(8080, "http")]),
        pod("api-2", "api", {"app": "apix"}, "127.0.0.12", [(8080, "http")]),
        pod("api-3", "api", {"app": "api"}, "127.0.0.13", [(9090, "http")]),
        pod("api-4", "api", {"app": "api"}, "127.0.0.14", [(8080, "http")]),
        pod("client-0", "client", {"app": "client"}, "127.0.0.15"),
    )
    eps = compile_mesh(st)[CLIENT].outbound.services["api.default"].ports[0].endpoints
    assert [(e.instance, e.labels) for e in eps] == [
        ("api-1", {"app": "api", "track": "canary"}),
        ("api-4", {"app": "api"}),
    ]


def test_service_ports_keep_protocol_and_name_and_services_their_cluster_addresses() -> None:
    db = Service(
        metadata=SimpleMeta(name="db"),
        spec=ServiceSpec(
            selector={"app": "db"},
            ports=(
                ServicePortSpec(port=5432, protocol="tcp", name="pg"),
                ServicePortSpec(port=80, name="web"),
            ),
            cluster_ips=("10.96.0.7",),
        ),
    )
    config = compile_mesh(state(db, pod("client-0", "client", {"app": "client"}, "127.0.0.15")))[CLIENT]
    out = config.outbound.services["db.default"]
    assert [(p.port, p.protocol, p.name) for p in out.ports] == [(5432, "tcp", "pg"), (80, "http", "web")]
    assert out.addresses == ("10.96.0.7",)


def test_local_port_bindings_are_ordered_by_listen_port_across_services() -> None:
    st = state(
        service("a-db", {"app": "db"}, [(5432, "tcp")], local_ports={5432: 20010}),
        service(
            "b-cache",
            {"app": "cache"},
            [(6379, "tcp"), (11211, "tcp")],
            local_ports={6379: 20002, 11211: 20001},
        ),
        pod("client-0", "client", {"app": "client"}, "127.0.0.15"),
    )
    assert [(b.listen_port, b.service, b.port) for b in compile_mesh(st)[CLIENT].outbound.tcp] == [
        (20001, "b-cache.default", 11211),
        (20002, "b-cache.default", 6379),
        (20010, "a-db.default", 5432),
    ]


def test_a_tcp_only_service_gets_the_mesh_default_resilience() -> None:
    """Routes name HTTP requests only: a service without an HTTP port keeps its settings as they are (and the
    services after it still get theirs)."""
    settings = MeshSettings(default_resilience=Resilience(timeout_ms=1234))
    st = bookstore(
        service("analytics", {"app": "bookstore"}, [(5432, "tcp")]),
        *smi(
            ROUTES
            + """---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: t}
spec:
  destination: {kind: ServiceAccount, name: bookstore}
  sources: [{kind: ServiceAccount, name: bookbuyer}]
  rules: [{kind: HTTPRouteGroup, name: routes}]
"""
        ),
    )
    services = compile_mesh(st, settings)[BUYER].outbound.services
    assert services["analytics.default"].resilience == settings.default_resilience
    assert [r.match.name for r in services["bookstore.default"].resilience.routes] == [
        "routes/buy",
        "routes/admin",
    ]


def test_routes_of_several_tcp_and_udp_routes_add_up() -> None:
    (rule,) = rules_of("""
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: tcp9100}
spec: {matches: {ports: [9100]}}
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: UDPRoute
metadata: {name: dns}
spec: {matches: {ports: [53]}}
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: UDPRoute
metadata: {name: mdns}
spec: {matches: {ports: [5353]}}
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: t}
spec:
  destination: {kind: ServiceAccount, name: bookstore}
  sources: [{kind: ServiceAccount, name: bookbuyer}]
  rules:
  - {kind: TCPRoute, name: tcp9000}
  - {kind: TCPRoute, name: tcp9100}
  - {kind: UDPRoute, name: dns}
  - {kind: UDPRoute, name: mdns}
""")
    assert rule.tcp == PortSet(ports=(9000, 9100))  # type: ignore[attr-defined]
    assert rule.udp == PortSet(ports=(53, 5353))  # type: ignore[attr-defined]


def test_a_route_covering_every_port_wins_in_either_order() -> None:
    for order in ("[udp-all, dns]", "[dns, udp-all]"):
        first, second = order.strip("[]").split(", ")
        (rule,) = rules_of(f"""
apiVersion: specs.smi-spec.io/v1alpha4
kind: UDPRoute
metadata: {{name: dns}}
spec: {{matches: {{ports: [53]}}}}
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {{name: t}}
spec:
  destination: {{kind: ServiceAccount, name: bookstore}}
  sources: [{{kind: ServiceAccount, name: bookbuyer}}]
  rules: [{{kind: UDPRoute, name: {first}}}, {{kind: UDPRoute, name: {second}}}]
""")
        assert rule.udp == PortSet(), order  # type: ignore[attr-defined]


def test_route_kinds_of_the_other_versions() -> None:
    """The v1alpha5 draft's ``spec.routes`` (headers as a list) and ``spec.ports``; v1alpha3's empty TCPRoute
    spec (every port)."""
    (rule,) = rules_of("""
apiVersion: specs.smi-spec.io/v1alpha5
kind: HTTPRouteGroup
metadata: {name: draft}
spec:
  routes: [{name: d, pathRegex: /draft, methods: [POST], headers: [{x-env: prod}]}]
---
apiVersion: specs.smi-spec.io/v1alpha5
kind: UDPRoute
metadata: {name: draft-udp}
spec: {ports: [53, 54]}
---
apiVersion: specs.smi-spec.io/v1alpha3
kind: TCPRoute
metadata: {name: v3-tcp}
spec: {}
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: t}
spec:
  destination: {kind: ServiceAccount, name: bookstore}
  sources: [{kind: ServiceAccount, name: bookbuyer}]
  rules:
  - {kind: HTTPRouteGroup, name: draft}
  - {kind: UDPRoute, name: draft-udp}
  - {kind: TCPRoute, name: v3-tcp}
""")
    assert rule.http == (
        HttpMatch(name="d", methods=("POST",), path_regex="/draft", headers={"x-env": "prod"}),
    )  # type: ignore[attr-defined]
    assert rule.udp == PortSet(ports=(53, 54)) and rule.tcp == PortSet()  # type: ignore[attr-defined]


def test_two_splits_for_one_root_created_together_the_first_by_name_wins() -> None:
    """Applied in one batch, both have the same creation revision: the tie goes to the name order."""
    objs = smi("""
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: b-split}
spec: {service: bookstore, backends: [{service: bookstore-v2, weight: 1}]}
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: a-split}
spec: {service: bookstore, backends: [{service: bookstore-v1, weight: 1}]}
""")
    st = bookstore(*objs)
    together = StoreState({k: replace(o, created=1) for k, o in st.objects.items()}, st.revision)
    config = compile_mesh(together)[BUYER]
    assert config.outbound.services["bookstore.default"].split.name == "default/a-split"  # type: ignore[union-attr]


def test_a_split_root_written_as_a_dns_name_splits_that_service() -> None:
    split = split_of("""
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: fqdn}
spec: {service: bookstore.default.svc.cluster.local, backends: [{service: bookstore-v2, weight: 1}]}
""")
    assert split is not None and split.name == "default/fqdn"  # type: ignore[attr-defined]


def test_workload_info_and_listeners() -> None:
    """The mesh's domains, the pod's labels, the Services of its own namespace selecting it and its ports as
    written (a Service of another namespace with the same selector is not one of its services)."""
    web = Pod(
        metadata=SimpleMeta(name="web-0", labels={"app": "web", "tier": "front"}),
        spec=PodSpec(
            service_account_name="web",
            ports=(
                ContainerPort(container_port=8080, name="http-api", app_port=18080),
                ContainerPort(container_port=9000, protocol="tcp", name="raw", app_port=19000),
            ),
        ),
        status=PodStatus(pod_ip="127.0.0.20"),
    )
    st = state(
        service("web", {"app": "web"}),
        service("front", {"tier": "front"}),
        service("web", {"app": "web"}, ns="other"),
        service("api", {"app": "api"}),
        web,
    )
    settings = MeshSettings(trust_domain="example.org", cluster_domain="cluster.example")
    config = compile_mesh(st, settings)[ObjectKey("Pod", "default", "web-0")]
    w = config.workload
    assert (w.trust_domain, w.cluster_domain, w.identity.uri) == (
        "example.org",
        "cluster.example",
        "spiffe://example.org/ns/default/sa/web",
    )
    assert w.labels == {"app": "web", "tier": "front"} and w.services == ("front", "web")
    assert [(ln.port, ln.protocol, ln.name, ln.app_port) for ln in config.inbound.listeners] == [
        (8080, "http", "http-api", 18080),
        (9000, "tcp", "raw", 19000),
    ]


def test_interception_replaces_the_outbound_http_port() -> None:
    interception = Interception(inbound_port=15106, outbound_port=15101)
    config = compile_mesh(bookstore(), MeshSettings(interception=interception))[BUYER]
    assert config.interception == interception and config.outbound.http_port is None
    assert compile_mesh(bookstore())[BUYER].interception is None


def test_one_pod_compiled_alone_gets_the_snapshot_compile_mesh_gives_it() -> None:
    text = (
        ROUTES
        + """---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: t}
spec:
  destination: {kind: ServiceAccount, name: bookstore}
  sources: [{kind: ServiceAccount, name: bookbuyer}]
  rules: [{kind: HTTPRouteGroup, name: routes}, {kind: TCPRoute, name: tcp9000}]
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: s}
spec: {service: bookstore, backends: [{service: bookstore-v1, weight: 1}, {service: bookstore-v2, weight: 3}]}
"""
    )
    st = bookstore(*smi(text))
    settings = MeshSettings(trust_domain="example.org", split_algorithm="smooth_round_robin")
    whole = compile_mesh(st, settings)
    assert whole[STORE].inbound.authorization.rules  # the TrafficTarget applies, the split is compiled
    assert whole[BUYER].outbound.services["bookstore.default"].split is not None
    for stored in st.of_kind("Pod"):
        assert compile_instance(stored.obj, st, settings) == whole[stored.key], stored.key


def test_compile_mesh_reads_the_targets_and_compiles_the_services_once_for_every_pod(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What does not depend on the pod is compiled once per mesh, not once per pod (a mesh of N pods
    would pay N times over)."""
    calls: Counter[str] = Counter()

    def counted(name: str) -> Callable[..., object]:
        real = getattr(compiler, name)

        def spy(*args: object, **kwargs: object) -> object:
            calls[name] += 1
            return real(*args, **kwargs)

        return spy

    for name in ("read_target", "_outbound_services"):
        monkeypatch.setattr(compiler, name, counted(name))
    st = bookstore(
        *smi(
            ROUTES
            + """---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: t}
spec:
  destination: {kind: ServiceAccount, name: bookstore}
  sources: [{kind: ServiceAccount, name: bookbuyer}]
  rules: [{kind: TCPRoute, name: tcp9000}]
"""
        )
    )
    assert len(compile_mesh(st)) == 4
    assert calls == {"read_target": 1, "_outbound_services": 1}


# --------------------------------------------------------------------------------------------------- faults
def test_split_faults_reach_the_compiled_split() -> None:
    text = """
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: s}
spec:
  service: bookstore
  backends: [{service: bookstore-v1, weight: 90}, {service: bookstore-v2, weight: 10}]
"""
    split = (
        compiled(text, BUYER, faults=frozenset({"ignore-weights"}))
        .outbound.services["bookstore.default"]
        .split
    )
    assert split is not None and [b.weight for b in split.backends] == [1, 1]


def test_the_source_namespace_fault_widens_a_source_to_its_name_in_every_namespace() -> None:
    text = """
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: t}
spec:
  destination: {kind: ServiceAccount, name: bookstore}
  sources: [{kind: ServiceAccount, name: bookbuyer}]
  rules: [{kind: TCPRoute, name: tcp9000}]
"""
    st = bookstore(
        account("bookbuyer", "shop"),
        account("bookbuyer", "other"),
        account("x", "other"),
        *smi(ROUTES + "---\n" + text),
    )
    config = compile_mesh(st, MeshSettings(faults=frozenset({"ignore-source-namespace"})))[STORE]
    (rule,) = config.inbound.authorization.rules
    assert rule.sources == (sid("bookbuyer"), sid("bookbuyer", "other"), sid("bookbuyer", "shop"))
    (rule,) = compile_mesh(st)[STORE].inbound.authorization.rules
    assert rule.sources == (sid("bookbuyer"),)
