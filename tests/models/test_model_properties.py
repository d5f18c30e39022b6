"""Property tests: generated valid documents round-trip unchanged; mutated ones are rejected where broken."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_strategies import Generated, documents

from smi_conformance import models

KINDS = models.kinds()
_SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
Path = tuple[str | int, ...]


def _ids(info: models.KindInfo) -> str:
    return f"{info.kind}-{info.version}"


def _node(doc: dict[str, Any], path: Path) -> Any:
    node: Any = doc
    for seg in path:
        node = node[seg]
    return node


@pytest.mark.parametrize("info", KINDS, ids=_ids)
@_SETTINGS
@given(data=st.data())
def test_valid_documents_round_trip_through_yaml_and_json(info: models.KindInfo, data: st.DataObject) -> None:
    generated: Generated = data.draw(documents(info))
    doc = generated.doc
    assert models.validate(doc) == [], [str(p) for p in models.validate(doc)]
    model = models.load(doc)
    dumped = models.dump(model)
    assert list(dumped)[:2] == ["apiVersion", "kind"]
    text = yaml.dump(dumped, Dumper=yaml.CSafeDumper, sort_keys=False)
    again = models.load(yaml.load(text, Loader=yaml.CSafeLoader))
    assert again == model
    assert models.dump(again) == dumped
    assert models.load(json.loads(json.dumps(dumped))) == model


def _unknown_field(data: st.DataObject, generated: Generated, doc: dict[str, Any]) -> tuple[Path, str] | None:
    where = data.draw(st.sampled_from(sorted(generated.objects, key=str)), label="object")
    key = data.draw(st.sampled_from(["zzUnknown", "extra", "Spec", "name_"]), label="key")
    node = _node(doc, where)
    if key in node:
        return None
    node[key] = "x"
    return (*where, key), "unknown-field"


def _missing_field(data: st.DataObject, generated: Generated, doc: dict[str, Any]) -> tuple[Path, str] | None:
    candidates = [
        (*path, key)
        for path, keys in generated.required.items()
        for key in keys
        if (*path, key) not in (("apiVersion",), ("kind",))
    ]
    if not candidates:
        return None
    victim = data.draw(st.sampled_from(sorted(candidates, key=str)), label="required field")
    del _node(doc, victim[:-1])[victim[-1]]
    return victim, "missing-field"


def _wrong_type(data: st.DataObject, generated: Generated, doc: dict[str, Any]) -> tuple[Path, str] | None:
    leaves = {p: k for p, k in generated.leaves.items() if k in ("str", "int", "literal")}
    if not leaves:
        return None
    path = data.draw(st.sampled_from(sorted(leaves, key=str)), label="leaf")
    wrong = {"str": 12345, "int": "12", "literal": 7}[leaves[path]]
    _node(doc, path[:-1])[path[-1]] = data.draw(st.sampled_from([wrong, [wrong], True, None]), label="value")
    return path, "value" if leaves[path] == "literal" else "type"


def _bad_weight(data: st.DataObject, generated: Generated, doc: dict[str, Any]) -> tuple[Path, str] | None:
    if not generated.weights:
        return None
    path = data.draw(st.sampled_from(generated.weights), label="weight")
    quantities = doc["apiVersion"].endswith("/v1alpha1") and doc["kind"] == "TrafficSplit"
    bad = data.draw(st.sampled_from(["-1", -3] if quantities else [-1, 2.5, "7"]), label="bad weight")
    _node(doc, path[:-1])[path[-1]] = bad
    return path, "value" if bad in (-1, -3, "-1") else "type"


MUTATIONS = [_unknown_field, _missing_field, _wrong_type, _bad_weight]


@pytest.mark.parametrize("info", KINDS, ids=_ids)
@_SETTINGS
@given(data=st.data())
def test_a_mutated_document_is_rejected_where_it_was_broken(
    info: models.KindInfo, data: st.DataObject
) -> None:
    generated: Generated = data.draw(documents(info))
    doc = copy.deepcopy(generated.doc)
    mutation = data.draw(st.sampled_from(MUTATIONS), label="mutation")
    broken = mutation(data, generated, doc)
    if broken is None:
        return
    path, kind = broken
    problems = models.validate(doc)
    found = [(p.path, p.kind) for p in problems]
    if kind == "missing-field":
        assert (path, kind) in found, [str(p) for p in problems]
    else:
        # null for an optional field reads as "absent", as on an API server (so a null name is a missing one)
        if _node(doc, path[:-1])[path[-1]] is None and found in ([], [(path, "missing-field")]):
            return
        assert [p for p, _ in found] == [path], [str(p) for p in problems]
        expected = {kind, "type"} if kind == "value" else {kind}
        assert found[0][1] in expected, [str(p) for p in problems]
    for problem in problems:
        assert problem.message and "\n" not in problem.message
        assert "pydantic" not in problem.message.lower() and "Input should" not in problem.message
