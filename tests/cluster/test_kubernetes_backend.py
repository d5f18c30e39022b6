"""The Kubernetes backend's parts that need no cluster: the standard topology as Kubernetes objects, the
mesh's enrolment stamped on them, the choice of backend, and the refusals that come before anything starts.
On a real cluster: tests/kind/test_conformance_suite.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reference_mesh.conformance import ReferenceMeshOnKubernetes, adapter
from smi_conformance.cluster.backends import cluster_for
from smi_conformance.cluster.base import ClusterError
from smi_conformance.cluster.kind_backend import KindBackend
from smi_conformance.cluster.kube_topology import MANAGED_BY, namespace_objects, workload_objects
from smi_conformance.cluster.kubeapi import ApiError
from smi_conformance.cluster.kubeobjects import Objects
from smi_conformance.cluster.kubernetes import KubernetesCluster
from smi_conformance.mesh.kubernetes import KubernetesSupport
from smi_conformance.suite.features import Feature
from smi_conformance.suite.settings import SuiteSettings
from smi_conformance.suite.topology import DRIVER_PORT, standard_topology

TOPOLOGY = standard_topology("shop")
MESH = ReferenceMeshOnKubernetes(split_algorithm="weighted_random", faults=frozenset(), log_level="INFO")


def objects(mesh: KubernetesSupport = MESH) -> dict[tuple[str, str, str], dict[str, Any]]:
    objs = namespace_objects(TOPOLOGY, mesh) + workload_objects(TOPOLOGY, mesh, "img:1", "IfNotPresent")
    return {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in objs}


def test_the_namespaces_carry_the_suites_label_and_the_meshs_enrolment() -> None:
    objs = objects()
    for ns in ("shop", "shop-other"):
        labels = objs[("Namespace", "", ns)]["metadata"]["labels"]
        assert labels[MANAGED_BY[0]] == MANAGED_BY[1]
        assert labels["reference-mesh.smi-conformance.io/inject"] == "enabled"


def test_every_workload_service_and_account_of_the_topology_is_there() -> None:
    objs = objects()
    for w in TOPOLOGY.workloads:
        deployment = objs[("Deployment", w.namespace, w.name)]
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == w.service_account
        assert deployment["spec"]["selector"]["matchLabels"] == dict(w.labels)
    for s in TOPOLOGY.services:
        ports = {p["name"]: p for p in objs[("Service", s.namespace, s.name)]["spec"]["ports"]}
        assert ports["http"]["appProtocol"] == "http" and ports["udp"]["protocol"] == "UDP"
        assert all(p["port"] == p["targetPort"] for p in ports.values())
    accounts = {(ns, n) for kind, ns, n in objs if kind == "ServiceAccount"}
    assert accounts == set(TOPOLOGY.service_accounts)


def test_backends_report_their_pod_and_namespace_and_are_probed_from_inside() -> None:
    pod = objects()[("Deployment", "shop", "web-v2")]["spec"]["template"]
    (app,) = pod["spec"]["containers"]
    assert app["command"][:3] == ["python3", "-m", "smi_conformance.workload.echo"]
    args = app["command"][3:]
    assert args[args.index("--version") + 1] == "v2" and args[args.index("--instance") + 1] == "$(POD_NAME)"
    assert {"--http", "--tcp", "--udp"} <= set(args)
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in app["env"]}
    assert env == {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"}
    # no kubelet probe on a meshed port (a sidecar wanting mTLS would fail it): loopback, from the container
    assert "readinessProbe" not in app and "127.0.0.1" in app["startupProbe"]["exec"]["command"][-1]
    assert "annotations" not in pod["metadata"]


def test_clients_run_the_driver_and_their_control_port_is_left_out_of_interception() -> None:
    pod = objects()[("Deployment", "shop", "client")]["spec"]["template"]
    (app,) = pod["spec"]["containers"]
    assert app["command"][-2:] == ["--listen", f"0.0.0.0:{DRIVER_PORT}"]
    assert app["startupProbe"]["httpGet"]["port"] == DRIVER_PORT
    assert pod["metadata"]["annotations"] == {"reference-mesh.smi-conformance.io/skip-inbound-ports": "8000"}


def test_a_kubernetes_cluster_needs_an_explicit_context() -> None:
    with pytest.raises(ClusterError, match="explicit context"):
        KubernetesCluster(TOPOLOGY, MESH, context="", image="img:1")


def test_the_run_picks_the_backend_it_was_asked_for() -> None:
    mesh = adapter({})
    kind = cluster_for(SuiteSettings(cluster="kind", kind_cluster="ci", image="img:1"), mesh, TOPOLOGY, print)
    assert isinstance(kind, KindBackend) and kind.context == "kind-ci" and kind.image == "img:1"
    kube = cluster_for(
        SuiteSettings(cluster="kubeconfig", kube_context="prod", kubeconfig=Path("/k"), image="img:2"),
        mesh,
        TOPOLOGY,
        print,
    )
    assert type(kube) is KubernetesCluster and kube.context == "prod" and kube.kubeconfig == Path("/k")


def test_the_reference_mesh_claims_on_kubernetes_what_it_does_there() -> None:
    mesh = adapter({"faults": "ignore-weights"})
    on_kind, embedded = mesh.info_for("kind"), mesh.info_for("embedded")
    assert Feature.UDP_ROUTE in embedded.features and Feature.UDP_ROUTE not in on_kind.features
    assert on_kind.api_versions["split.smi-spec.io"] == ["v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4"]
    support = mesh.kubernetes()
    assert isinstance(support, ReferenceMeshOnKubernetes) and support.faults == {"ignore-weights"}


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smi_conformance.cli_conformance", "run", "--no-progress", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_kubeconfig_run_without_a_context_is_a_usage_error() -> None:
    result = run_cli("--cluster", "kubeconfig", "--test", "split-two-backends")
    assert result.returncode == 2
    assert "--smi-kube-context" in result.stdout + result.stderr


def test_the_run_says_why_an_unreachable_cluster_did_not_start(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: gone, context: {cluster: c, user: u}}]\n"
    )
    result = run_cli(
        "--cluster", "kubeconfig", "--kubeconfig", str(kubeconfig), "--kube-context", "gone",
        "--image", "img:1", "--test", "split-two-backends", "--report", str(tmp_path / "r.json"),
    )  # fmt: skip
    assert result.returncode == 2
    said = " ".join(result.stdout.split())
    assert "cannot reach the cluster of context 'gone'" in said
    assert "cluster did not start" in (tmp_path / "r.json").read_text()


class _OneVersionApi:
    """An API server's discovery and DELETE for access.smi-spec.io serving v1alpha2 only."""

    def __init__(self) -> None:
        self.deleted: list[str] = []

    def get(self, path: str, **_: object) -> dict[str, object]:
        if path == "/apis/access.smi-spec.io":
            return {"versions": [{"version": "v1alpha2"}]}
        if path == "/apis/access.smi-spec.io/v1alpha2":
            return {"resources": [{"name": "traffictargets", "kind": "TrafficTarget", "namespaced": True}]}
        raise ApiError(404, "not found")

    def request(self, method: str, path: str, **_: object) -> None:
        assert method == "DELETE"
        self.deleted.append(path)


def test_an_object_written_in_an_unserved_version_is_deleted_through_a_served_one() -> None:
    """Deleting is the same in every version of a kind: a TrafficTarget written as v1alpha3 on a cluster that
    serves v1alpha2 goes (it was silently left behind, and the next test saw its grant)."""
    api = _OneVersionApi()
    objects = Objects(api)  # type: ignore[arg-type]
    target = {"apiVersion": "access.smi-spec.io/v1alpha3", "kind": "TrafficTarget"}
    target["metadata"] = {"name": "t", "namespace": "ns"}
    assert objects.delete(target) is True
    assert api.deleted == ["/apis/access.smi-spec.io/v1alpha2/namespaces/ns/traffictargets/t"]
    assert objects.delete({**target, "kind": "IdentityBinding"}) is False  # no version serves the kind
