"""Traefik Mesh certified on kind: its images built from Go modules (ci/traefik-mesh/build.sh, cached), the
suite run against it as a user runs it (``smi-conformance run --mesh traefik-mesh --cluster kind``), every
test's outcome the one pinned in docs/certification/traefik-mesh/expected.yaml (where it fails, that README
says why), and the cluster left as it was: no namespace, CRD, cluster role or shadow Service of the mesh,
CoreDNS's Corefile and pod template as before.

The module holds the SMI CRDs of the shared cluster while it runs (Traefik Mesh installs its own versions).
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
import yaml
from kubernetes import client

from smi_conformance.cluster.kind import KindCluster, default_kubeconfig, exclusive, load_image

from .conftest import REPO_ROOT, smi_crd_owner

pytestmark = [pytest.mark.kind, pytest.mark.timeout(3600)]

PINNED = REPO_ROOT / "docs" / "certification" / "traefik-mesh" / "expected.yaml"
PREFIX = "smi-kind-traefik"
ISOLATED = "access-http-headers"
LABEL = "smi-conformance.io/adapter=traefik-mesh"


@pytest.fixture(scope="module")
def traefik_images(kind_cluster: KindCluster) -> dict[str, str]:
    """TRAEFIK_MESH_CONTROLLER_IMAGE and TRAEFIK_MESH_PROXY_IMAGE, built (or found in the cache)."""
    with exclusive(kind_cluster.kubeconfig.with_suffix(".images.lock")):
        done = subprocess.run(
            ["bash", str(REPO_ROOT / "ci" / "traefik-mesh" / "build.sh")],
            capture_output=True,
            text=True,
            timeout=3000,
            check=False,
        )
    if done.returncode != 0:
        pytest.fail(f"building Traefik Mesh's images failed:\n{done.stderr[-3000:]}", pytrace=False)
    images = dict(line.split("=", 1) for line in done.stdout.split())
    assert set(images) == {"TRAEFIK_MESH_CONTROLLER_IMAGE", "TRAEFIK_MESH_PROXY_IMAGE"}, done.stdout
    return images


def cluster_state(api: client.ApiClient) -> dict[str, Any]:
    """What Traefik Mesh could leave behind, or change and not put back."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    rbac, ext = client.RbacAuthorizationV1Api(api), client.ApiextensionsV1Api(api)
    coredns = apps.read_namespaced_deployment("coredns", "kube-system")
    return {
        "namespaces": sorted(
            n.metadata.name
            for n in core.list_namespace().items
            if n.metadata.name == "traefik-mesh" or n.metadata.name.startswith(PREFIX)
        ),
        "labelled": sorted(
            f"{kind} {o.metadata.name}"
            for kind, items in (
                ("ClusterRole", rbac.list_cluster_role(label_selector=LABEL).items),
                ("ClusterRoleBinding", rbac.list_cluster_role_binding(label_selector=LABEL).items),
                ("CRD", ext.list_custom_resource_definition(label_selector=LABEL).items),
            )
            for o in items
        ),
        "smi-crds": sorted(
            c.metadata.name
            for c in ext.list_custom_resource_definition().items
            if "smi-spec.io" in c.metadata.name
        ),
        "shadow-services": sorted(
            f"{s.metadata.namespace}/{s.metadata.name}"
            for s in core.list_service_for_all_namespaces(label_selector="app=maesh,type=shadow").items
        ),
        "corefile": core.read_namespaced_config_map("coredns", "kube-system").data["Corefile"],
        "coredns-template-annotations": coredns.spec.template.metadata.annotations or {},
    }


@pytest.fixture
def untouched(kind_cluster: KindCluster, api_client: client.ApiClient) -> Iterator[dict[str, Any]]:
    """The SMI CRDs are the module's, and the cluster is after the test as it was before."""
    with smi_crd_owner(kind_cluster, exclusive=True):
        before = cluster_state(api_client)
        assert before["namespaces"] == [] and before["labelled"] == [] and before["shadow-services"] == []
        assert "traefik.mesh" not in before["corefile"]
        yield before
        after = cluster_state(api_client)
        assert after == before, "Traefik Mesh's uninstall left the cluster changed"


def test_traefik_mesh_gets_the_pinned_verdicts_on_kind(
    kind_cluster: KindCluster,
    mesh_image: str,
    traefik_images: dict[str, str],
    untouched: dict[str, Any],
    tmp_path: Path,
) -> None:
    if kind_cluster.kubeconfig.resolve() == default_kubeconfig(kind_cluster.name).resolve():
        # as a user runs it: the kind backend loads the suite's image and the adapter's
        cluster = ["--cluster", "kind", "--kind-cluster", kind_cluster.name]
    else:
        for image in traefik_images.values():
            load_image(image, kind_cluster.name)
        cluster = ["--cluster", "kubeconfig", "--kubeconfig", str(kind_cluster.kubeconfig)]
        cluster += ["--kube-context", f"kind-{kind_cluster.name}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMI_KIND")} | traefik_images
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"

    def run(name: str, selection: list[str]) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], str]:
        folder = tmp_path / name
        folder.mkdir()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "smi_conformance.cli_conformance",
                "run",
                "--no-progress",
                "--mesh",
                "traefik-mesh",
                *cluster,
                "--image",
                mesh_image,
                "--namespace",
                PREFIX,
                *selection,
                "--report",
                "report.json",
                "--html",
                "report.html",
                "--artifacts",
                "artifacts",
            ],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=3000,
            check=False,
        )
        log = done.stdout[-4000:] + done.stderr[-3000:]
        assert (folder / "report.json").exists(), log
        return done, json.loads((folder / "report.json").read_text()), log

    # ISOLATED runs alone, on its own install: while its object exists Traefik Mesh reads no route group,
    # and its controller's watch of them stays broken for a while after the object is gone (client-go's
    # back-off), failing whichever test follows at random (docs/certification/traefik-mesh/README.md).
    done, report, log = run("suite", ["--skip", ISOLATED])
    alone, alone_report, alone_log = run("isolated", ["--test", ISOLATED])
    pinned = yaml.safe_load(PINNED.read_text())["tests"]
    outcomes = {t["id"]: t["outcome"] for t in report["tests"]}
    outcomes[ISOLATED] = next(t["outcome"] for t in alone_report["tests"] if t["id"] == ISOLATED)
    # the suite ran: no test is an error or was left unrun, and the verdicts are the pinned ones
    assert outcomes == pinned, log + alone_log
    ran = {k: v for k, v in outcomes.items() if k != ISOLATED}
    assert done.returncode == (1 if "failed" in ran.values() else 0), log
    assert alone.returncode == (1 if outcomes[ISOLATED] == "failed" else 0), alone_log
    report["tests"] = [t for t in report["tests"] if t["id"] != ISOLATED] + [
        t for t in alone_report["tests"] if t["id"] == ISOLATED
    ]
    assert report["implementation"]["name"] == "Traefik Mesh" and report["cluster"]["nodes"] == 2
    for test in report["tests"]:
        if test["outcome"] in ("passed", "failed"):
            # a verdict rests on traffic: every test that ran sent requests and judged them
            assert test["checks"], test["id"]
        if test["outcome"] == "failed":
            assert test["artifacts"], f"{test['id']}: no logs saved for a failure"
