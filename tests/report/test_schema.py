"""The ConformanceReport's JSON Schema: generated, described field by field, and agreeing with the model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from smi_conformance.report.model import ConformanceReport
from smi_conformance.report.writers import dump_json, dump_yaml
from smi_conformance.schema import drift, generate, report_json_schema

from .reports import BROKEN, REFERENCE, hostile_report, load

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO_ROOT / "schemas/json/conformance.smi-conformance.io/conformancereport_v1alpha1.json"


def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_the_schema_is_generated_with_the_others_and_checked_in() -> None:
    relative = SCHEMA_FILE.relative_to(REPO_ROOT / "schemas").as_posix()
    assert relative in generate()
    assert (
        json.loads(generate()[relative])["title"]
        == "ConformanceReport (conformance.smi-conformance.io/v1alpha1)"
    )
    assert drift(REPO_ROOT / "schemas") == []


def test_a_hand_edit_of_the_report_schema_is_drift(tmp_path: Path) -> None:
    for relative, text in generate().items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text, encoding="utf-8")
    edited = tmp_path / SCHEMA_FILE.relative_to(REPO_ROOT / "schemas")
    edited.write_text(edited.read_text().replace('"seed"', '"seeds"'), encoding="utf-8")
    assert drift(tmp_path) == [f"changed: {edited.relative_to(tmp_path).as_posix()}"]


def _properties(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = [(f"ConformanceReport.{k}", v) for k, v in schema["properties"].items()]
    for name, definition in schema["$defs"].items():
        found += [(f"{name}.{k}", v) for k, v in definition.get("properties", {}).items()]
    return found


def test_every_field_and_type_is_described() -> None:
    schema = report_json_schema()
    undescribed = [name for name, prop in _properties(schema) if len(prop.get("description", "")) < 10]
    assert undescribed == []
    assert all(d.get("description") for d in schema["$defs"].values() if d.get("type") == "object")
    assert len(_properties(schema)) >= 60  # every field of every class, not a sample


@pytest.mark.parametrize("path", [REFERENCE, BROKEN], ids=lambda p: p.stem)
def test_real_reports_validate_as_yaml_and_json(path: Path) -> None:
    report = load(path)
    validator = _validator()
    for text, parse in ((dump_yaml(report), yaml.safe_load), (dump_json(report), json.loads)):
        document = parse(text)
        assert list(validator.iter_errors(document)) == []
        assert ConformanceReport.model_validate(document) == report  # the round trip loses nothing


def test_hostile_text_still_validates() -> None:
    assert list(_validator().iter_errors(json.loads(dump_json(hostile_report())))) == []


@pytest.mark.parametrize(
    "where, value",
    [
        (("tests", 0, "outcome"), "flaky"),
        (("settings", "alpha"), 1.5),
        (("implementation", "unknownField"), "x"),
        (("apiVersion",), "conformance.smi-conformance.io/v1"),
        (("tests", 0, "checks", 0, "convergence", "probes"), "many"),
        (("profiles", 0, "result"), "certified"),
    ],
)
def test_schema_and_model_reject_the_same_broken_reports(where: tuple[Any, ...], value: Any) -> None:
    document = json.loads(dump_json(load(REFERENCE)))
    node = document
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    assert not _validator().is_valid(document)
    with pytest.raises(ValueError):
        ConformanceReport.model_validate(document)


def test_a_missing_required_field_is_rejected_by_both() -> None:
    document = json.loads(dump_json(load(REFERENCE)))
    del document["implementation"]
    errors = list(_validator().iter_errors(document))
    assert errors and "implementation" in errors[0].message
    with pytest.raises(ValueError, match="implementation"):
        ConformanceReport.model_validate(document)
