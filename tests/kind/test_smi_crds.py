"""Our CRDs (schemas/crds/) on a real API server: they install, serve exactly the versions they should, and
the API server accepts and refuses SMI objects as the models do, except where docs/crd-differences.md says why
not. The structural checker (smi_conformance.schema.structural) is held to the API server's verdicts too.

Run with --kind (tests/kind/conftest.py); the fixture ``smi_crds`` installs the CRDs for this module (its
tests run in one process, tests/conftest.py: ONE_WORKER_MODULES).
Objects go in with ``fieldValidation=Strict`` (what kubectl sends): an unknown field is refused, not pruned.
"""

from __future__ import annotations

import copy
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes import client
from kubernetes.client.rest import ApiException

from smi_conformance import models

from .smi_crds import (
    Doc,
    as_sent,
    as_stored,
    crd_files,
    create,
    get,
    map_form,
    message,
    names_path,
    refusal,
    version_entries,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "models"))  # their helper modules, as pytest finds them there
from crd_checker_cases import ACCEPTED, PITFALLS, REFUSED  # noqa: E402
from model_strategies import MUTATIONS, Generated, documents, node_at  # noqa: E402
from spec_examples import DOC_BUGS, example_objects  # noqa: E402

pytestmark = pytest.mark.kind

DIFFERENCES = (REPO_ROOT / "docs" / "crd-differences.md").read_text(encoding="utf-8")
CRDS = crd_files()
Path_ = tuple[str | int, ...]


def _info(crd: Doc, version: Doc) -> models.KindInfo:
    info = models.lookup(f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])
    assert info is not None
    return info


SERVED = [_info(crd, v) for crd, v in version_entries(CRDS) if v["served"]]
UNSERVED = [_info(crd, v) for crd, v in version_entries(CRDS) if not v["served"]]
DEPRECATED = [
    (_info(crd, v), v["deprecationWarning"]) for crd, v in version_entries(CRDS) if v.get("deprecated")
]
STORAGE = {crd["spec"]["names"]["kind"]: _info(crd, v) for crd, v in version_entries(CRDS) if v["storage"]}


def _served(info: models.KindInfo) -> bool:
    return any(s.api_version == info.api_version and s.kind == info.kind for s in SERVED)


def _ids(info: models.KindInfo) -> str:
    return f"{info.kind}-{info.version}"


# ---- 1. the CRDs install ----


def test_every_crd_is_established_structural_and_kept_as_written(smi_crds: dict[str, Doc]) -> None:
    assert sorted(smi_crds) == sorted(c["metadata"]["name"] for c in CRDS)
    for crd in CRDS:
        held = smi_crds[crd["metadata"]["name"]]
        conditions = {c["type"]: c["status"] for c in held["status"]["conditions"]}
        assert conditions.get("Established") == "True" and conditions.get("NamesAccepted") == "True"
        assert "NonStructuralSchema" not in conditions, held["status"]["conditions"]
        # nothing we wrote was dropped or changed (an unknown keyword would have been refused: Strict)
        assert held["spec"] == crd["spec"], crd["metadata"]["name"]
        assert held["status"]["acceptedNames"] == crd["spec"]["names"]
        storage = [v["name"] for v in crd["spec"]["versions"] if v["storage"]]
        assert held["status"]["storedVersions"] == storage


def test_discovery_lists_the_served_versions_in_category_smi(
    api_client: client.ApiClient, smi_crds: dict[str, Doc]
) -> None:
    custom = client.CustomObjectsApi(api_client)
    for info in SERVED:
        resources = {r.name: r for r in custom.get_api_resources(info.group, info.version).resources}
        assert info.plural in resources, f"{info.api_version} does not list {info.plural}"
        assert resources[info.plural].categories == ["smi"]  # `kubectl get smi`
        assert resources[info.plural].namespaced


# ---- 2. what the models accept, the API server stores unchanged ----


def _in(doc: Doc, namespace: str) -> Doc:
    """``doc`` placed in ``namespace`` (some examples name their own)."""
    doc = copy.deepcopy(doc)
    doc["metadata"] = {**doc.get("metadata", {}), "namespace": namespace}
    return doc


def _store_and_read_back(api_client: client.ApiClient, doc: Doc, namespace: str) -> None:
    """Create ``doc`` for real, read it back through the same version, compare, delete it."""
    info = models.lookup(doc["apiVersion"], doc["kind"])
    assert info is not None
    doc = _in(doc, namespace)
    created, _ = create(api_client, doc, namespace, dry_run=False)
    try:
        assert as_stored(created) == as_sent(doc, namespace)
        read, _ = get(api_client, doc["apiVersion"], doc["kind"], namespace, doc["metadata"]["name"])
        assert as_stored(read) == as_sent(doc, namespace)
    finally:
        custom = client.CustomObjectsApi(api_client)
        group, version = doc["apiVersion"].split("/")
        custom.delete_namespaced_custom_object(
            group, version, namespace, info.plural, doc["metadata"]["name"]
        )


def _crd_form(api_client: client.ApiClient, doc: Doc, namespace: str) -> Doc:
    """``doc`` in the form our CRDs take. The models also take header filters in list form and a ``status``;
    the API server refuses both, as docs/crd-differences.md says. Then the document without them counts."""
    sendable: Doc = map_form(doc)
    sendable.pop("status", None)
    variants = []
    if sendable.get("spec") != doc.get("spec"):
        variants.append(({**sendable, "spec": doc["spec"]}, ".headers", "ours describes the map"))
    if "status" in doc:  # even `status: null`: an unknown field, though its value would be pruned
        variants.append(({**sendable, "status": doc["status"]}, '"status"', "the CRDs define no status"))
    for variant, field, phrase in variants:
        refused = refusal(api_client, variant, namespace)
        assert refused is not None and field in message(refused), f"{field} was not refused"
        assert phrase in DIFFERENCES
    return sendable


def test_every_spec_example_the_models_accept_is_stored_unchanged(
    api_client: client.ApiClient, smi_crds: dict[str, Doc], namespace: str, smi_spec_dir: Path
) -> None:
    """Each SMI object of the spec docs, at the version its doc implies; one at a version our CRDs do not
    serve goes in as `smi convert` upgrades it, which is what a user of these CRDs has to do."""
    tally: Counter[str] = Counter()
    for example in example_objects(smi_spec_dir / "examples"):
        doc, where = example.doc, example.where
        info = models.lookup(doc["apiVersion"], example.kind)
        assert info is not None
        if info.api != "crd":
            continue  # TrafficMetrics: an aggregated API
        problems = models.validate(doc)
        if problems:  # the docs' own mistakes
            assert example.key in DOC_BUGS, f"{where}: {[str(p) for p in problems]}"
            if _served(info):
                refused = refusal(api_client, _in(doc, namespace), namespace)
                assert refused is not None, f"{where}: the API server takes what the models refuse"
                assert any(names_path(message(refused), p.path) for p in problems), (where, message(refused))
                tally["refused by both"] += 1
            continue
        if not _served(info):  # superseded, experimental or draft
            try:
                doc = models.convert(doc, info.latest)
            except models.ConversionError:
                tally["no served version can hold it"] += 1
                continue
            tally["converted"] += 1
        doc = _crd_form(api_client, doc, namespace)
        try:
            _store_and_read_back(api_client, doc, namespace)
        except ApiException as exc:
            pytest.fail(f"{where}: refused by the API server: {message(exc)}")
        tally["stored unchanged"] += 1
    # access v1alpha1/v1alpha2 targets with a destination port, v1alpha4 ones with IdentityBinding subjects
    assert tally["no served version can hold it"] == 8, tally
    assert tally["refused by both"] == 2 and tally["stored unchanged"] >= 85, tally


def _generated(data: st.DataObject, info: models.KindInfo, namespace: str) -> Generated:
    generated: Generated = data.draw(documents(info))
    if "namespace" in generated.doc["metadata"]:
        generated.doc["metadata"]["namespace"] = namespace
    return generated


@pytest.mark.parametrize("info", SERVED, ids=_ids)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_generated_objects_are_kept_unchanged_and_broken_ones_refused_where_broken(
    info: models.KindInfo,
    data: st.DataObject,
    api_client: client.ApiClient,
    smi_crds: dict[str, Doc],
    namespace: str,
) -> None:
    generated = _generated(data, info, namespace)
    doc = _crd_form(api_client, generated.doc, namespace)
    stored, _ = create(api_client, doc, namespace)  # dry-run: generated names may repeat
    assert as_stored(stored) == as_sent(doc, namespace)

    broken = copy.deepcopy(doc)
    mutation = data.draw(st.sampled_from(MUTATIONS), label="mutation")
    where = mutation(data, generated, broken)
    if where is None:
        return
    path, _ = where
    problems = models.validate(broken)
    refused = refusal(api_client, broken, namespace)
    if not problems:  # null for an optional field: "absent" to the models and the API server alike
        assert refused is None, message(refused)
        return
    if refused is None:
        gap = _null_map_value(generated, broken, path)
        assert gap, f"the API server takes what the models refuse: {[str(p) for p in problems]}"
        assert gap in DIFFERENCES
        return
    assert refused.status in (400, 422), message(refused)
    assert any(names_path(message(refused), p.path) for p in problems), (
        [str(p) for p in problems],
        message(refused),
    )


def _null_map_value(generated: Generated, broken: Doc, path: Path_) -> str | None:
    """The docs' phrase for a null entry in a map (labels, annotations, matchLabels), if that is what ``path``
    holds: the models refuse it; the API server drops it or stores it as ''."""
    if node_at(broken, path) is None and path[:-1] not in generated.objects:
        return "A null map entry"
    return None


# ---- 3. what the models refuse, the API server refuses at the same field ----

BASE: dict[str, Doc] = {
    "TrafficSplit": {
        "service": "web",
        "backends": [{"service": "web-v1", "weight": 90}, {"service": "web-v2", "weight": 10}],
        "matches": [{"kind": "HTTPRouteGroup", "name": "canary"}],
    },
    "TrafficTarget": {
        "destination": {"kind": "ServiceAccount", "name": "api", "namespace": "shop"},
        "sources": [{"kind": "ServiceAccount", "name": "web", "namespace": "shop"}],
        "rules": [{"kind": "HTTPRouteGroup", "name": "routes", "matches": ["api"]}],
    },
    "HTTPRouteGroup": {
        "matches": [
            {
                "name": "api",
                "pathRegex": "/api/.*",
                "methods": ["GET"],
                "headers": {"user-agent": ".*Firefox.*"},
            }
        ]
    },
    "TCPRoute": {"matches": {"name": "db", "ports": [5432]}},
    "UDPRoute": {"matches": {"name": "dns", "ports": [53]}},
    "IdentityBinding": {
        "schemes": {
            "podLabelSelector": {"matchLabels": {"app": "api", "tier": "backend"}},
            "serviceAccount": "api",
            "spiffeIdentities": ["spiffe://cluster.local/ns/shop/sa/api"],
        }
    },
}
_DELETE = object()


def _object(kind: str, change: Path_ = (), value: Any = _DELETE, version: str | None = None) -> Doc:
    """A valid object of ``kind`` (at its storage version unless ``version``); ``value`` put at ``change``."""
    info = STORAGE[kind]
    doc: Doc = {
        "apiVersion": f"{info.group}/{version or info.version}",
        "kind": kind,
        "metadata": {"name": "sample", "labels": {"app": "shop"}},
        "spec": copy.deepcopy(BASE[kind]),
    }
    if change:
        parent = node_at(doc, change[:-1])
        if value is _DELETE:
            del parent[change[-1]]
        else:
            parent[change[-1]] = value
    return doc


# (id, the object, where the models and the API server must both say it is broken)
INVALID: list[tuple[str, Doc, Path_]] = [
    (case, _object(kind, path, value, *version), path)
    for case, kind, path, value, *version in [
        ("weight-string", "TrafficSplit", ("spec", "backends", 0, "weight"), "10"),
        ("weight-negative", "TrafficSplit", ("spec", "backends", 1, "weight"), -1),
        ("weight-fraction", "TrafficSplit", ("spec", "backends", 0, "weight"), 2.5),
        ("weight-missing", "TrafficSplit", ("spec", "backends", 0, "weight"), _DELETE),
        (
            "weight-negative-deprecated-version",
            "TrafficSplit",
            ("spec", "backends", 0, "weight"),
            -1,
            "v1alpha3",
        ),
        ("split-root-missing", "TrafficSplit", ("spec", "service"), _DELETE),
        ("split-spec-missing", "TrafficSplit", ("spec",), _DELETE),
        ("backend-not-a-service-name", "TrafficSplit", ("spec", "backends", 0, "service"), "Web_v2"),
        ("backend-unknown-field", "TrafficSplit", ("spec", "backends", 0, "port"), 8080),
        ("split-match-kind", "TrafficSplit", ("spec", "matches", 0, "kind"), "TCPRoute"),
        ("split-match-api-group", "TrafficSplit", ("spec", "matches", 0, "apiGroup"), "split.smi-spec.io"),
        ("target-destination-kind", "TrafficTarget", ("spec", "destination", "kind"), "User"),
        ("target-destination-missing", "TrafficTarget", ("spec", "destination"), _DELETE),
        ("target-destination-port", "TrafficTarget", ("spec", "destination", "port"), 8080),
        ("target-source-name-type", "TrafficTarget", ("spec", "sources", 0, "name"), 123),
        ("target-source-namespace", "TrafficTarget", ("spec", "sources", 0, "namespace"), "Shop"),
        ("target-rule-kind", "TrafficTarget", ("spec", "rules", 0, "kind"), "Ingress"),
        ("target-rule-match-empty", "TrafficTarget", ("spec", "rules", 0, "matches", 0), ""),
        ("route-method", "HTTPRouteGroup", ("spec", "matches", 0, "methods", 0), "get"),
        ("route-match-name-missing", "HTTPRouteGroup", ("spec", "matches", 0, "name"), _DELETE),
        ("route-match-name-empty", "HTTPRouteGroup", ("spec", "matches", 0, "name"), ""),
        ("route-path-regex-type", "HTTPRouteGroup", ("spec", "matches", 0, "pathRegex"), 5),
        ("route-header-value-type", "HTTPRouteGroup", ("spec", "matches", 0, "headers", "user-agent"), 5),
        ("route-matches-missing", "HTTPRouteGroup", ("spec", "matches"), _DELETE),
        ("route-unknown-field", "HTTPRouteGroup", ("spec", "matches", 0, "pathregex"), "/api"),
        ("tcp-port-zero", "TCPRoute", ("spec", "matches", "ports", 0), 0),
        ("tcp-port-too-high", "TCPRoute", ("spec", "matches", "ports", 0), 65536),
        ("tcp-port-string", "TCPRoute", ("spec", "matches", "ports", 0), "5432"),
        ("tcp-ports-missing", "TCPRoute", ("spec", "matches", "ports"), _DELETE),
        ("udp-port-negative", "UDPRoute", ("spec", "matches", "ports", 0), -53),
        ("udp-match-name-type", "UDPRoute", ("spec", "matches", "name"), ["dns"]),
        ("binding-no-scheme", "IdentityBinding", ("spec", "schemes"), {}),
        (
            "binding-empty-selector",
            "IdentityBinding",
            ("spec", "schemes", "podLabelSelector", "matchLabels"),
            {},
        ),
        (
            "binding-label-value",
            "IdentityBinding",
            ("spec", "schemes", "podLabelSelector", "matchLabels", "app"),
            "not a label value",
        ),
        ("binding-no-spiffe-ids", "IdentityBinding", ("spec", "schemes", "spiffeIdentities"), []),
        ("binding-empty-spiffe-id", "IdentityBinding", ("spec", "schemes", "spiffeIdentities", 0), ""),
        ("binding-service-account", "IdentityBinding", ("spec", "schemes", "serviceAccount"), "API"),
        ("name-not-dns", "TCPRoute", ("metadata", "name"), "Bad_Name"),
        ("label-value", "UDPRoute", ("metadata", "labels", "app"), "no spaces allowed"),
        ("label-value-type", "UDPRoute", ("metadata", "labels", "app"), 7),
        ("metadata-unknown-field", "TrafficSplit", ("metadata", "labelz"), {"app": "shop"}),
        ("root-unknown-field", "TrafficTarget", ("sepc",), {}),
    ]
]


@pytest.mark.parametrize(("case", "doc", "path"), INVALID, ids=[c[0] for c in INVALID])
def test_what_the_models_refuse_the_api_server_refuses_at_the_same_field(
    api_client: client.ApiClient, smi_crds: dict[str, Doc], namespace: str, case: str, doc: Doc, path: Path_
) -> None:
    problems = models.validate(doc)
    assert path in [p.path for p in problems], [str(p) for p in problems]
    refused = refusal(api_client, doc, namespace)
    assert refused is not None, f"the API server takes it; the models say {[str(p) for p in problems]}"
    assert refused.status in (
        400,
        422,
    )  # 422 Invalid; 400 for a strict decoding error (unknown field, JSON type)
    assert names_path(message(refused), path), message(refused)


# (id, the object, where the models refuse it, what the API server keeps there (_DELETE: nothing), the
# phrase in docs/crd-differences.md that explains why the CRDs cannot say it)
NOT_EXPRESSIBLE: list[tuple[str, Doc, Path_, Any, str]] = [
    (
        "header-name",
        _object("HTTPRouteGroup", ("spec", "matches", 0, "headers", "user agent"), ".*"),
        ("spec", "matches", 0, "headers", "user agent"),
        ".*",
        "Header names and label keys",
    ),
    (
        "match-labels-key",
        _object("IdentityBinding", ("spec", "schemes", "podLabelSelector", "matchLabels", "-app"), "x"),
        ("spec", "schemes", "podLabelSelector", "matchLabels", "-app"),
        "x",
        "Header names and label keys",
    ),
    (
        "header-value-null",
        _object("HTTPRouteGroup", ("spec", "matches", 0, "headers", "user-agent"), None),
        ("spec", "matches", 0, "headers", "user-agent"),
        _DELETE,
        "A null map entry",
    ),
    (
        "match-labels-value-null",
        _object("IdentityBinding", ("spec", "schemes", "podLabelSelector", "matchLabels", "tier"), None),
        ("spec", "schemes", "podLabelSelector", "matchLabels", "tier"),
        _DELETE,
        "A null map entry",
    ),
    (
        "label-value-null",
        _object("TCPRoute", ("metadata", "labels", "app"), None),
        ("metadata", "labels", "app"),
        "",
        "A null map entry",
    ),
    (
        "weight-whole-float",
        _object("TrafficSplit", ("spec", "backends", 0, "weight"), 90.0),
        ("spec", "backends", 0, "weight"),
        90,
        "A whole number written as a float",
    ),
    (
        "port-whole-float",
        _object("UDPRoute", ("spec", "matches", "ports", 0), 53.0),
        ("spec", "matches", "ports", 0),
        53,
        "A whole number written as a float",
    ),
]


@pytest.mark.parametrize(
    ("case", "doc", "path", "kept", "phrase"), NOT_EXPRESSIBLE, ids=[c[0] for c in NOT_EXPRESSIBLE]
)
def test_what_the_crds_cannot_refuse_is_listed_in_the_docs(
    api_client: client.ApiClient,
    smi_crds: dict[str, Doc],
    namespace: str,
    case: str,
    doc: Doc,
    path: Path_,
    kept: Any,
    phrase: str,
) -> None:
    problems = models.validate(doc)
    assert [p.path for p in problems] == [path], [str(p) for p in problems]
    try:
        stored, _ = create(api_client, doc, namespace)
    except ApiException as exc:
        pytest.fail(f"the API server now refuses it ({message(exc)}): move the case to INVALID, fix the docs")
    if kept is _DELETE:
        assert path[-1] not in node_at(stored, path[:-1])
    else:
        assert node_at(stored, path) == kept
    assert phrase in DIFFERENCES, f"docs/crd-differences.md does not explain {case!r} ({phrase!r})"


# ---- 4. unserved versions are not there; deprecated ones warn ----


def test_versions_the_crds_define_but_do_not_serve_are_not_found(
    api_client: client.ApiClient, smi_crds: dict[str, Doc], namespace: str
) -> None:
    custom = client.CustomObjectsApi(api_client)
    assert UNSERVED, "every CRD version is served?"
    for info in UNSERVED:
        with pytest.raises(ApiException) as listed:
            custom.list_namespaced_custom_object(info.group, info.version, namespace, info.plural)
        assert listed.value.status == 404, info.api_version
        doc = _object(info.kind)
        doc["apiVersion"] = info.api_version
        refused = refusal(api_client, doc, namespace)
        assert refused is not None and refused.status == 404, info.api_version
        try:
            resources = custom.get_api_resources(info.group, info.version).resources
        except ApiException as exc:
            assert exc.status == 404
            continue
        assert info.plural not in {r.name for r in resources}, f"{info.api_version} lists {info.plural}"


@pytest.mark.parametrize(("info", "warning"), DEPRECATED, ids=[_ids(i) for i, _ in DEPRECATED])
def test_deprecated_versions_warn_and_share_the_storage_version_schema(
    api_client: client.ApiClient,
    smi_crds: dict[str, Doc],
    namespace: str,
    info: models.KindInfo,
    warning: str,
) -> None:
    assert "smi convert --to" in warning
    storage = STORAGE[info.kind]
    doc = _object(info.kind, version=info.version)
    created, warned = create(api_client, doc, namespace, dry_run=False)
    assert warned == [warning]
    _, warned = get(api_client, info.api_version, info.kind, namespace, "sample")
    assert warned == [warning]
    # the same object through the storage version: only apiVersion differs (conversion strategy None)
    read, warned = get(api_client, storage.api_version, info.kind, namespace, "sample")
    assert warned == []
    assert read["apiVersion"] == storage.api_version
    assert {**as_stored(read), "apiVersion": info.api_version} == as_stored(created)
    other = {**doc, "apiVersion": storage.api_version, "metadata": {"name": "sample-2"}}
    _, warned = create(api_client, other, namespace)
    assert warned == []


# ---- 5. the structural checker says what the API server says ----


def _renamed(crd: Doc) -> Doc:
    """``crd`` in a group of its own, so it can be sent beside ours (dry-run: nothing is installed)."""
    crd = copy.deepcopy(crd)
    crd["spec"]["group"] = re.sub(r"smi-spec\.io$", "checker.smi-test.example.com", crd["spec"]["group"])
    crd["metadata"]["name"] = f"{crd['spec']['names']['plural']}.{crd['spec']['group']}"
    return crd


def _crd_refusal(api_client: client.ApiClient, crd: Doc) -> ApiException | None:
    try:
        client.CustomObjectsApi(api_client).create_cluster_custom_object(
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            _renamed(crd),
            dry_run="All",
            field_validation="Strict",
        )
    except ApiException as exc:
        return exc
    return None


@pytest.mark.parametrize("case", REFUSED, ids=[c[0] for c in REFUSED])
def test_the_api_server_refuses_what_the_checker_refuses(
    api_client: client.ApiClient, case: tuple[str, Doc, str]
) -> None:
    _, crd, checker_says = case
    refused = _crd_refusal(api_client, crd)
    assert refused is not None, f"the API server takes a CRD the checker refuses ({checker_says})"
    assert refused.status in (400, 422), message(refused)


_TAKEN = [(case, crd) for case, crd, _ in PITFALLS] + ACCEPTED


@pytest.mark.parametrize(("case", "crd"), _TAKEN, ids=[c[0] for c in _TAKEN])
def test_the_api_server_takes_what_the_checker_takes(
    api_client: client.ApiClient, case: str, crd: Doc
) -> None:
    refused = _crd_refusal(api_client, crd)
    assert refused is None, message(refused)


def test_the_api_server_takes_the_official_crds(api_client: client.ApiClient, smi_spec_dir: Path) -> None:
    sent = 0
    for path in sorted((smi_spec_dir / "crds").glob("*/*.yaml")):
        for crd in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if crd:
                refused = _crd_refusal(api_client, crd)
                assert refused is None, f"{path.parent.name}/{path.name}: {message(refused)}"
                sent += 1
    assert sent == 11
