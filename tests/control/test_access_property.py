"""System property: random TrafficTarget policies x random requests, compiled by the control plane and decided
by the proxy's authorizer, allow exactly what an independent oracle over the SMI documents allows."""

from __future__ import annotations

from typing import Any

from builders import account, bookstore, pod, sid
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from smi_strategies import oracle, policy, request

from reference_mesh.control.compiler import compile_mesh
from reference_mesh.control.resources import ObjectKey
from reference_mesh.proxy.authz import Authorizer
from smi_conformance import models

#: The workloads decided on: the same service accounts in two namespaces (pod key -> (namespace, account)).
WORKLOADS = {
    ObjectKey("Pod", "default", "bookstore-v1-0"): ("default", "bookstore"),
    ObjectKey("Pod", "shop", "bookstore-0"): ("shop", "bookstore"),
    ObjectKey("Pod", "shop", "admin-0"): ("shop", "admin"),
    ObjectKey("Pod", "default", "admin-0"): ("default", "admin"),
}
HTTP = [(8080, "http"), (9000, "tcp"), (9001, "udp")]
#: Beside the bookstore topology (namespace default): the same accounts and a bookstore in namespace shop.
SHOP = (
    account("bookstore", "shop"),
    account("admin", "shop"),
    account("admin"),
    pod("bookstore-0", "bookstore", {"app": "bookstore"}, "127.0.0.6", HTTP, ns="shop"),
    pod("admin-0", "admin", {"app": "admin"}, "127.0.0.7", HTTP, ns="shop"),
    pod("admin-0", "admin", {"app": "admin"}, "127.0.0.8", HTTP),
)


def decide(authz: Authorizer, req: tuple[Any, ...]) -> bool:
    source, kind, port, method, path, headers = req
    caller = sid(source[1], source[0]) if source is not None else None
    if kind == "http":
        return authz.http(caller, port, method, path, headers).allowed
    return (authz.tcp if kind == "tcp" else authz.udp)(caller, port).allowed


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy(), st.lists(request, min_size=20, max_size=20))
def test_compiled_policy_allows_exactly_what_the_smi_objects_allow(
    docs: list[dict[str, Any]], requests: list[tuple[Any, ...]]
) -> None:
    for doc in docs:
        assert models.validate(doc) == [], doc
    configs = compile_mesh(bookstore(*SHOP, *(models.load(d) for d in docs)))
    for key, workload in WORKLOADS.items():
        authz = Authorizer(configs[key].inbound.authorization)
        for req in requests:  # 250 policies x 4 workloads x 20 requests = 20,000 cases per run
            expected = oracle(docs, workload, req)
            event(f"allowed={expected}")
            assert decide(authz, req) == expected, (workload, req, docs)
