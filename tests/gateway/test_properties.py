"""Property tests: for random SMI objects, the converted resources select the same backends with the same
weight ratios (splits), and allow no more than SMI and, where no finding says otherwise, exactly as much
(Istio authorization), decided by the pure evaluators in semantics.py."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smi_conformance.gateway.context import Options
from smi_conformance.gateway.convert import convert
from smi_conformance.manifests import load_text

from .semantics import FAIL, READINGS, gateway_routes, istio_allows, smi_allows, smi_split
from .strategies import NS, WORKLOADS, AccessCase, SplitCase, access_cases, calls, request_grid, split_cases

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _convert(text: str, authz: Any = None) -> tuple[list[dict[str, Any]], set[str]]:
    conv, _ = convert(load_text(text, "case.yaml").documents, options=Options(authz=authz))
    return [g.data for g in conv.generated], {f.code for f in conv.findings()}


@SETTINGS
@given(split_cases())
def test_converted_routes_split_every_request_as_smi_does(case: SplitCase) -> None:
    routes, codes = _convert(case.yaml())
    assert "GW101" not in codes and "GW206" not in codes, codes
    if "GW109" in codes:  # a limit: nothing generated, and said so
        assert routes == []
        return
    assert routes, codes
    rounded = "GW104" in codes
    for request in request_grid(sorted(case.service_ports["web"])):
        expected = smi_split(case.split, case.groups, case.service_ports, request)
        rankings = ["high"] if "GW201" in codes else ["high", "low"]
        for reading in READINGS:
            for rank in rankings:
                got = gateway_routes(routes, "web", request, reading=reading, regex_rank=rank)
                if rounded and isinstance(expected, dict) and isinstance(got, dict):
                    keys = expected.keys() | got.keys()
                    assert all(abs(expected.get(k, 0) - got.get(k, 0)) <= 1e-5 for k in keys), (expected, got)
                else:
                    assert got == expected, (request, reading, rank, expected, got, routes)


@SETTINGS
@given(split_cases())
def test_weights_keep_exact_ratios_unless_reported(case: SplitCase) -> None:
    routes, codes = _convert(case.yaml())
    for route in routes:
        for rule in route["spec"]["rules"]:
            for ref in rule["backendRefs"]:
                assert 0 <= ref.get("weight", 1) <= 1_000_000
    if "GW104" in codes:
        weights = [b["weight"] for b in case.split["spec"]["backends"]]
        assert max(weights) > 1_000_000  # only integers beyond the range can need rounding


def _istio_policies(case: AccessCase) -> tuple[list[dict[str, Any]], set[str]]:
    out, codes = _convert(case.yaml(), "istio")
    assert "GW301" not in codes and "GW206" not in codes, codes
    return [d for d in out if d["kind"] == "AuthorizationPolicy"], codes


@SETTINGS
@given(access_cases(), st.lists(calls(), min_size=1, max_size=20))
def test_istio_policies_never_allow_more_and_exactly_as_much_without_findings(
    case: AccessCase, tries: list[Any]
) -> None:
    policies, codes = _istio_policies(case)
    exact = "GW302" not in codes
    destinations = {t["spec"]["destination"]["name"] for t in case.targets}
    for call in tries:
        smi = smi_allows(case.targets, case.groups, case.tcp_routes, call)
        istio = istio_allows(
            policies, {"app": call.workload}, f"cluster.local/ns/{NS}/sa/{call.source[1]}", call
        )
        if call.workload not in destinations:
            assert istio is None and not smi  # no target names it: SMI denies, Istio leaves it open (GW305)
            assert "GW305" in codes
            continue
        assert istio is not None
        assert not istio or smi, ("wider than SMI", call, policies)
        if exact:
            assert istio == smi, ("narrower without a finding", call, policies)


def test_istio_narrows_regex_paths_and_says_so() -> None:
    case = AccessCase(
        targets=[
            {
                "apiVersion": "access.smi-spec.io/v1alpha3", "kind": "TrafficTarget",
                "metadata": {"name": "t", "namespace": NS},
                "spec": {
                    "destination": {"kind": "ServiceAccount", "name": "api", "namespace": NS},
                    "sources": [{"kind": "ServiceAccount", "name": "web", "namespace": NS}],
                    "rules": [{"kind": "HTTPRouteGroup", "name": "g0"}],
                },
            }
        ],
        groups={"g0": {
            "apiVersion": "specs.smi-spec.io/v1alpha4", "kind": "HTTPRouteGroup",
            "metadata": {"name": "g0", "namespace": NS},
            "spec": {"matches": [
                {"name": "v", "pathRegex": "/api/v[0-9]+"}, {"name": "p", "pathRegex": "/pub"}]},
        }},
        tcp_routes={},
    )  # fmt: skip
    policies, codes = _istio_policies(case)
    assert "GW302" in codes
    (policy,) = [p for p in policies if p["metadata"]["name"] == "t"]
    assert [r["to"][0]["operation"]["paths"] for r in policy["spec"]["rules"]] == [["/pub*"]]
    assert WORKLOADS


def test_every_generated_document_is_plain_yaml() -> None:
    """The output is what `kubectl apply` reads: plain mappings, strings and numbers, no Python types."""
    from .strategies import service

    text = yaml.safe_dump_all([service("web", [80])])
    routes, _ = _convert(text)
    assert routes == []
    assert FAIL == "fail"
