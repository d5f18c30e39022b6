"""Declarative adapter files: the shipped ones load and their claims decide which tests run; broken files are
refused with file:line:column before anything runs; steps run with the run's cluster in their environment."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from smi_conformance.cluster.base import ClusterError
from smi_conformance.cluster.kubeapi import Resource
from smi_conformance.mesh.adapter import AdapterError
from smi_conformance.mesh.declarative import DeclarativeAdapter, load_adapter_file
from smi_conformance.mesh.kubernetes import KubeAccess
from smi_conformance.mesh.loader import bundled, load_adapter
from smi_conformance.suite.registry import load_suite
from smi_conformance.suite.run import ConformanceRun
from smi_conformance.suite.settings import SuiteSettings
from smi_conformance.suite.topology import standard_topology

REPO = Path(__file__).resolve().parents[2]
SPLITS = {
    "split-two-backends",
    "split-three-backends",
    "split-zero-weight",
    "split-canary-sequence",
    "split-delete-restores-service",
    "split-root-dns-name",
}
NAMESPACED_ACCESS = {
    "access-source-namespace",
    "access-cross-namespace-source",
    "access-destination-namespace",
    "access-no-foreign-grants",
}
BASIC_ACCESS = {
    "access-deny-by-default",
    "access-listed-source-allowed",
    "access-delete-denies-again",
    "access-empty-target-allows-nothing",
}
HTTP_RULES = {"access-http-methods", "access-http-path-regex", "access-targets-add-up"}

#: mesh -> (the tests its documented claims run, the versions split-two-backends or the first test runs in)
EXPECTED: dict[str, tuple[set[str], dict[str, str]]] = {
    # no TrafficTarget: splits run without the grants (Linkerd lets meshed traffic through), v1alpha1 too
    "linkerd": (SPLITS | {"split-quantity-weights"}, {"split.smi-spec.io": "v1alpha2"}),
    "open-service-mesh": (
        SPLITS | BASIC_ACCESS | HTTP_RULES | NAMESPACED_ACCESS | {"access-http-headers", "access-tcp-route"},
        {"split.smi-spec.io": "v1alpha2", "access.smi-spec.io": "v1alpha3", "specs.smi-spec.io": "v1alpha4"},
    ),
    "traefik-mesh": (
        SPLITS | BASIC_ACCESS | HTTP_RULES | NAMESPACED_ACCESS | {"access-http-headers", "split-matches"},
        {"split.smi-spec.io": "v1alpha3", "access.smi-spec.io": "v1alpha2", "specs.smi-spec.io": "v1alpha3"},
    ),
    # intentions between services: connection-level TrafficTargets only, no splits
    "consul": (BASIC_ACCESS, {"access.smi-spec.io": "v1alpha1", "specs.smi-spec.io": "v1alpha1"}),
}


def _selection(mesh: str) -> dict[str, tuple[str, dict[str, str], str]]:
    run = ConformanceRun(SuiteSettings(mesh=mesh))
    out = {}
    for test in load_suite().values():
        sel = run.select(test)
        out[test.id] = (sel.outcome, sel.versions, sel.reason)
    return out


def test_the_four_meshes_are_shipped() -> None:
    assert set(bundled()) == set(EXPECTED)


#: Shipped adapters CI installs and runs the suite against (tests/kind/test_traefik_mesh.py).
VERIFIED = {"traefik-mesh"}


@pytest.mark.parametrize("mesh", sorted(EXPECTED))
def test_a_shipped_adapter_loads_and_says_whether_it_is_verified(mesh: str) -> None:
    adapter = load_adapter(mesh)
    assert isinstance(adapter, DeclarativeAdapter)
    assert adapter.info.verified is (mesh in VERIFIED)
    assert ("not verified here" in adapter.info.notes.lower()) is (mesh not in VERIFIED)
    assert adapter.spec.spec.sources, "the claims must say which docs they come from"
    assert adapter.spec.spec.kubernetes.install and adapter.spec.spec.kubernetes.uninstall
    # the same file by path
    assert load_adapter(str(bundled()[mesh])).info == adapter.info


@pytest.mark.parametrize("mesh", sorted(EXPECTED))
def test_the_claims_decide_which_tests_run(mesh: str) -> None:
    expected, versions = EXPECTED[mesh]
    selection = _selection(mesh)
    runs = {t for t, (outcome, _, _) in selection.items() if outcome == "run"}
    assert runs == expected
    for test_id, (outcome, _, reason) in selection.items():
        if outcome != "run":
            assert outcome == "not-supported", (test_id, reason)
            assert "does not claim" in reason or "serves" in reason, (test_id, reason)
    first = "split-two-backends" if "split-two-backends" in runs else sorted(runs)[0]
    assert selection[first][1] == {k: v for k, v in versions.items() if k in selection[first][1]}
    assert set(selection[first][1]) <= set(versions)


def test_changing_a_claim_changes_the_selection(tmp_path: Path) -> None:
    """Nothing above is a fixed list: claim access control in a copy of the Linkerd file and the access tests
    run, in the version claimed; the splits then carry their grants again."""
    data = yaml.safe_load(bundled()["linkerd"].read_text())
    data["spec"]["mesh"]["features"] += ["TrafficTarget"]
    data["spec"]["mesh"]["apiVersions"]["access.smi-spec.io"] = ["v1alpha2"]
    data["spec"]["mesh"]["apiVersions"]["specs.smi-spec.io"] = ["v1alpha3"]
    copy = tmp_path / "linkerd-with-policy.yaml"
    copy.write_text(yaml.safe_dump(data))
    selection = _selection(str(copy))
    assert selection["access-deny-by-default"][:2] == ("run", {"access.smi-spec.io": "v1alpha2"})
    assert selection["split-two-backends"][1] == {
        "access.smi-spec.io": "v1alpha2",
        "specs.smi-spec.io": "v1alpha3",
        "split.smi-spec.io": "v1alpha2",
    }
    assert selection["access-http-methods"][0] == "not-supported"


def test_without_access_control_the_grants_are_left_out_and_the_splits_kept() -> None:
    run = ConformanceRun(SuiteSettings(mesh="linkerd"))
    suite = load_suite()
    kinds = [o["kind"] for o in run.select(suite["split-two-backends"]).objects]
    assert kinds == ["TrafficSplit"]
    # split-matches keeps the HTTPRouteGroup its split refers to (and is not-supported for its matches)
    assert "TrafficSplitMatches" in run.select(suite["split-matches"]).reason
    from smi_conformance.suite.run import without_grants

    objects = suite["split-matches"].objects
    assert objects is not None
    kept = without_grants(objects(standard_topology()))
    assert sorted(o["kind"] for o in kept) == ["HTTPRouteGroup", "TrafficSplit"]


def test_the_docs_say_which_shipped_adapters_are_verified_here() -> None:
    text = (REPO / "docs" / "conformance" / "README.md").read_text()
    assert "not verified here" in text.lower()
    for mesh in EXPECTED:
        assert f"`{mesh}`" in text, mesh
    for mesh in VERIFIED:
        assert f"../certification/{mesh}/README.md" in text, mesh


# -------------------------------------------------------------------------------------------- bad files
GOOD = """\
apiVersion: conformance.smi-conformance.io/v1alpha1
kind: MeshAdapter
metadata:
  name: demo
spec:
  mesh:
    name: Demo
    apiVersions:
      split.smi-spec.io: [v1alpha2]
    features: [TrafficSplit]
  kubernetes:
    install:
      - run: echo install
    uninstall:
      - run: echo uninstall
"""
BROKEN = [
    # (change, where the message must point, words it must have)
    (("    features: [TrafficSplit]", "    features: [TrafficSplt]"), ":10:16", "TrafficSplt"),
    (("    name: Demo", "    name: Demo\n    colour: blue"), ":8:", "colour"),
    (
        ("      - run: echo install", "      - run: echo install\n        apply: x.yaml"),
        ":13:9",
        "exactly one",
    ),
    (("  kubernetes:\n", "  kubernetes:\n    serviceHost: ${SERVICE}.${ZONE}\n"), ":12:18", "ZONE"),
    (("      split.smi-spec.io: [v1alpha2]", "      spilt.smi-spec.io: [v1alpha2]"), ":9:", "spilt"),
    (("kind: MeshAdapter", "kind: MeshAdaptor"), ":2:7", "MeshAdapter"),
    (("    install:\n      - run: echo install\n", "    install: []\n"), ":12:14", "at least 1"),
    (("metadata:\n", "metadata: [\n"), ":", "expected"),
]


def test_a_good_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(GOOD)
    assert load_adapter_file(path).info.name == "Demo"


@pytest.mark.parametrize(("change", "where", "words"), BROKEN)
def test_a_broken_file_is_refused_with_its_location(
    tmp_path: Path, change: tuple[str, str], where: str, words: str
) -> None:
    assert change[0] in GOOD
    path = tmp_path / "demo.yaml"
    path.write_text(GOOD.replace(*change))
    with pytest.raises(AdapterError) as caught:
        load_adapter(str(path))
    message = str(caught.value)
    assert f"{path}{where}" in message, message
    assert words in message
    assert "Traceback" not in message


def test_two_documents_and_missing_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(GOOD + "---\n" + GOOD)
    with pytest.raises(AdapterError, match="one document, found 2"):
        load_adapter_file(path)
    with pytest.raises(AdapterError, match="cannot read mesh adapter file"):
        load_adapter(str(tmp_path / "missing.yaml"))
    with pytest.raises(AdapterError, match="takes no --smi-mesh-option"):
        load_adapter(str(bundled()["linkerd"]), {"x": "1"})


def test_missing_tools_are_named_before_anything_starts(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(GOOD.replace("  kubernetes:\n", "  kubernetes:\n    tools: [bash, no-such-mesh-cli]\n"))
    with pytest.raises(AdapterError) as caught:
        ConformanceRun(SuiteSettings(mesh=str(path), cluster="kind"))
    assert f"{path}:12:12" in str(caught.value)
    assert "needs no-such-mesh-cli on PATH" in str(caught.value)


# ------------------------------------------------------------------------------------------------ steps
def _access(tmp_path: Path) -> KubeAccess:
    """Run steps use the environment only; the API is not touched by them."""
    return KubeAccess(
        api=None,  # type: ignore[arg-type]
        objects=None,  # type: ignore[arg-type]
        kubeconfig=tmp_path / "kubeconfig",
        context="kind-demo",
        image="smi-conformance/mesh:abc",
    )


def test_steps_run_with_the_runs_cluster_and_the_built_images(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(
        GOOD.replace(
            "  kubernetes:\n",
            "  kubernetes:\n"
            "    build:\n"
            "      - {name: proxy, run: 'echo building >&2; echo demo/proxy:1'}\n"
            "    images: ['${IMAGE_PROXY}']\n"
            "    enrol:\n"
            "      run:\n"
            '        - run: echo "$NAMESPACE $KUBE_CONTEXT" >> enrolled.txt\n'
            "      podAnnotations: {mesh/service: '${APP}', mesh/pod: '${WORKLOAD}'}\n"
            "      clientAnnotations: {mesh/skip: '${DRIVER_PORT}'}\n"
            "    serviceHost: ${SERVICE}.${NAMESPACE}.demo.mesh\n",
        ).replace(
            "      - run: echo install",
            "      - run: >-\n"
            '          echo "$KUBECONFIG $KUBE_CONTEXT $SUITE_IMAGE $IMAGE_PROXY $ADAPTER_DIR"\n'
            "          > installed.txt\n"
            "      - {run: exit 3, ignoreErrors: true}",
        )
    )
    support = load_adapter_file(path).kubernetes()
    assert support.images() == ["demo/proxy:1"]
    kube = _access(tmp_path)
    support.install(kube)
    assert (tmp_path / "installed.txt").read_text().split() == [
        str(tmp_path / "kubeconfig"),
        "kind-demo",
        "smi-conformance/mesh:abc",
        "demo/proxy:1",
        str(tmp_path),
    ]
    support.enrol(kube, "smi-conformance-other")
    assert (tmp_path / "enrolled.txt").read_text() == "smi-conformance-other kind-demo\n"
    topology = standard_topology()
    web = support.pod(topology.workload("web-v2"), 8000)
    assert dict(web.annotations) == {"mesh/service": "web", "mesh/pod": "web-v2"}
    client = support.pod(topology.workload("client"), 8000)
    assert client.annotations["mesh/skip"] == "8000"
    assert support.service_host("web", "shop") == "web.shop.demo.mesh"


def test_a_failing_step_says_where_it_is_and_what_it_printed(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(GOOD.replace("      - run: echo install", "      - run: echo no cluster here; exit 4"))
    support = load_adapter_file(path).kubernetes()
    with pytest.raises(ClusterError) as caught:
        support.install(_access(tmp_path))
    assert f"{path}:13:9" in str(caught.value)
    assert "exit 4" in str(caught.value) and "no cluster here" in str(caught.value)


class _ListedObjects:
    """Deployments and DaemonSets as a list answer gives them (items without kind), turning ready on the
    ``ready_after``-th look."""

    def __init__(self, ready_after: int):
        self.looks = 0
        self.ready_after = ready_after

    def items(self, resource: Resource, namespace: str | None = None) -> list[dict[str, object]]:
        self.looks += 1
        ready = (self.looks + 1) // 2 >= self.ready_after  # two resources per look
        meta = {"name": "controller" if resource.kind == "Deployment" else "proxy", "generation": 2}
        if resource.kind == "Deployment":
            return [
                {
                    "metadata": meta,
                    "spec": {"replicas": 1},
                    "status": {"observedGeneration": 2, "readyReplicas": int(ready)},
                }
            ]
        status = {"observedGeneration": 2 if ready else 1, "desiredNumberScheduled": 1, "numberReady": 1}
        return [{"metadata": meta, "status": status}]


def test_wait_for_reads_listed_objects_and_names_what_is_not_ready(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(
        GOOD.replace(
            "      - run: echo install",
            "      - waitFor: {namespace: mesh}\n        timeoutSeconds: 2",
        )
    )
    support = load_adapter_file(path).kubernetes()
    objects = _ListedObjects(ready_after=2)
    support.install(dataclasses.replace(_access(tmp_path), objects=objects))  # type: ignore[arg-type]
    assert objects.looks == 4
    with pytest.raises(ClusterError) as caught:
        support.install(dataclasses.replace(_access(tmp_path), objects=_ListedObjects(10**6)))  # type: ignore[arg-type]
    message = str(caught.value)
    assert f"{path}:13:9" in message and "not ready after 2 s" in message
    assert "Deployment controller 0/1 ready" in message and "DaemonSet proxy not yet seen" in message
