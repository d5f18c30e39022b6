"""schemas/: checked-in files match the models, CRDs are structural, JSON Schemas agree with the models."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from crd_checker_cases import ACCEPTED, PITFALLS, REFUSED
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_strategies import MUTATIONS, Generated, documents, node_at
from spec_examples import DOC_BUGS, example_objects

from smi_conformance import models
from smi_conformance.schema import __main__ as schema_cli
from smi_conformance.schema import drift, generate, json_schema
from smi_conformance.schema.crd import crds, structural_schema
from smi_conformance.schema.structural import check_crd, check_crd_pitfalls

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


def test_the_generate_and_check_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``make schemas`` (generate) writes what check then accepts; a hand edit makes check fail."""
    root = str(tmp_path / "schemas")
    assert schema_cli.main(["generate", "--root", root]) == 0
    assert "file(s) written or removed" in capsys.readouterr().out
    assert schema_cli.main(["check", "--root", root]) == 0
    crd = tmp_path / "schemas" / "crds" / "split.smi-spec.io_trafficsplits.yaml"
    crd.write_text(crd.read_text() + "# edited by hand\n")
    assert schema_cli.main(["check", "--root", root]) == 1
    assert "changed: crds/split.smi-spec.io_trafficsplits.yaml" in capsys.readouterr().err
    assert schema_cli.main(["generate", "--root", root]) == 0  # and generate repairs it
    assert schema_cli.main(["check", "--root", root]) == 0


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
    assert check_crd_pitfalls(crd) == []
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


def _case_ids(case: tuple[Any, ...]) -> str:
    return str(case[0])


# The same cases go to a real API server in tests/kind/test_smi_crds.py.
@pytest.mark.parametrize("case", REFUSED, ids=_case_ids)
def test_the_structural_checker_catches_what_the_api_server_refuses(
    case: tuple[str, dict[str, Any], str],
) -> None:
    _, crd, error = case
    errors = check_crd(crd)
    assert any(error in e for e in errors), errors


@pytest.mark.parametrize("case", PITFALLS, ids=_case_ids)
def test_the_checker_flags_what_the_api_server_takes_but_cannot_work(
    case: tuple[str, dict[str, Any], str],
) -> None:
    _, crd, error = case
    assert check_crd(crd) == []
    pitfalls = check_crd_pitfalls(crd)
    assert any(error in p for p in pitfalls), pitfalls


@pytest.mark.parametrize("case", ACCEPTED, ids=_case_ids)
def test_the_checker_passes_what_the_api_server_takes(case: tuple[str, dict[str, Any]]) -> None:
    _, crd = case
    assert check_crd(crd) == []
    assert check_crd_pitfalls(crd) == []


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
