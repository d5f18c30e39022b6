"""`smi convert --to gateway-api` on a real API server: Gateway API's standard CRDs (sigs.k8s.io/gateway-api)
and Istio's AuthorizationPolicy CRD (istio.io/api), from the Go module proxy (ci/conversion-crds.sh),
installed on the kind cluster; every conversion of the bookstore example, the spec's examples and generated
cases is accepted by a server-side dry run (fieldValidation=Strict: nothing pruned); and what the API server
refuses, the converter reported first. Linkerd's CRDs are served by no registry: not checked here."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from kubernetes import client
from kubernetes.client.rest import ApiException

from smi_conformance.gateway.context import Options
from smi_conformance.gateway.convert import convert
from smi_conformance.manifests import load_paths, load_text

from .smi_crds import message
from .workloads import NotYet, wait_for

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
from gateway.strategies import AccessCase, SplitCase, access_cases, split_cases  # noqa: E402

pytestmark = pytest.mark.kind
Doc = dict[str, Any]
PLURALS = {"HTTPRoute": "httproutes", "AuthorizationPolicy": "authorizationpolicies"}
_CRDS = ("apiextensions.k8s.io", "v1", "customresourcedefinitions")


def _crd_docs() -> list[Doc]:
    def where(which: str) -> Path:
        out = subprocess.run(
            ["bash", str(REPO / "ci" / "conversion-crds.sh"), which], capture_output=True, text=True,
            timeout=600, check=False,
        )  # fmt: skip
        if out.returncode != 0:
            pytest.fail(f"ci/conversion-crds.sh {which} failed:\n{out.stderr[-2000:]}", pytrace=False)
        return Path(out.stdout.strip().splitlines()[-1])

    docs = []
    for path in sorted(where("gateway-api").glob("*.yaml")):
        docs += [
            d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] == "CustomResourceDefinition"
        ]
    istio = yaml.safe_load_all(where("istio").read_text())
    docs += [d for d in istio if d and d["metadata"]["name"] == "authorizationpolicies.security.istio.io"]
    return docs


@pytest.fixture(scope="module")
def conversion_crds(api_client: client.ApiClient) -> None:
    """Installed once and left installed (replaced only when its versions differ). Each xdist worker runs this
    fixture, so "already exists" (409, another worker or an earlier run) counts as installed."""
    api = client.CustomObjectsApi(api_client)
    for crd in _crd_docs():
        name = crd["metadata"]["name"]
        try:
            api.create_cluster_custom_object(*_CRDS, crd)
        except ApiException as exc:
            if exc.status != 409:
                raise
            held = api.get_cluster_custom_object(*_CRDS, name)
            if held["spec"]["versions"] != crd["spec"]["versions"]:
                crd = {
                    **crd,
                    "metadata": {**crd["metadata"], "resourceVersion": held["metadata"]["resourceVersion"]},
                }
                api.replace_cluster_custom_object(*_CRDS, name, crd)

        def established(name: str = name) -> Doc:
            held = api.get_cluster_custom_object(*_CRDS, name)
            conditions = {c["type"]: c["status"] for c in (held.get("status") or {}).get("conditions") or []}
            if conditions.get("Established") != "True":
                raise NotYet(f"{name} not Established")
            return held

        wait_for(f"CRD {name}", established, timeout=60, interval=0.2)


def dry_run(api_client: client.ApiClient, doc: Doc, namespace: str) -> ApiException | None:
    group, _, version = doc["apiVersion"].rpartition("/")
    body = copy.deepcopy(doc)
    body["metadata"]["namespace"] = namespace
    try:
        client.CustomObjectsApi(api_client).create_namespaced_custom_object(
            group, version, namespace, PLURALS[doc["kind"]], body, dry_run="All", field_validation="Strict"
        )
    except ApiException as exc:
        if exc.status in (429, 500, 503):
            raise
        return exc
    return None


def _generated(documents: list[Any], authz: Any) -> tuple[list[Doc], set[str]]:
    conv, _ = convert(documents, options=Options(authz=authz))
    return [g.data for g in conv.generated], {f.code for f in conv.findings()}


def _accepted(api_client: client.ApiClient, docs: list[Doc], namespace: str) -> int:
    checked = 0
    for doc in docs:
        if doc["kind"] in PLURALS and doc["apiVersion"].split("/")[0] in (
            "gateway.networking.k8s.io",
            "security.istio.io",
        ):
            refused = dry_run(api_client, doc, namespace)
            assert refused is None, (message(refused), doc)
            checked += 1
    return checked


@pytest.mark.parametrize("authz", ["istio", "linkerd"])
def test_the_bookstore_converts_to_objects_the_api_server_accepts(
    api_client: client.ApiClient, conversion_crds: None, namespace: str, authz: str
) -> None:
    loaded = load_paths([str(REPO / "examples" / "bookstore")])
    docs, codes = _generated(loaded.documents, authz)
    assert not {c for c in codes if c in ("GW101", "GW109", "GW301")}, codes
    assert _accepted(api_client, docs, namespace) == (
        6 if authz == "istio" else 1
    )  # 1 HTTPRoute (+ 5 AuthorizationPolicies)


def test_the_spec_examples_convert_to_objects_the_api_server_accepts(
    api_client: client.ApiClient, conversion_crds: None, namespace: str, smi_spec_dir: Path
) -> None:
    examples = smi_spec_dir / "examples"
    loaded = load_paths([str(examples)])
    services = []
    for doc in loaded.documents:  # the examples name Services they do not define: give each a port
        data = doc.data
        if (
            isinstance(data, dict)
            and data.get("kind") == "TrafficSplit"
            and isinstance(data.get("spec"), dict)
        ):
            ns = (data.get("metadata") or {}).get("namespace", "default")
            names = [data["spec"].get("service", "")] + [
                b.get("service", "") for b in data["spec"].get("backends") or []
            ]
            services += [
                {"apiVersion": "v1", "kind": "Service",
                 "metadata": {"name": n.split(".")[0], "namespace": ns},
                 "spec": {"ports": [{"port": 80}]}}
                for n in names if isinstance(n, str) and n
            ]  # fmt: skip
    context = load_text(yaml.safe_dump_all(services), "services.yaml").documents
    conv, _ = convert(loaded.documents, context, Options(authz="istio"))
    docs = [g.data for g in conv.generated]
    assert _accepted(api_client, docs, namespace) >= 5


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=split_cases())
def test_generated_splits_convert_to_routes_the_api_server_accepts(
    api_client: client.ApiClient, conversion_crds: None, namespace: str, case: SplitCase
) -> None:
    docs, _ = _generated(load_text(case.yaml()).documents, None)
    assert _accepted(api_client, docs, namespace) == len(docs)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=access_cases())
def test_generated_targets_convert_to_istio_policies_the_api_server_accepts(
    api_client: client.ApiClient, conversion_crds: None, namespace: str, case: AccessCase
) -> None:
    docs, _ = _generated(load_text(case.yaml()).documents, "istio")
    assert _accepted(api_client, docs, namespace) == len(docs)


def _split(backends: list[tuple[str, int]], matches: int = 0) -> str:
    spec: Doc = {"service": "web", "backends": [{"service": s, "weight": w} for s, w in backends]}
    docs: list[Doc] = [{"apiVersion": "split.smi-spec.io/v1alpha4", "kind": "TrafficSplit",
                        "metadata": {"name": "s", "namespace": "ns"}, "spec": spec}]  # fmt: skip
    if matches:
        spec["matches"] = [{"kind": "HTTPRouteGroup", "name": "g"}]
        docs.append({"apiVersion": "specs.smi-spec.io/v1alpha4", "kind": "HTTPRouteGroup",
                     "metadata": {"name": "g", "namespace": "ns"},
                     "spec": {"matches": [{"name": f"m{i}", "pathRegex": f"/p{i}$"}
                                         for i in range(matches)]}})  # fmt: skip
    names = {"web", *(s for s, _ in backends)}
    docs += [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": n, "namespace": "ns"},
              "spec": {"ports": [{"port": 80}]}} for n in sorted(names)]  # fmt: skip
    return yaml.safe_dump_all(docs)


@pytest.mark.parametrize(
    ("case", "grow"),
    [
        (
            "17 backends",
            lambda: (_split([(f"b{i}", 1) for i in range(16)]), _split([(f"b{i}", 1) for i in range(17)])),
        ),
        ("65 matches in a rule", lambda: (_split([("b", 1)], 64), _split([("b", 1)], 65))),
    ],
)
def test_what_the_api_server_refuses_the_converter_reported_first(
    api_client: client.ApiClient, conversion_crds: None, namespace: str, case: str, grow: Any
) -> None:
    within, beyond = grow()
    docs, codes = _generated(load_text(within).documents, None)
    assert _accepted(api_client, docs, namespace) == 1  # at the limit: generated and accepted
    refused, codes = _generated(load_text(beyond).documents, None)
    assert refused == [] and "GW109" in codes  # past it: reported, nothing generated...
    route = copy.deepcopy(docs[0])  # ...and the API server agrees: the same route grown past it is refused
    rule = route["spec"]["rules"][0]
    if case == "17 backends":
        rule["backendRefs"].append({"name": "b16", "port": 80, "weight": 1})
    else:
        rule["matches"].append({"path": {"type": "Exact", "value": "/p64"}})
    refusal = dry_run(api_client, route, namespace)
    assert refusal is not None and refusal.status == 422, case


def test_weights_beyond_the_range_are_refused_as_written_and_accepted_as_converted(
    api_client: client.ApiClient, conversion_crds: None, namespace: str
) -> None:
    docs, codes = _generated(load_text(_split([("a", 2_000_000), ("b", 1_000_000)])).documents, None)
    assert docs[0]["spec"]["rules"][0]["backendRefs"][0]["weight"] == 2 and "GW104" not in codes
    assert _accepted(api_client, docs, namespace) == 1
    raw = copy.deepcopy(docs[0])
    raw["spec"]["rules"][0]["backendRefs"][0]["weight"] = 2_000_000  # copied as written: refused
    assert dry_run(api_client, raw, namespace) is not None
