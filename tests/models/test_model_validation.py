"""Strictness and the shape of problems: paths from the document root, kinds, and messages people can read."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from smi_conformance import models
from smi_conformance.models.headers import Headers
from smi_conformance.models.problems import Problem


def split(version: str = "v1alpha4", **spec: Any) -> dict[str, Any]:
    body = {
        "service": "web",
        "backends": [{"service": "web-v1", "weight": 90}, {"service": "web-v2", "weight": 10}],
    }
    return {
        "apiVersion": f"split.smi-spec.io/{version}",
        "kind": "TrafficSplit",
        "metadata": {"name": "canary", "namespace": "shop"},
        "spec": {**body, **spec},
    }


def route_group(version: str = "v1alpha4", *matches: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": f"specs.smi-spec.io/{version}",
        "kind": "HTTPRouteGroup",
        "metadata": {"name": "routes"},
    }
    body = list(matches) or [{"name": "all", "pathRegex": ".*", "methods": ["*"]}]
    if version in ("v1alpha1", "v1alpha2"):
        doc["matches"] = body
    else:
        doc["spec"] = {"matches": body}
    return doc


def target(version: str = "v1alpha3", **spec: Any) -> dict[str, Any]:
    body = {
        "destination": {"kind": "ServiceAccount", "name": "api", "namespace": "shop"},
        "sources": [{"kind": "ServiceAccount", "name": "web", "namespace": "shop"}],
        "rules": [{"kind": "HTTPRouteGroup", "name": "routes", "matches": ["all"]}],
    }
    return {
        "apiVersion": f"access.smi-spec.io/{version}",
        "kind": "TrafficTarget",
        "metadata": {"name": "t"},
        "spec": {**body, **spec},
    }


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def test_a_valid_document_has_no_problems_and_loads_typed() -> None:
    assert models.validate(split()) == []
    model = models.load(split())
    assert type(model).__name__ == "TrafficSplitV1alpha4"
    assert model.spec.backends[0].weight == 90  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("weight", "kind"),
    [("10", "type"), (1.5, "type"), (10.0, "type"), (True, "type"), (None, "type"), (-1, "value")],
)
def test_weights_are_never_coerced(weight: object, kind: str) -> None:
    doc = split()
    doc["spec"]["backends"][0]["weight"] = weight
    problem = only(models.validate(doc))
    assert problem.path == ("spec", "backends", 0, "weight")
    assert problem.kind == kind
    assert problem.message.startswith("weight must be an integer >= 0")


def test_the_brief_example_message() -> None:
    doc = split()
    doc["spec"]["backends"][0]["weight"] = -1
    assert only(models.validate(doc)).message == "weight must be an integer >= 0, got -1"


def test_a_number_where_a_name_is_required_is_a_type_error() -> None:
    doc = split()
    doc["spec"]["service"] = 123
    problem = only(models.validate(doc))
    assert (problem.path, problem.kind) == (("spec", "service"), "type")
    assert "got 123" in problem.message


def test_unknown_fields_end_the_path_and_suggest_the_right_name() -> None:
    doc = route_group("v1alpha4", {"name": "a", "path_regex": "/x"})
    problem = only(models.validate(doc))
    assert problem.path == ("spec", "matches", 0, "path_regex")
    assert problem.kind == "unknown-field"
    assert "did you mean 'pathRegex'" in problem.message


def test_fields_of_another_version_are_unknown() -> None:
    problem = only(models.validate(split("v1alpha2", matches=[{"kind": "HTTPRouteGroup", "name": "ab"}])))
    assert (problem.path, problem.kind) == (("spec", "matches"), "unknown-field")
    doc = target("v1alpha3")
    doc["spec"]["destination"]["port"] = 8080
    assert only(models.validate(doc)).path == ("spec", "destination", "port")


def test_a_misplaced_field_says_where_it_belongs() -> None:
    doc = route_group("v1alpha4")
    doc["matches"] = doc.pop("spec")["matches"]
    problems = models.validate(doc)
    assert {(p.path, p.kind) for p in problems} == {
        (("spec",), "missing-field"),
        (("matches",), "unknown-field"),
    }
    unknown = next(p for p in problems if p.kind == "unknown-field")
    assert "belongs under 'spec'" in unknown.message


def test_missing_fields_name_the_missing_key() -> None:
    doc = split()
    del doc["spec"]["backends"][1]["weight"]
    problem = only(models.validate(doc))
    assert (problem.path, problem.kind) == (("spec", "backends", 1, "weight"), "missing-field")
    assert problem.message == "missing required field 'weight'"


def test_metadata_needs_a_name_or_generate_name() -> None:
    doc = split()
    del doc["metadata"]["name"]
    problem = only(models.validate(doc))
    assert (problem.path, problem.kind) == (("metadata", "name"), "missing-field")
    doc["metadata"]["generateName"] = "canary-"
    assert models.validate(doc) == []
    doc["metadata"]["generateName"] = "Canary-"
    assert only(models.validate(doc)).path == ("metadata", "generateName")


def test_server_filled_metadata_is_accepted_as_it_comes() -> None:
    doc = split()
    doc["metadata"].update(
        {
            "uid": "0b7c5b2e-2f4e-4c48-9d35-9f6f1c1f4e11",
            "resourceVersion": "123",
            "generation": 2,
            "creationTimestamp": None,
            "managedFields": [{"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:spec": {}}}],
            "finalizers": ["example.com/x"],
            "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "u"}],
            "selfLink": "/apis/split.smi-spec.io/v1alpha4/namespaces/shop/trafficsplits/canary",
        }
    )
    doc["status"] = {}  # CRDs with a status subresource return it
    assert models.validate(doc) == []
    assert list(models.dump(models.load(doc)))[-1] == "status"
    doc["metadata"]["lables"] = {}
    problem = only(models.validate(doc))
    assert problem.path == ("metadata", "lables") and "did you mean 'labels'" in problem.message


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        ("name", "canary.v2", True),
        ("name", "Canary", False),
        ("name", "a" * 253, True),
        ("name", "a" * 254, False),
        ("name", "-canary", False),
        ("namespace", "shop-1", True),
        ("namespace", "shop.1", False),
        ("namespace", "a" * 64, False),
    ],
)
def test_metadata_names_follow_kubernetes_formats(field: str, value: str, ok: bool) -> None:
    doc = split()
    doc["metadata"][field] = value
    problems = models.validate(doc)
    assert (problems == []) is ok
    if not ok:
        assert only(problems).path == ("metadata", field) and only(problems).kind == "format"


@pytest.mark.parametrize(
    ("labels", "path", "ok"),
    [
        ({"app.kubernetes.io/name": "web", "tier": ""}, None, True),
        ({"bad key": "x"}, ("metadata", "labels", "bad key"), False),
        ({"example.com/" + "a" * 64: "x"}, ("metadata", "labels", "example.com/" + "a" * 64), False),
        ({"UPPER.example.com/x": "x"}, ("metadata", "labels", "UPPER.example.com/x"), False),
        ({"app": "has space"}, ("metadata", "labels", "app"), False),
        ({"app": 2}, ("metadata", "labels", "app"), False),
        ({"app": "a" * 64}, ("metadata", "labels", "app"), False),
    ],
)
def test_labels_follow_kubernetes_formats(labels: dict[str, Any], path: tuple[str, ...], ok: bool) -> None:
    doc = split()
    doc["metadata"]["labels"] = labels
    problems = models.validate(doc)
    assert (problems == []) is ok
    if not ok:
        assert only(problems).path == path


def test_annotations_are_limited_to_256_kib() -> None:
    doc = split()
    doc["metadata"]["annotations"] = {"a": "x" * 200_000}
    assert models.validate(doc) == []
    doc["metadata"]["annotations"]["b"] = "x" * 100_000
    assert only(models.validate(doc)).path == ("metadata", "annotations")


def test_backends_are_service_names_and_the_root_may_be_a_dns_name() -> None:
    doc = split()
    doc["spec"]["backends"][0]["service"] = "1web"
    assert only(models.validate(doc)).path == ("spec", "backends", 0, "service")
    doc["spec"]["backends"][0]["service"] = "web.shop"
    assert only(models.validate(doc)).path == ("spec", "backends", 0, "service")
    for version in ("v1alpha1", "v1alpha2", "v1alpha4", "v1alpha5-draft"):
        root = split(version, service="web.shop.svc.cluster.local")
        if version == "v1alpha1":
            root["spec"]["backends"] = [{"service": "web-v1", "weight": "1"}]
        assert models.validate(root) == []
    problem = only(models.validate(split(service="Web")))
    assert problem.path == ("spec", "service") and "such as 'web'" in problem.message


def test_headers_accept_map_and_list_forms_and_normalise_to_a_map() -> None:
    as_map = route_group("v1alpha4", {"name": "ff", "headers": {"user-agent": ".*Firefox.*", "x-beta": "1"}})
    as_list = route_group(
        "v1alpha4", {"name": "ff", "headers": [{"user-agent": ".*Firefox.*"}, {"x-beta": "1"}]}
    )
    a, b = models.load(as_map), models.load(as_list)
    ha: Headers = a.spec.matches[0].headers  # type: ignore[attr-defined]
    hb: Headers = b.spec.matches[0].headers  # type: ignore[attr-defined]
    assert ha == hb == {"user-agent": ".*Firefox.*", "x-beta": "1"}
    assert isinstance(hb, dict) and hb.listed and not ha.listed
    # Dumping gives back the form the document used.
    assert models.dump(a)["spec"]["matches"][0]["headers"] == {"user-agent": ".*Firefox.*", "x-beta": "1"}
    assert models.dump(b)["spec"]["matches"][0]["headers"] == [{"user-agent": ".*Firefox.*"}, {"x-beta": "1"}]


@pytest.mark.parametrize(
    ("headers", "path", "kind"),
    [
        ([{"a": "1", "b": "2"}], ("headers", 0), "value"),
        ([{}], ("headers", 0), "value"),
        ([{"a": "1"}, {"a": "2"}], ("headers", 1, "a"), "value"),
        ({"bad header": "1"}, ("headers", "bad header"), "format"),
        ({"a": 1}, ("headers", "a"), "type"),
        ([{"a": 1}], ("headers", 0, "a"), "type"),
        ("user-agent: x", ("headers",), "type"),
    ],
)
def test_bad_headers_are_located(headers: object, path: tuple[str | int, ...], kind: str) -> None:
    problem = only(models.validate(route_group("v1alpha4", {"name": "m", "headers": headers})))
    assert problem.path == ("spec", "matches", 0, *path)
    assert problem.kind == kind


def test_regexes_are_not_judged_by_the_models() -> None:
    doc = route_group("v1alpha4", {"name": "m", "pathRegex": "([", "headers": {"cookie": "(?<=x)"}})
    assert models.validate(doc) == []


def test_v1alpha1_route_groups_have_no_headers() -> None:
    problem = only(models.validate(route_group("v1alpha1", {"name": "m", "headers": {"a": "b"}})))
    assert (problem.path, problem.kind) == (("matches", 0, "headers"), "unknown-field")


def test_methods_are_the_http_methods_or_star() -> None:
    problem = only(models.validate(route_group("v1alpha4", {"name": "m", "methods": ["GET", "get"]})))
    assert (problem.path, problem.kind) == (("spec", "matches", 0, "methods", 1), "value")
    assert "one of '*', 'GET'" in problem.message


@pytest.mark.parametrize(
    ("port", "ok"), [(1, True), (65535, True), (0, False), (65536, False), ("80", False)]
)
def test_route_ports_are_port_numbers(port: object, ok: bool) -> None:
    doc = {
        "apiVersion": "specs.smi-spec.io/v1alpha4",
        "kind": "TCPRoute",
        "metadata": {"name": "db"},
        "spec": {"matches": {"ports": [3306, port]}},
    }
    problems = models.validate(doc)
    assert (problems == []) is ok
    if not ok:
        assert only(problems).path == ("spec", "matches", "ports", 1)


def test_traffic_target_subjects_are_service_accounts_until_v1alpha4() -> None:
    doc = target("v1alpha3")
    doc["spec"]["sources"][0]["kind"] = "IdentityBinding"
    assert only(models.validate(doc)).path == ("spec", "sources", 0, "kind")
    doc["apiVersion"] = "access.smi-spec.io/v1alpha4"
    doc["spec"]["sources"][0]["group"] = "access.smi-spec.io"
    assert models.validate(doc) == []
    doc["spec"]["sources"][0]["group"] = ""
    problem = only(models.validate(doc))
    assert problem.path == ("spec", "sources", 0, "group") and problem.kind == "value"


def test_udp_rules_exist_from_access_v1alpha3() -> None:
    doc = target("v1alpha2", rules=[{"kind": "UDPRoute", "name": "dns"}])
    assert only(models.validate(doc)).path == ("spec", "rules", 0, "kind")
    assert models.validate(target("v1alpha3", rules=[{"kind": "UDPRoute", "name": "dns"}])) == []


def test_empty_sources_and_rules_are_left_to_the_linter() -> None:
    assert models.validate(target("v1alpha3", sources=[], rules=[])) == []


def test_identity_binding_needs_at_least_one_scheme() -> None:
    doc = {
        "apiVersion": "access.smi-spec.io/v1alpha4",
        "kind": "IdentityBinding",
        "metadata": {"name": "a"},
        "spec": {"schemes": {}},
    }
    problem = only(models.validate(doc))
    assert (problem.path, problem.kind) == (("spec", "schemes"), "value")
    doc["spec"]["schemes"] = {"spiffeIdentities": ["cluster.local/ns/default/sa/a"]}
    assert models.validate(doc) == []


def test_unknown_kinds_raise_lookup_error() -> None:
    for doc in ({"apiVersion": "v1", "kind": "Service"}, {"kind": "TrafficSplit"}, {}):
        with pytest.raises(LookupError):
            models.validate(doc)
        with pytest.raises(LookupError):
            models.load(doc)


def test_load_raises_with_every_problem() -> None:
    doc = split()
    doc["spec"]["backends"][0]["weight"] = "x"
    doc["spec"]["service"] = "Web"
    with pytest.raises(models.SMIValidationError) as caught:
        models.load(doc)
    assert len(caught.value.problems) == 2
    assert "spec.service" in str(caught.value) and "TrafficSplit" in str(caught.value)


class _ReadOnly(Mapping[str, Any]):
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        value = self._data[key]
        return _ReadOnly(value) if isinstance(value, dict) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def test_any_mapping_is_accepted() -> None:
    assert models.validate(_ReadOnly(split())) == []
    broken = split()
    broken["spec"]["backends"][0]["weight"] = -5
    assert only(models.validate(_ReadOnly(broken))).path == ("spec", "backends", 0, "weight")


def test_metrics_timestamps_accept_strings_and_yaml_datetimes() -> None:
    from datetime import datetime, timezone

    doc = {
        "apiVersion": "metrics.smi-spec.io/v1alpha1",
        "kind": "TrafficMetrics",
        "resource": {"kind": "Pod", "name": "p", "namespace": "n"},
        "timestamp": "2019-04-08T22:25:55Z",
        "window": "30s",
        "metrics": [
            {"name": "success_count", "value": 100},
            {"name": "p99_response_latency", "unit": "ms", "value": "10m"},
        ],
    }
    assert models.validate(doc) == []
    doc["timestamp"] = datetime(2019, 4, 8, 22, 25, 55, tzinfo=timezone.utc)
    assert models.validate(doc) == []
    assert models.dump(models.load(doc))["timestamp"] == "2019-04-08T22:25:55Z"
    for bad, kind in (("yesterday", "format"), (datetime(2019, 4, 8), "format"), (5, "type")):
        doc["timestamp"] = bad
        problem = only(models.validate(doc))
        assert (problem.path, problem.kind) == (("timestamp",), kind)
    doc["timestamp"] = "2019-04-08T22:25:55+02:00"
    doc["window"] = "thirty seconds"
    assert only(models.validate(doc)).path == ("window",)


def test_metrics_v1alpha2_edges_need_a_side() -> None:
    doc = {
        "apiVersion": "metrics.smi-spec.io/v1alpha2",
        "kind": "TrafficMetrics",
        "resource": {"kind": "Pod", "name": "p"},
        "edge": {"direction": "to", "resource": {}},
        "timestamp": "2019-04-08T22:25:55Z",
        "window": "30s",
        "metrics": [],
    }
    assert only(models.validate(doc)).path == ("edge", "side")
    doc["apiVersion"] = "metrics.smi-spec.io/v1alpha1"
    assert models.validate(doc) == []


def test_hostile_input_gets_problems_not_crashes() -> None:
    doc = split()
    doc["spec"]["backends"][0]["weight"] = 10**10000
    assert "about 10000 digits" in only(models.validate(doc)).message
    doc = split()
    doc["spec"][7] = "x"
    assert only(models.validate(doc)).message == "field names must be strings, got 7"
    doc = split()
    doc["spec"]["backends"] = [None, "x", 3]
    assert [p.path for p in models.validate(doc)] == [("spec", "backends", i) for i in range(3)]
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(10_000):
        node["a"] = {}
        node = node["a"]
    doc = split()
    doc["metadata"]["managedFields"] = [deep]
    assert only(models.validate(doc)).path == ("metadata", "managedFields")
    doc["metadata"]["managedFields"] = [{"manager": "kubectl", "fieldsV1": {"f:spec": {"f:backends": {}}}}]
    assert models.validate(doc) == []
    assert models.dump(models.load(doc))["metadata"]["managedFields"][0]["manager"] == "kubectl"
