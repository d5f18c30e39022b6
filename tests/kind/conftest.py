"""Fixtures for tests on a real kind cluster (marker ``kind``; enabled by --kind or SMI_KIND=1).

The cluster: ``$SMI_KIND_KUBECONFIG`` if set (an existing cluster, e.g. the one .ci/run created), else the
kind cluster ``$SMI_KIND_CLUSTER`` (default ``smi-kind``), created on first use with ``$SMI_KIND_IMAGE``
(default: kind's own node image) and reused afterwards.
Delete it with ``python -m smi_conformance.cluster.kind delete``.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from smi_conformance.cluster.kind import (
    DEFAULT_NAME,
    KindCluster,
    KindError,
    create_cluster,
    exclusive,
    load_image,
)

REPO_ROOT = Path(__file__).resolve().parents[2]

k8s = pytest.importorskip(
    "kubernetes", reason="the kind tests need the kubernetes client (pip install -e '.[dev]')"
)

from .mesh import InstalledMesh  # noqa: E402
from .smi_crds import ForeignCRD, installed  # noqa: E402  (as below)
from .workloads import wait_for  # noqa: E402  (needs the kubernetes client, checked just above)


@pytest.fixture(scope="session")
def kind_cluster() -> KindCluster:
    name = os.environ.get("SMI_KIND_CLUSTER", DEFAULT_NAME)
    kubeconfig = os.environ.get("SMI_KIND_KUBECONFIG")
    if kubeconfig:
        return KindCluster(name, Path(kubeconfig))
    try:
        return create_cluster(name)
    except KindError as exc:
        hint = "ci/kind/up.sh builds a node image, creates a cluster and prints SMI_KIND_KUBECONFIG's value"
        pytest.fail(f"asked for kind tests, but no cluster could be created ({hint}):\n{exc}", pytrace=False)


@pytest.fixture(scope="session")
def api_client(kind_cluster: KindCluster) -> Iterator[k8s.client.ApiClient]:
    """A client for the cluster, once its system pods have settled: `kind create --wait` returns when the
    nodes are Ready, which can be seconds before kube-proxy, the CNI daemon and CoreDNS run on every node."""
    api = k8s.config.new_client_from_config(config_file=str(kind_cluster.kubeconfig))
    apps = k8s.client.AppsV1Api(api)

    def settled() -> bool:
        daemonsets = apps.list_namespaced_daemon_set("kube-system").items
        deployments = apps.list_namespaced_deployment("kube-system").items
        return all(d.status.number_ready == d.status.desired_number_scheduled for d in daemonsets) and all(
            d.status.ready_replicas == d.spec.replicas for d in deployments
        )

    wait_for("the kube-system DaemonSets and Deployments to be ready", settled, timeout=180)
    yield api
    api.close()


@contextmanager
def smi_crd_owner(kind_cluster: KindCluster, *, exclusive: bool) -> Iterator[None]:
    """Who owns the SMI CRDs of the shared cluster: the CRD tests install their own (shared between the
    processes of a run), a reference mesh installation installs and removes its own. One at a time: the
    CRD tests hold this lock shared, an installation exclusively (tests of either kind then wait)."""
    path = kind_cluster.kubeconfig.with_suffix(".smi-crd-owner.lock")
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def smi_crds(
    api_client: k8s.client.ApiClient, kind_cluster: KindCluster
) -> Iterator[dict[str, dict[str, object]]]:
    """Our SMI CRDs (schemas/crds/, experimental/ included), installed and Established: as the API server
    holds them, by name. Shared by the processes of a test run and removed when the last one leaves
    (tests/kind/smi_crds.py). Module-scoped, so that a process holds the CRDs only while it runs their
    tests (a reference mesh installation in the same process waits for them, see smi_crd_owner)."""
    foreign = None
    with smi_crd_owner(kind_cluster, exclusive=False):
        try:
            with installed(api_client, kind_cluster.kubeconfig) as crds:
                yield crds
        except ForeignCRD as exc:  # raised before the yield: nothing was installed
            foreign = str(exc)
    if foreign:
        pytest.fail(foreign, pytrace=False)


@pytest.fixture(scope="session")
def testserver_image(kind_cluster: KindCluster) -> str:
    """The kind-testserver image, built here (ci/kind/build-test-image.sh) and loaded into every node."""
    image = os.environ.get("SMI_KIND_TESTSERVER_IMAGE")
    with exclusive(kind_cluster.kubeconfig.with_suffix(".images.lock")):
        if not image:
            proc = subprocess.run(
                ["bash", str(REPO_ROOT / "ci" / "kind" / "build-test-image.sh")],
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            if proc.returncode != 0:
                pytest.fail(f"building the test workload image failed:\n{proc.stderr[-3000:]}", pytrace=False)
            image = proc.stdout.strip().splitlines()[-1]
        try:
            load_image(image, kind_cluster.name)
        except KindError as exc:
            pytest.fail(str(exc), pytrace=False)
    return image


@pytest.fixture
def namespace(api_client: k8s.client.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace per test, labelled so admission webhooks can be scoped to it; deleted afterwards
    (kept with SMI_KIND_KEEP_NAMESPACES=1)."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"t-{slug}-{secrets.token_hex(3)}"
    core = k8s.client.CoreV1Api(api_client)
    core.create_namespace({"metadata": {"name": name, "labels": {"smi-test/namespace": name}}})
    yield name
    if os.environ.get("SMI_KIND_KEEP_NAMESPACES") == "1":
        return  # left for inspection
    try:
        core.delete_namespace(name, grace_period_seconds=0)
    except k8s.client.ApiException as exc:
        if exc.status != 404:
            raise


@pytest.fixture(scope="session")
def mesh_image(kind_cluster: KindCluster) -> str:
    """The project's image (smi-conformance images build: cached by the hash of its inputs) in every node.
    ``$SMI_MESH_IMAGE`` names a prebuilt one instead."""
    from smi_conformance.images import ImageBuildError, build_image

    image = os.environ.get("SMI_MESH_IMAGE")
    with exclusive(kind_cluster.kubeconfig.with_suffix(".images.lock")):
        try:
            image = image or build_image(quiet=True)
            load_image(image, kind_cluster.name)
        except (ImageBuildError, KindError) as exc:
            pytest.fail(f"the project's image could not be built or loaded:\n{exc}", pytrace=False)
    return image


@pytest.fixture(scope="module")
def reference_mesh(kind_cluster: KindCluster, mesh_image: str) -> Iterator[InstalledMesh]:
    """The reference mesh installed on the cluster for one test module (``reference-mesh install``, waiting
    until ready), uninstalled afterwards. The module's tests must run in one process (tests/conftest.py:
    ONE_WORKER_MODULES)."""
    import time

    from reference_mesh.kube.client import KubeApi, connect
    from reference_mesh.kube.install import install, uninstall
    from reference_mesh.kube.manifests import InstallOptions

    api = KubeApi(connect(kind_cluster.kubeconfig))
    with smi_crd_owner(kind_cluster, exclusive=True):
        started = time.monotonic()
        try:
            install(api, InstallOptions(mesh_image), timeout_s=300)
        except Exception:
            uninstall(api, timeout_s=300)
            raise
        try:
            yield InstalledMesh(api, mesh_image, kind_cluster.kubeconfig, time.monotonic() - started)
        finally:
            uninstall(api, timeout_s=300)  # nothing to do if a test uninstalled it already
            api.api_client.close()
