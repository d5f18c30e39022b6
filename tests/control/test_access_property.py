"""System property: random TrafficTarget policies x random requests, compiled by the control plane and decided
by the proxy's authorizer, allow exactly what an independent oracle over the SMI documents allows."""

from __future__ import annotations

from typing import Any

from builders import bookstore, sid
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from smi_strategies import oracle, policy, request

from reference_mesh.control.compiler import compile_mesh
from reference_mesh.control.resources import ObjectKey
from reference_mesh.proxy.authz import Authorizer
from smi_conformance import models

STORE_POD = ObjectKey("Pod", "default", "bookstore-v1-0")


def decide(authz: Authorizer, req: tuple[Any, ...]) -> bool:
    source, kind, port, method, path, headers = req
    caller = sid(source) if source is not None else None
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
    config = compile_mesh(bookstore(*(models.load(d) for d in docs)))[STORE_POD]
    authz = Authorizer(config.inbound.authorization)
    for req in requests:  # 250 policies x 20 requests = 5000 cases per run
        expected = oracle(docs, "bookstore", req)
        event(f"allowed={expected}")
        assert decide(authz, req) == expected, (req, docs)
