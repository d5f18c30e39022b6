"""Objects a test body applies or deletes in the middle of a test go in the versions its objects were sent in
(found certifying Traefik Mesh, which serves access v1alpha2 and split v1alpha3 only: the body's deletes, in
the latest versions, missed their objects, so "deleting a TrafficTarget denies again" failed a correct mesh,
and the cluster's refusal of an unserved version passed for the mesh's refusal of the content)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from smi_conformance.cluster.base import ApplyRefused
from smi_conformance.mesh.adapter import MeshInfo
from smi_conformance.suite import manifests as m
from smi_conformance.suite.context import TestContext
from smi_conformance.suite.settings import SuiteSettings

from .test_traffic_client import LoopbackCluster

OLD = MeshInfo(
    name="old versions",
    api_versions={
        "access.smi-spec.io": ["v1alpha2"],
        "specs.smi-spec.io": ["v1alpha3"],
        "split.smi-spec.io": ["v1alpha3"],
    },
)


class Recording(LoopbackCluster):
    """Serves the versions of OLD only, as an API server would: anything else is refused by version."""

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:9", echo=None)  # type: ignore[arg-type]
        self.applied: list[dict[str, Any]] = []
        self.deleted: list[dict[str, Any]] = []

    def _check(self, docs: Sequence[Mapping[str, Any]]) -> None:
        for doc in docs:
            group, _, version = doc["apiVersion"].partition("/")
            if version not in OLD.api_versions[group]:
                raise ApplyRefused([f"{doc['kind']}: the cluster does not serve {doc['apiVersion']}"])

    def apply(self, docs: Sequence[Mapping[str, Any]]) -> None:
        self._check(docs)
        self.applied += [dict(d) for d in docs]

    def delete(self, docs: Sequence[Mapping[str, Any]]) -> None:
        self._check(docs)
        self.deleted += [dict(d) for d in docs]


@pytest.fixture
def ctx() -> TestContext:
    context = TestContext(Recording(), OLD, SuiteSettings())
    context.versions = {"access.smi-spec.io": "v1alpha2", "specs.smi-spec.io": "v1alpha3"}
    return context


def test_a_body_applies_and_deletes_in_the_tests_versions(ctx: TestContext) -> None:
    t = ctx.topology
    target = m.allow(t, "later", sources=["client"], destination="web")
    split = m.split(t, "canary", "web", {"web-v1": 1, "web-v2": 1})
    assert {d["apiVersion"] for d in [*target, split]} >= {
        "access.smi-spec.io/v1alpha3",
        "split.smi-spec.io/v1alpha4",
    }
    ctx.apply([*target, split])
    ctx.delete(target)
    cluster = ctx.cluster
    assert isinstance(cluster, Recording)
    versions = {d["kind"]: d["apiVersion"] for d in cluster.applied}
    # access and specs as the test's objects; split (no object of the test) as the newest the mesh serves
    assert versions["TrafficTarget"] == "access.smi-spec.io/v1alpha2"
    assert versions["HTTPRouteGroup"] == "specs.smi-spec.io/v1alpha3"
    assert versions["TrafficSplit"] == "split.smi-spec.io/v1alpha3"
    assert {d["apiVersion"] for d in cluster.deleted} == {
        "access.smi-spec.io/v1alpha2",
        "specs.smi-spec.io/v1alpha3",
    }
    # and what the test deletes afterwards is what it applied
    assert ctx.applied == cluster.applied


def test_a_refusal_counts_only_for_what_the_mesh_could_read(ctx: TestContext) -> None:
    """apply_unless_refused passes a refusal: the objects reach the cluster in a version it serves, so a
    refusal is about their content."""
    t = ctx.topology
    assert ctx.apply_unless_refused(m.allow(t, "foreign", sources=["client"], destination="web"), "x") is True
    assert ctx.checks == []
