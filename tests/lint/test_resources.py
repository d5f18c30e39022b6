"""What rules read of objects: parts derived once per object (``resources.per_object``) follow the object's
data when the engine swaps it (letting the data go, reading it back), and keep no object alive."""

from __future__ import annotations

import gc
import weakref

from smi_conformance.lint.resources import Resource
from smi_conformance.lint.rules.split import backends
from smi_conformance.manifests import load_text

from .helpers import CLEAN


def _split() -> Resource:
    document = load_text(CLEAN).documents[0]
    return Resource(document, document.data["apiVersion"], document.data["kind"], document.data)


def _services(obj: Resource) -> list[str]:
    return [backend["service"] for _, backend in backends(obj)]


def test_parts_are_derived_once_per_object_and_data() -> None:
    split = _split()
    first = backends(split)
    assert _services(split) == ["web-v1", "web-v2"]
    assert backends(split) is first
    other = _split()  # equal data, another object: derived for it
    assert backends(other) == first and backends(other) is not first


def test_new_data_is_derived_again() -> None:
    split = _split()
    assert _services(split) == ["web-v1", "web-v2"]
    split.data = {**split.data, "spec": {"backends": [{"service": "web-v3", "weight": 1}]}}
    assert _services(split) == ["web-v3"]


def test_the_memo_keeps_no_object_alive() -> None:
    split = _split()
    backends(split)
    gone = weakref.ref(split)
    del split
    gc.collect()
    assert gone() is None
