"""Property tests: generated valid documents round-trip unchanged; mutated ones are rejected where broken."""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_strategies import MUTATIONS, Generated, documents, node_at

from smi_conformance import models

KINDS = models.kinds()
_SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
Path = tuple[str | int, ...]


def _ids(info: models.KindInfo) -> str:
    return f"{info.kind}-{info.version}"


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
        # null for an optional field reads as "absent", as on an API server: then the verdict is the one for
        # the document without the key; null for a required field is reported where it stands (below)
        if node_at(doc, path[:-1])[path[-1]] is None:
            without = copy.deepcopy(doc)
            del node_at(without, path[:-1])[path[-1]]
            if found == [(p.path, p.kind) for p in models.validate(without)]:
                return
        assert [p for p, _ in found] == [path], [str(p) for p in problems]
        expected = {kind, "type"} if kind == "value" else {kind}
        assert found[0][1] in expected, [str(p) for p in problems]
    for problem in problems:
        assert problem.message and "\n" not in problem.message
        assert "pydantic" not in problem.message.lower() and "Input should" not in problem.message
