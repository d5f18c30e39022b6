"""The linter's quick accept (models.quick_accept, schemas from schema/quick.py): it must never pass an object
the models refuse (that would hide a finding), and should pass most valid ones (else it is only cost)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_strategies import MUTATIONS, Generated, documents, node_at

from smi_conformance import models
from smi_conformance._yamlparse import NATIVE
from smi_conformance.manifests import load_text
from smi_conformance.models.quick_accept import SCHEMAS, QuickAccept, json_typed
from smi_conformance.schema.jsonschema import json_schema
from smi_conformance.schema.quick import quick, quick_drift, write_quick
from tests.lint.helpers import json_report_in_a_process, only_json_types, real_manifests

QUICK_KINDS = [info for info in models.kinds() if quick(info)]
CHECK = QuickAccept()


def assert_sound(doc: dict[str, Any], info: models.KindInfo) -> bool:
    """The property: quickly accepted means valid. Returns whether it was quickly accepted."""
    if not only_json_types(doc) or not CHECK.accepts(doc, info):
        return False
    assert models.validate(doc) == [], f"quick accept passed what the models refuse: {doc}"
    return True


def test_the_checked_in_quick_schemas_match_the_models(tmp_path: Path) -> None:
    assert quick_drift() == [], "run `make schemas`"
    copy = tmp_path / "quick_accept.json"
    assert quick_drift(copy) == [f"missing: {copy}"]
    assert write_quick(copy) and not write_quick(copy)
    assert quick_drift(copy) == []
    copy.write_text(copy.read_text().replace('\\"maxProperties\\": 32', '\\"maxProperties\\": 33'))
    assert quick_drift(copy) == [f"changed: {copy}"]
    assert set(json.loads(SCHEMAS.read_text())) == {f"{i.api_version} {i.kind}" for i in QUICK_KINDS}


# ---- hostile values: near every bound the models check, where the models check it ----

_LENGTHS = [0, 1, 2, 62, 63, 64, 252, 253, 254, 300]
_edge_text = st.one_of(
    st.text(alphabet="az09AZ-._/ \n\té~+", max_size=10),
    st.builds(lambda c, n: c * n, st.sampled_from(["a", "0", "-", ".", "A"]), st.sampled_from(_LENGTHS)),
    st.sampled_from(["9" * 30, "1e400", "1n", "0.0000000001", "+5", "-1", "500m", "1Ki", "web\n", "Web"]),
    st.builds(  # Quantities near the models' bounds
        lambda sign, digits, suffix: sign + digits + suffix,
        st.sampled_from(["", "+", "-"]),
        st.sampled_from(
            ["0", "1", "999999999", "9" * 10, "9" * 19, "1.5", ".5", "0.000000001", "0.0000000001"]
        ),
        st.sampled_from(["", "m", "n", "u", "k", "M", "G", "E", "Ki", "Mi", "Ei", "e3", "e-10", "\n"]),
    ),
)
_edge_key = st.one_of(  # label and annotation keys: an optional prefix and '/', then a name
    _edge_text,
    st.builds(
        lambda prefix, name, tail: "p" * prefix + "/" + "n" * name + tail,
        st.sampled_from(_LENGTHS),
        st.sampled_from([0, 1, 62, 63, 64]),
        st.sampled_from(["", "\n", "-", "."]),
    ),
)


def _nested(depth: int, as_map: bool) -> Any:
    node: Any = "leaf"
    for _ in range(depth):
        node = {"k": node} if as_map else [node]
    return node


_hostile = st.one_of(
    _edge_text,
    st.sampled_from([-(2**63), -1, 0, 1, 2**31, 2**63 - 1, True, False, None, [], {}]),
    st.lists(_edge_text, max_size=3),
    st.dictionaries(_edge_key, _edge_text, max_size=3),
)
_DEPTHS = [1, 2, 8, 9, 63, 64, 65, 70]
_opaque = st.one_of(_hostile, st.builds(_nested, st.sampled_from(_DEPTHS), st.booleans()))
_OPAQUE = ["uid", "resourceVersion", "generation", "creationTimestamp", "ownerReferences", "managedFields"]


def _leaf_change(data: st.DataObject, generated: Generated, doc: dict[str, Any]) -> None:
    """One typed leaf (a name, a weight, a port...) at a hostile value."""
    leaves = sorted({*generated.leaves, *generated.weights}, key=str)
    if leaves:
        path = data.draw(st.sampled_from(leaves), label="leaf")
        try:
            parent = node_at(doc, path[:-1])
        except (KeyError, IndexError, TypeError):  # a mutation took it away
            return
        parent[path[-1]] = data.draw(_hostile, label="value")


def _metadata_change(data: st.DataObject, generated: Generated, doc: dict[str, Any]) -> None:
    """Labels, annotations (near 256 KiB in total) and server-filled fields (near 64 levels deep)."""
    metadata = doc.get("metadata")
    if not isinstance(metadata, dict):
        return
    field = data.draw(st.sampled_from(["labels", "annotations", "opaque"]), label="field")
    if field == "labels":
        metadata["labels"] = data.draw(st.dictionaries(_edge_key, _edge_text, max_size=3), label="labels")
    elif field == "annotations":
        count = data.draw(st.sampled_from([1, 2, 31, 32, 33, 60]), label="count")
        size = data.draw(st.sampled_from([0, 1024, 1025, 4096, 8000, 9000]), label="size")
        key = data.draw(_edge_key, label="key")
        metadata["annotations"] = {f"{key}{i}": "é" * size for i in range(count)}
    else:
        name = data.draw(st.sampled_from(_OPAQUE), label="opaque field")
        metadata[name] = data.draw(_opaque, label="value")
        if data.draw(st.booleans(), label="status too"):
            doc["status"] = data.draw(_opaque, label="status")


def _headers_change(data: st.DataObject, generated: Generated, doc: dict[str, Any]) -> None:
    """An HTTP match's headers in list form, names repeated or not."""
    matches = [
        node
        for path, node in _objects(doc)
        if path[-2:-1] == ("matches",) and doc["kind"] == "HTTPRouteGroup"
    ]
    names = st.sampled_from(["x-a", "X-A", "x-b", "bad name", ""])
    headers = data.draw(st.lists(st.builds(lambda n: {n: ".*"}, names), max_size=3), label="headers")
    if matches:
        data.draw(st.sampled_from(matches), label="match")["headers"] = headers


def _objects(node: Any, path: tuple[str | int, ...] = ()) -> list[tuple[tuple[str | int, ...], Any]]:
    found = [(path, node)] if isinstance(node, dict) and path else []
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in children:
        found += _objects(value, (*path, key))
    return found


HOSTILE = [_leaf_change, _metadata_change, _headers_change]


@pytest.mark.parametrize("info", QUICK_KINDS, ids=lambda i: f"{i.kind}-{i.version}")
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_quickly_accepted_means_valid(info: models.KindInfo, data: st.DataObject) -> None:
    generated: Generated = data.draw(documents(info))
    doc = generated.doc
    assert_sound(doc, info)
    mutation = data.draw(st.sampled_from([*MUTATIONS, None]), label="mutation")
    if mutation is not None:
        mutation(data, generated, doc)
        assert_sound(doc, info)
    for change in data.draw(st.lists(st.sampled_from(HOSTILE), min_size=1, max_size=2), label="changes"):
        change(data, generated, doc)
        assert_sound(doc, info)


# ---- each way the quick schemas are stricter than the JSON Schemas is needed ----


def _split(**metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "split.smi-spec.io/v1alpha4",
        "kind": "TrafficSplit",
        "metadata": {"name": "web", **metadata},
        "spec": {"service": "web", "backends": [{"service": "web-v1", "weight": 1}]},
    }


def _routes(headers: Any) -> dict[str, Any]:
    return {
        "apiVersion": "specs.smi-spec.io/v1alpha4",
        "kind": "HTTPRouteGroup",
        "metadata": {"name": "r"},
        "spec": {"matches": [{"name": "m", "headers": headers}]},
    }


def _v1alpha1_split(weight: Any) -> dict[str, Any]:
    return {
        "apiVersion": "split.smi-spec.io/v1alpha1",
        "kind": "TrafficSplit",
        "metadata": {"name": "web"},
        "spec": {"service": "web", "backends": [{"service": "web-v1", "weight": weight}]},
    }


REFUSED_BY_THE_MODELS_ONLY = {
    "annotations over 256 KiB": _split(annotations={f"a{i}": "x" * 9000 for i in range(30)}),
    "opaque field nested 70 deep": _split(uid=_nested(70, as_map=True)),
    "label key prefix over 253 characters": _split(labels={"a" * 254 + "/x": "v"}),
    "a header listed twice": _routes([{"x-a": "1"}, {"x-a": "2"}]),
    "a Quantity past 2^63-1": _v1alpha1_split("9" * 30),
}


@pytest.mark.parametrize("doc", REFUSED_BY_THE_MODELS_ONLY.values(), ids=REFUSED_BY_THE_MODELS_ONLY.keys())
def test_what_json_schema_cannot_say_is_left_to_the_models(doc: dict[str, Any]) -> None:
    info = models.lookup(doc["apiVersion"], doc["kind"])
    assert info is not None
    assert models.validate(doc) != []
    assert jsonschema_rs.validator_for(json_schema(info)).is_valid(doc)  # the plain schema would pass it
    assert not CHECK.accepts(doc, info)


VALID_BUT_LEFT_TO_THE_MODELS = {
    "200 KiB of annotations": _split(annotations={f"a{i}": "x" * 5000 for i in range(40)}),
    "opaque field nested 20 deep": _split(uid=_nested(20, as_map=False)),
    "two headers in list form": _routes([{"x-a": "1"}, {"x-b": "2"}]),
    "a Quantity string past 9 digits": _v1alpha1_split("5000000000m"),
}


@pytest.mark.parametrize(
    "doc", VALID_BUT_LEFT_TO_THE_MODELS.values(), ids=VALID_BUT_LEFT_TO_THE_MODELS.keys()
)
def test_the_quick_check_is_stricter_only_where_it_must_be(doc: dict[str, Any]) -> None:
    info = models.lookup(doc["apiVersion"], doc["kind"])
    assert info is not None
    assert models.validate(doc) == []
    assert not CHECK.accepts(doc, info)
    shallow = {k: v for k, v in doc.items()}  # the same object without the one thing: quickly accepted
    shallow["metadata"] = {"name": doc["metadata"]["name"]}
    if doc["kind"] == "HTTPRouteGroup":
        shallow["spec"] = {"matches": [{"name": "m", "headers": [{"x-a": "1"}]}]}
    if doc["apiVersion"].endswith("v1alpha1"):
        shallow["spec"] = {"service": "web", "backends": [{"service": "web-v1", "weight": "500m"}]}
    assert CHECK.accepts(shallow, info)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3) | st.binary(max_size=2),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=2) | st.integers() | st.booleans() | st.none(), inner, max_size=3)
        | st.tuples(inner)
    ),
    max_leaves=12,
)


@given(json_values)
def test_json_typed_is_exact(data: Any) -> None:
    assert json_typed(data) is only_json_types(data)


def test_a_float_is_never_judged_quickly() -> None:
    """JSON Schema counts 5.0 as an integer, strict pydantic does not: the check looks at the types first."""
    doc = _split()
    doc["spec"]["backends"][0]["weight"] = 5.0
    info = models.lookup(doc["apiVersion"], doc["kind"])
    assert info is not None
    assert CHECK.accepts(doc, info, typed=True) and models.validate(doc) != []  # why the types are looked at
    assert not CHECK.accepts(doc, info) and not CHECK.accepts(doc, info, typed=False)
    if NATIVE is not None:  # the compiled reader tells while it reads
        text = "apiVersion: split.smi-spec.io/v1alpha4\nkind: TrafficSplit\nmetadata: {name: web}\n"
        (document,) = load_text(
            text + "spec: {service: web, backends: [{service: web-v1, weight: 5.0}]}\n"
        ).documents
        assert document.json_typed is False


# ---- real manifests ----


def test_real_manifests_sound_and_mostly_quick(smi_spec_dir: Path) -> None:
    """Every object of the spec's examples, the bundled ones and the rule cases: never quickly accepted when
    invalid; and most valid ones of the kinds it covers are (else it only costs time)."""
    valid = accepted = 0
    for text in real_manifests(smi_spec_dir):
        for document in load_text(text).documents:
            data = document.data
            info = models.lookup(data.get("apiVersion"), data.get("kind")) if isinstance(data, dict) else None
            if info is None or not quick(info) or not isinstance(data.get("apiVersion"), str):
                continue
            quickly = assert_sound(data, info)
            if models.validate(data) == []:
                valid += 1
                accepted += quickly
    assert valid > 100
    assert accepted == valid, (accepted, valid)  # 120 of 120 when written


@pytest.mark.parametrize("native", ["1", "0"], ids=["compiled-reader", "python-path"])
def test_smi_lint_reports_the_same_with_and_without_it(
    smi_spec_dir: Path, tmp_path: Path, native: str
) -> None:
    target = tmp_path / "all.yaml"
    target.write_text("\n---\n".join(real_manifests(smi_spec_dir)))
    reports = {
        switch: json_report_in_a_process(target, SMI_QUICK_ACCEPT=switch, SMI_YAML_NATIVE=native)
        for switch in ("1", "0")
    }
    assert reports["1"] == reports["0"]
    assert len(reports["1"]["findings"]) > 100


PROBE = """
import sys
from smi_conformance.lint import lint
result = lint([sys.argv[1]])
print(len(result.findings), "pydantic" in sys.modules)
"""


@pytest.mark.parametrize("native", ["1", "0"], ids=["compiled-reader", "python-path"])
@pytest.mark.parametrize("suffix", ["yaml", "json"])
@pytest.mark.parametrize(("weight", "expected"), [(10, "0 False"), (-10, "1 True"), (10.0, "1 True")])
def test_valid_input_never_imports_pydantic(
    tmp_path: Path, native: str, suffix: str, weight: float, expected: str
) -> None:
    """What it is for: a clean pre-commit run of the common kinds does without pydantic's start-up, whichever
    path reads the file."""
    backends = [{"service": "web-v1", "weight": 90}, {"service": "web-v2", "weight": weight}]
    split = {
        "apiVersion": "split.smi-spec.io/v1alpha4",
        "kind": "TrafficSplit",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"service": "web", "backends": backends},
    }
    target = tmp_path / f"split.{suffix}"
    target.write_text(json.dumps(split))  # JSON is YAML too
    env = {**os.environ, "SMI_YAML_NATIVE": native}
    run = subprocess.run(
        [sys.executable, "-c", PROBE, str(target)], capture_output=True, text=True, env=env, check=True
    )
    assert run.stdout.split("\n")[0] == expected
