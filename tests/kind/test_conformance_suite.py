"""The conformance suite on a real cluster: the core profile passes against the reference mesh on kind and
says what the embedded run says, test by test; broken meshes fail there on the right tests, with the
cluster's logs saved; a declarative adapter file installs a mesh; foreign namespaces are refused; and every
run leaves the cluster as it found it.

Each run is the command a user types (``smi-conformance run`` / ``pytest --smi-mesh``), in a subprocess. The
module holds the SMI CRDs of the shared cluster while it runs (tests/kind/conftest.py: smi_crd_owner) and runs
whole in one worker (tests/conftest.py: ONE_WORKER_MODULES).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from reference_mesh.kube.client import KubeApi, connect
from reference_mesh.kube.install import leftovers
from smi_conformance.cluster.kind import KindCluster

from .conftest import smi_crd_owner

pytestmark = [pytest.mark.kind, pytest.mark.timeout(1200)]

HERE = Path(__file__).parent
PREFIX = "smi-kind-suite"
MANAGED = "app.kubernetes.io/managed-by=smi-conformance"


@pytest.fixture(scope="module")
def crds_held(kind_cluster: KindCluster, mesh_image: str) -> Iterator[str]:
    """The SMI CRDs are ours while the module runs (the suite installs the reference mesh's); the image is
    built and in the nodes."""
    with smi_crd_owner(kind_cluster, exclusive=True):
        yield mesh_image


def run(
    args: list[str], cwd: Path, timeout: float = 900, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    # the run gets the cluster from its flags only; the project's commands are on PATH, as in a user's venv
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMI_KIND")} | extra_env
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def report(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["id"]: t for t in data["tests"]}


def ours(api_client: client.ApiClient) -> set[str]:
    """What of the suite or the reference mesh exists in the cluster: objects the uninstall must remove, the
    suite's namespaces, SMI CRDs (nobody else installs them while the module holds them)."""
    core = client.CoreV1Api(api_client)
    ext = client.ApiextensionsV1Api(api_client)
    found = {f"namespace {n.metadata.name}" for n in core.list_namespace(label_selector=MANAGED).items}
    found |= {
        f"namespace {n.metadata.name}"
        for n in core.list_namespace().items
        if n.metadata.name.startswith((PREFIX, "adapter-file-"))
    }
    found |= {
        f"crd {c.metadata.name}"
        for c in ext.list_custom_resource_definition().items
        if "smi-spec.io" in c.metadata.name
    }
    return found


@pytest.fixture
def clean_cluster(
    kind_cluster: KindCluster, api_client: client.ApiClient, crds_held: str
) -> Iterator[KubeApi]:
    """Nothing of ours before the test, and nothing after it: uninstall leaves the cluster as it was."""
    api = KubeApi(connect(kind_cluster.kubeconfig))
    assert ours(api_client) == set() and leftovers(api) == []
    yield api
    assert leftovers(api) == [], "the reference mesh left objects behind"
    assert ours(api_client) == set(), "the suite left objects behind"
    api.api_client.close()


def kube_flags(kind_cluster: KindCluster, image: str) -> list[str]:
    return [
        "--cluster",
        "kubeconfig",
        "--kubeconfig",
        str(kind_cluster.kubeconfig),
        "--kube-context",
        f"kind-{kind_cluster.name}",
        "--image",
        image,
        "--namespace",
        PREFIX,
    ]


CLI = [sys.executable, "-m", "smi_conformance.cli_conformance", "run", "--no-progress"]


def test_the_core_profile_passes_on_kind_as_it_does_embedded(
    kind_cluster: KindCluster, clean_cluster: KubeApi, crds_held: str, tmp_path: Path
) -> None:
    embedded = run([*CLI, "--profile", "core", "--namespace", PREFIX, "--report", "embedded.json"], tmp_path)
    assert embedded.returncode == 0, embedded.stdout[-3000:] + embedded.stderr[-3000:]
    # the suite's core tests and this module's own checks, in one session with the kind backend (reused
    # cluster: it is left as it was, mesh and namespaces gone)
    on_kind = run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-c",
            os.devnull,
            "--rootdir",
            str(HERE.parents[1]),
            "--pyargs",
            "smi_conformance.suite.tests",
            str(HERE / "suite_checks.py"),
            "--smi-mesh=reference",
            "--smi-cluster=kind",
            f"--smi-kind-cluster={kind_cluster.name}",
            f"--smi-image={crds_held}",
            "--smi-profile=core",
            f"--smi-namespace={PREFIX}",
            "--smi-report=kind.json",
            "-q",
        ],
        tmp_path,
    )
    assert on_kind.returncode == 0, on_kind.stdout[-5000:] + on_kind.stderr[-3000:]
    a, b = report(tmp_path / "embedded.json"), report(tmp_path / "kind.json")
    assert b["cluster"]["kind"] == "kind" and b["cluster"]["name"] == kind_cluster.name
    assert b["cluster"]["created"] is False and b["cluster"]["nodes"] == 2
    assert [p["result"] for p in b["profiles"]] == ["passed"] == [p["result"] for p in a["profiles"]]
    embedded_tests, kind_tests = by_id(a), by_id(b)
    assert embedded_tests.keys() == kind_tests.keys()
    core = [t for t, r in embedded_tests.items() if r["profile"] == "core"]
    assert len(core) >= 15
    for test_id in core:
        e, k = embedded_tests[test_id], kind_tests[test_id]
        assert (k["outcome"], k["versions"]) == (e["outcome"], e["versions"]) == ("passed", e["versions"]), (
            test_id
        )
        # the same checks, judged the same way
        assert [c["name"] for c in k["checks"]] == [c["name"] for c in e["checks"]], test_id
        assert all(c["passed"] for c in k["checks"]), test_id
        for check in k["checks"]:
            stats = check.get("statistics") or {}
            if check["kind"] != "split" or "backends" not in stats:
                continue
            assert stats["decision"] == "pass", (test_id, check["message"])
            tolerance = stats["settings"]["tolerance"]
            for backend in stats["backends"]:
                # within the tolerance the check is built on, and zero weights got nothing at all
                assert abs(backend["observed_share"] - backend["expected_share"]) < tolerance, check[
                    "message"
                ]
                if backend["expected_share"] == 0:
                    assert backend["count"] == 0, check["message"]
            assert stats["n"] <= stats["settings"]["max_samples"]


def test_the_fault_switches_are_caught_on_kind(
    kind_cluster: KindCluster, clean_cluster: KubeApi, crds_held: str, tmp_path: Path
) -> None:
    """Weights ignored and everything allowed, both reaching the controller on Kubernetes: the tests that
    catch them on loopback catch them here; a control test neither fault touches passes; the failures come
    with the cluster's objects, events and every container's log."""
    result = run(
        [
            *CLI,
            *kube_flags(kind_cluster, crds_held),
            "--mesh-option",
            "faults=ignore-weights,allow-by-default",
            "--timeout",
            "10",
            "--test",
            "split-two-backends",
            "--test",
            "access-deny-by-default",
            "--test",
            "split-matches",
            "--report",
            "faults.json",
            "--artifacts",
            "artifacts",
        ],
        tmp_path,
    )
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    tests = by_id(report(tmp_path / "faults.json"))
    weights, deny, control = (
        tests["split-two-backends"],
        tests["access-deny-by-default"],
        tests["split-matches"],
    )
    assert weights["outcome"] == "failed" and "split" in weights["reason"], weights["reason"]
    assert "web-v2 received" in weights["reason"] and "expected 10%" in weights["reason"], weights["reason"]
    assert deny["outcome"] == "failed" and "expected denied" in deny["reason"], deny["reason"]
    assert control["outcome"] == "passed", control["reason"]
    for failed in (weights, deny):
        saved = set(failed["artifacts"])
        folder = failed["id"]
        assert {
            f"{folder}/applied.yaml",
            f"{folder}/smi-objects.yaml",
            f"{folder}/events/{PREFIX}.txt",
        } <= saved
        logs = {Path(p).name for p in saved if p.startswith(f"{folder}/logs/{PREFIX}/")}
        assert {"app.log", "mesh-proxy.log", "mesh-init.log"} <= logs
        assert any(p.startswith(f"{folder}/logs/reference-mesh/") for p in saved)
    control_plane = next(
        (tmp_path / "artifacts" / p)
        for p in weights["artifacts"]
        if p.startswith("split-two-backends/logs/reference")
    )
    assert "deliberate faults switched on: allow-by-default, ignore-weights" in control_plane.read_text()
    assert "name: web-split" in (tmp_path / "artifacts" / "split-two-backends" / "applied.yaml").read_text()


def test_a_declarative_adapter_file_installs_a_mesh_on_kind(
    kind_cluster: KindCluster, clean_cluster: KubeApi, crds_held: str, tmp_path: Path
) -> None:
    """tests/kind/adapters/reference-mesh.yaml: install by command and by a manifest the suite applies,
    enrolment by labels, annotations and a command per namespace, uninstall by command and by deleting the
    manifest."""
    enrolled = tmp_path / "enrolled.log"
    result = run(
        [
            *CLI,
            "--mesh",
            str(HERE / "adapters" / "reference-mesh.yaml"),
            *kube_flags(kind_cluster, crds_held),
            "--test",
            "access-listed-source-allowed",
            "--test",
            "split-quantity-weights",
            "--test",
            "access-http-headers",
            "--report",
            "file.json",
        ],
        tmp_path,
        ENROLLED_LOG=str(enrolled),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = report(tmp_path / "file.json")
    tests = by_id(data)
    assert tests["access-listed-source-allowed"]["outcome"] == "passed"
    assert tests["split-quantity-weights"]["outcome"] == "passed"
    assert tests["split-quantity-weights"]["versions"]["split.smi-spec.io"] == "v1alpha1"
    assert tests["access-http-headers"]["outcome"] == "not-supported"  # the file does not claim headers
    assert data["implementation"]["name"] == "reference mesh (adapter file)"
    assert data["cluster"]["mesh"]["adapterFile"].endswith("reference-mesh.yaml")
    assert enrolled.read_text().split() == [PREFIX, f"{PREFIX}-other"]


def test_namespaces_the_suite_did_not_create_are_refused_and_left_alone(
    kind_cluster: KindCluster,
    clean_cluster: KubeApi,
    api_client: client.ApiClient,
    crds_held: str,
    tmp_path: Path,
) -> None:
    core = client.CoreV1Api(api_client)
    core.create_namespace({"metadata": {"name": f"{PREFIX}-other", "labels": {"owner": "someone-else"}}})
    try:
        result = run(
            [
                *CLI,
                *kube_flags(kind_cluster, crds_held),
                "--test",
                "split-two-backends",
                "--report",
                "r.json",
            ],
            tmp_path,
        )
        assert result.returncode == 2
        said = f"namespace {PREFIX}-other exists and was not created by smi-conformance"
        assert said in " ".join(result.stdout.split())  # the console wraps long lines
        assert said in by_id(report(tmp_path / "r.json"))["split-two-backends"]["reason"]
        still = core.read_namespace(f"{PREFIX}-other")
        assert still.metadata.labels.get("owner") == "someone-else" and still.status.phase == "Active"
        assert core.list_namespace(label_selector=MANAGED).items == []  # nothing created either
    finally:
        core.delete_namespace(f"{PREFIX}-other")
        from .workloads import wait_for

        wait_for(
            "the namespace to go",
            lambda: f"{PREFIX}-other" not in {n.metadata.name for n in core.list_namespace().items},
        )
