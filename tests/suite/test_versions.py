"""Which API versions a test's objects are sent in, and the conversion to them: meshes that serve older
versions (Traefik Mesh: split v1alpha3, access v1alpha2, specs v1alpha3), conversions that would lose meaning,
groups a mesh does not serve at all."""

from __future__ import annotations

import copy
from collections.abc import Mapping

import pytest

from smi_conformance import models
from smi_conformance.mesh.adapter import MeshAdapter, MeshInfo
from smi_conformance.suite import manifests as m
from smi_conformance.suite.features import Feature
from smi_conformance.suite.registry import load_suite
from smi_conformance.suite.run import ConformanceRun
from smi_conformance.suite.settings import SuiteSettings
from smi_conformance.suite.topology import standard_topology
from smi_conformance.suite.versions import VersionError, choose_versions, groups_of, render

SPLIT, ACCESS, SPECS = "split.smi-spec.io", "access.smi-spec.io", "specs.smi-spec.io"
TRAEFIK_LIKE = {SPLIT: ["v1alpha3"], ACCESS: ["v1alpha2"], SPECS: ["v1alpha3"]}
EVERY = {
    SPLIT: ["v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4"],
    ACCESS: ["v1alpha1", "v1alpha2", "v1alpha3"],
    SPECS: ["v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4"],
}
T = standard_topology()


def test_the_newest_version_both_the_mesh_and_the_test_accept_is_chosen() -> None:
    assert choose_versions([SPLIT, ACCESS, SPECS], EVERY, {}) == {
        SPLIT: "v1alpha4",
        ACCESS: "v1alpha3",
        SPECS: "v1alpha4",
    }
    assert choose_versions([SPLIT], EVERY, {SPLIT: ("v1alpha1", "v1alpha2")}) == {SPLIT: "v1alpha2"}
    # the order a mesh lists its versions in does not matter; experimental versions are never chosen
    served = {SPLIT: ["v1alpha5", "v1alpha4", "v1alpha2", "v1alpha5-draft"]}
    assert choose_versions([SPLIT], served, {}) == {SPLIT: "v1alpha4"}
    assert choose_versions([SPLIT, ACCESS, SPECS], TRAEFIK_LIKE, {}) == {
        SPLIT: "v1alpha3",
        ACCESS: "v1alpha2",
        SPECS: "v1alpha3",
    }


def test_no_common_version_is_a_version_error_saying_what_each_side_has() -> None:
    with pytest.raises(VersionError) as err:
        choose_versions([SPECS], TRAEFIK_LIKE, {SPECS: ("v1alpha4",)})
    assert str(err.value) == f"the test needs {SPECS} in v1alpha4; the mesh serves v1alpha3"
    with pytest.raises(VersionError, match=rf"the test needs {SPLIT} in v1alpha1, .*; the mesh serves none"):
        choose_versions([SPLIT], {ACCESS: ["v1alpha3"]}, {})


def everything_a_test_writes() -> list[dict[str, object]]:
    return [
        *m.allow(T, "client-to-web", sources=["client", (T.other, "client")], destination="web", tcp=True),
        m.http_routes(
            T,
            "beta",
            [m.http_match("beta", path_regex="/books/[0-9]+", methods=["GET", "HEAD"], headers={"x-g": "b"})],
        ),
        m.split(T, "web-split", "web", {"web-v1": 50, "web-v2": 30, "web-v3": 20}, matches=["beta"]),
    ]


def test_traefik_like_mesh_gets_every_object_in_its_versions_with_the_same_meaning() -> None:
    docs = everything_a_test_writes()
    before = copy.deepcopy(docs)
    versions = choose_versions(groups_of(docs), TRAEFIK_LIKE, {})
    out = render(docs, versions)
    assert docs == before  # the test's own objects are not touched
    assert [d["apiVersion"] for d in out] == [
        f"{SPECS}/v1alpha3",
        f"{SPECS}/v1alpha3",
        f"{ACCESS}/v1alpha2",
        f"{SPECS}/v1alpha3",
        f"{SPLIT}/v1alpha3",
    ]
    for doc in out:
        assert models.validate(doc) == [], doc
    # converted back, each is the object the test wrote (a TCPRoute for every port has two spellings)
    for original, sent in zip(docs, out, strict=True):
        back = models.convert(sent, str(original["apiVersion"]))
        if original["kind"] == "TCPRoute":
            assert back.get("spec", {}).get("matches", {}).get("ports", []) == []
            back["spec"] = original["spec"]
        assert back == original
    assert out[-1]["spec"]["matches"] == [{"kind": "HTTPRouteGroup", "name": "beta"}]


def test_objects_already_in_the_chosen_version_are_sent_as_written() -> None:
    docs = everything_a_test_writes()
    assert render(docs, choose_versions(groups_of(docs), EVERY, {})) == docs


@pytest.mark.parametrize(
    ("doc", "versions", "says"),
    [
        (
            m.split(T, "canary", "web", {"web-v1": 1}, matches=["beta"]),
            {SPLIT: "v1alpha2"},
            "TrafficSplit canary cannot be written in split.smi-spec.io/v1alpha2",
        ),
        (
            m.tcp_route(T, "web-tcp", [9000]),
            {SPECS: "v1alpha3"},
            "TCPRoute web-tcp cannot be written in specs.smi-spec.io/v1alpha3",
        ),
        (
            m.traffic_target(
                T,
                "udp-client",
                destination="web",
                sources=["client"],
                rules=[{"kind": "UDPRoute", "name": "u"}],
            ),
            {ACCESS: "v1alpha2"},
            "TrafficTarget udp-client cannot be written in access.smi-spec.io/v1alpha2",
        ),
        (
            m.udp_route(T, "web-udp"),
            {SPECS: "v1alpha3"},
            "UDPRoute web-udp cannot be written in specs.smi-spec.io/v1alpha3",
        ),
    ],
    ids=["split-matches", "tcp-ports", "udp-rule", "udp-route-kind"],
)
def test_a_conversion_that_would_change_the_test_is_a_version_error_naming_the_object(
    doc: dict[str, object], versions: Mapping[str, str], says: str
) -> None:
    with pytest.raises(VersionError) as err:
        render([m.http_routes(T, "beta", [m.http_match("beta")]), doc], versions)
    assert str(err.value).startswith(says)


class ServesOldVersions(MeshAdapter):
    """A mesh that serves what Traefik Mesh serves and claims every feature."""

    def __init__(self, options: Mapping[str, str] | None = None):
        super().__init__(options)
        self.info = MeshInfo(
            name="traefik-like", api_versions=dict(TRAEFIK_LIKE), features=frozenset(Feature)
        )


def test_selection_for_a_mesh_serving_old_versions_runs_what_converts_and_says_why_not_for_the_rest() -> None:
    run = ConformanceRun(SuiteSettings(mesh="traefik-like"), adapter=ServesOldVersions())
    selections = {test.id: run.select(test) for test in load_suite().values()}
    split = selections["split-matches"]
    assert split.outcome == "run"
    assert split.versions == {SPLIT: "v1alpha3", ACCESS: "v1alpha2", SPECS: "v1alpha3"}
    assert {d["apiVersion"] for d in split.objects} <= {f"{g}/{v}" for g, v in split.versions.items()}
    quantity = selections["split-quantity-weights"]
    assert (quantity.outcome, quantity.reason) == (
        "not-supported",
        f"the test needs {SPLIT} in v1alpha1; the mesh serves v1alpha3",
    )
    assert selections["access-tcp-route-ports"].outcome == "not-supported"
    assert selections["access-udp-route"].outcome == "not-supported"
    for test_id, sel in selections.items():
        assert sel.outcome in ("run", "not-supported"), test_id
        if sel.outcome == "not-supported":
            assert sel.reason.startswith(
                ("the test needs", "TrafficSplit", "TCPRoute", "UDPRoute", "Traffic")
            ), (
                test_id,
                sel.reason,
            )
        for doc in sel.objects:
            assert models.validate(doc) == [], (test_id, doc)
