"""schemas/: checked-in files match the models, CRDs are structural, JSON Schemas agree with the models."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_strategies import MUTATIONS, Generated, documents, node_at
from spec_examples import DOC_BUGS, example_objects

from smi_conformance import models
from smi_conformance.schema import drift, generate, json_schema
from smi_conformance.schema.crd import crds, structural_schema
from smi_conformance.schema.structural import check_crd

REPO_ROOT = Path(__file__).resolve().parents[2]
KINDS = models.kinds()


def test_checked_in_schemas_match_the_models() -> None:
    problems = drift(REPO_ROOT / "schemas")
    assert problems == [], "schemas/ is out of date; run `make schemas`:\n" + "\n".join(problems)


def test_drift_is_detected(tmp_path: Path) -> None:
    for relative, text in generate().items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text, encoding="utf-8")
    assert drift(tmp_path) == []
    crd = tmp_path / "crds" / "split.smi-spec.io_trafficsplits.yaml"
    crd.write_text(crd.read_text().replace("minimum: 0", "minimum: 1"))
    (tmp_path / "json" / "split.smi-spec.io" / "trafficsplit_v1alpha4.json").unlink()
    (tmp_path / "json" / "split.smi-spec.io" / "trafficsplit_v9.json").write_text("{}")
    assert drift(tmp_path) == [
        "changed: crds/split.smi-spec.io_trafficsplits.yaml",
        "missing: json/split.smi-spec.io/trafficsplit_v1alpha4.json",
        "stale: json/split.smi-spec.io/trafficsplit_v9.json",
    ]


def test_every_kind_and_version_has_a_json_schema_and_every_crd_kind_a_crd() -> None:
    files = generate()
    for info in KINDS:
        assert f"json/{info.group}/{info.kind.lower()}_{info.version}.json" in files
        jsonschema.Draft202012Validator.check_schema(json_schema(info))
    described = {
        (c["spec"]["group"], c["spec"]["names"]["kind"], v["name"])
        for c in crds().values()
        for v in c["spec"]["versions"]
    }
    expected = {
        (i.group, i.kind, i.version) for i in KINDS if i.api == "crd" and not i.version.startswith("v1alpha5")
    }
    assert described == expected
    assert not any("metrics" in path for path in files if path.startswith("crds/"))


@pytest.mark.parametrize("path", sorted(crds()))
def test_generated_crds_are_structural_and_consistent(path: str) -> None:
    crd = crds()[path]
    assert check_crd(crd) == []
    versions = crd["spec"]["versions"]
    storage = [v for v in versions if v["storage"]]
    assert len(storage) == 1 and storage[0]["served"]
    # Without a conversion webhook only versions with the same schema may be served together.
    shapes = {yaml.safe_dump(_without_descriptions(v["schema"])) for v in versions if v["served"]}
    assert len(shapes) == 1, f"{path}: served versions differ in schema"
    for version in versions:
        info = models.lookup(f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])
        assert info is not None
        if info.status == "experimental":
            assert not version["served"] or path.startswith("experimental/")
        if version["served"] and not version["storage"]:
            assert version["deprecated"] and "smi convert" in version["deprecationWarning"]


def _without_descriptions(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_descriptions(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [_without_descriptions(v) for v in node]
    return node


def test_released_storage_versions_and_what_is_served() -> None:
    served = {
        c["spec"]["names"]["kind"]: sorted(v["name"] for v in c["spec"]["versions"] if v["served"])
        for c in crds().values()
    }
    assert served == {
        "TrafficSplit": ["v1alpha3", "v1alpha4"],
        "TrafficTarget": ["v1alpha3"],
        "IdentityBinding": ["v1alpha4"],
        "HTTPRouteGroup": ["v1alpha3", "v1alpha4"],
        "TCPRoute": ["v1alpha4"],
        "UDPRoute": ["v1alpha4"],
    }


def _crd(**changes: Any) -> dict[str, Any]:
    crd = copy.deepcopy(crds()["specs.smi-spec.io_udproutes.yaml"])
    version = crd["spec"]["versions"][0]
    for key, value in changes.items():
        if key == "schema":
            version["schema"]["openAPIV3Schema"] = value
        else:
            version[key] = value
    return crd


_OK_ROOT = {
    "type": "object",
    "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}},
}


@pytest.mark.parametrize(
    ("crd", "error"),
    [
        (_crd(schema={"properties": {"spec": {"type": "object"}}}), "root must have type: object"),
        (
            _crd(schema={"type": "object", "properties": {"spec": {"properties": {}}}}),
            "every node needs a type",
        ),
        (
            _crd(schema={"type": "object", "properties": {"spec": {"$ref": "#/x"}}}),
            "unsupported keyword '$ref'",
        ),
        (_crd(schema={"type": "object", "properties": {"a": {"type": "string", "const": "x"}}}), "'const'"),
        (_crd(schema={**_OK_ROOT, "additionalProperties": False}), "additionalProperties: false"),
        (
            _crd(
                schema={
                    "type": "object",
                    "properties": {"a": {"type": "array", "items": {"type": "string"}, "uniqueItems": True}},
                }
            ),
            "uniqueItems",
        ),
        (
            _crd(
                schema={
                    "type": "object",
                    "properties": {
                        "a": {"type": "object", "properties": {}, "additionalProperties": {"type": "string"}}
                    },
                }
            ),
            "mutually exclusive",
        ),
        (
            _crd(
                schema={
                    "type": "object",
                    "properties": {"a": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                }
            ),
            "'type' is not allowed inside",
        ),
        (
            _crd(
                schema={
                    "type": "object",
                    "properties": {"a": {"type": "object", "anyOf": [{"properties": {"b": {}}}]}},
                }
            ),
            "must also be specified outside",
        ),
        (
            _crd(
                schema={
                    "type": "object",
                    "properties": {
                        "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}
                    },
                }
            ),
            "metadata",
        ),
        (_crd(schema={"type": "object", "required": ["spec"], "properties": {}}), "required names fields"),
        (
            _crd(
                schema={
                    "type": "object",
                    "properties": {"q": {"x-kubernetes-int-or-string": True, "type": "string"}},
                }
            ),
            "must not set a type",
        ),
        (_crd(storage=False), "exactly one version must be the storage version"),
        (_crd(served=False), "at least one version must be served"),
        (_crd(deprecationWarning="old"), "deprecationWarning may only be set"),
        (_crd(name="V1"), "DNS-1035"),
    ],
)
def test_the_structural_checker_catches_what_the_api_server_refuses(crd: dict[str, Any], error: str) -> None:
    errors = check_crd(crd)
    assert any(error in e for e in errors), errors


def test_the_structural_checker_accepts_the_official_crds(smi_spec_dir: Path) -> None:
    for path in sorted((smi_spec_dir / "crds").glob("*/*.yaml")):
        for crd in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if crd:
                assert check_crd(crd) == [], path.name


# ---- the JSON Schemas and CRD schemas agree with the models ----


@cache
def _validator(api_version: str, kind: str) -> jsonschema.Draft202012Validator:
    info = models.lookup(api_version, kind)
    assert info is not None
    return jsonschema.Draft202012Validator(json_schema(info))


@cache
def _crd_validator(api_version: str, kind: str) -> jsonschema.Draft202012Validator:
    info = models.lookup(api_version, kind)
    assert info is not None
    return jsonschema.Draft202012Validator(structural_schema(info))


def _listed_headers(node: Any) -> bool:
    if isinstance(node, dict):
        return isinstance(node.get("headers"), list) or any(_listed_headers(v) for v in node.values())
    return isinstance(node, list) and any(_listed_headers(v) for v in node)


def _json_valid(doc: dict[str, Any]) -> bool:
    return _validator(doc["apiVersion"], doc["kind"]).is_valid(doc)


@pytest.mark.parametrize("info", KINDS, ids=lambda i: f"{i.kind}-{i.version}")
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_json_schema_and_model_agree(info: models.KindInfo, data: st.DataObject) -> None:
    generated: Generated = data.draw(documents(info))
    doc = generated.doc
    assert _json_valid(doc), list(_validator(info.api_version, info.kind).iter_errors(doc))[:3]
    if info.api == "crd" and not info.version.startswith("v1alpha5"):
        # CRDs describe headers in map form only (see smi_conformance.schema.crd)
        assert _crd_validator(info.api_version, info.kind).is_valid(doc) is not _listed_headers(doc)
    broken = copy.deepcopy(doc)
    mutation = data.draw(st.sampled_from(MUTATIONS), label="mutation")
    where = mutation(data, generated, broken)
    if where is None or (where[1] != "missing-field" and node_at(broken, where[0]) is None):
        return  # no mutation, or null where JSON Schema (like an API server) reads null as "absent"
    assert models.validate(broken) != []
    assert not _json_valid(broken), f"JSON Schema accepts what the model rejects: {models.validate(broken)}"


def test_json_schemas_agree_on_the_spec_examples(smi_spec_dir: Path) -> None:
    for example in example_objects(smi_spec_dir / "examples"):
        doc, valid = example.doc, example.key not in DOC_BUGS
        assert _json_valid(doc) is valid, example.where
        if valid and not example.version.startswith("v1alpha5"):
            assert _crd_validator(doc["apiVersion"], example.kind).is_valid(doc), example.where
