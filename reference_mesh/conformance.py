"""The reference mesh's conformance adapter, registered like any third party's (entry point
``smi_conformance.meshes: reference``): the suite never imports this package.

It declares what the reference mesh implements and provides the embedded cluster: the suite's standard
topology run on loopback by :class:`~reference_mesh.runtime.mesh.EmbeddedMesh`, backends as the echo workload,
clients as the suite's traffic driver, every pod with its sidecar. On Kubernetes (``--smi-cluster=kind`` or
``kubeconfig``) the suite deploys the topology itself and :class:`ReferenceMeshOnKubernetes` installs the mesh
(``reference_mesh.kube.install``, from the suite's own image), enrols the namespaces by the injection label
and leaves the drivers' control port out of interception. UDP is not intercepted there, so UDPRoute is not
claimed on Kubernetes.

Options (``--smi-mesh-option KEY=VALUE``):
    split=weighted_random|smooth_round_robin   the split algorithm (default weighted_random)
    faults=NAME[,NAME...]                      deliberate bugs, to show the suite catches them (faults.py)
    log-level=LEVEL                            the sidecars' log level (embedded: WARNING; Kubernetes:
                                               INFO, the control plane's and proxies')

"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, get_args

import httpx
import yaml

from reference_mesh.control.admission import documents_from_dicts
from reference_mesh.faults import FAULTS, parse_faults
from reference_mesh.proxy.config import SplitAlgorithm
from reference_mesh.runtime.mesh import EmbeddedMesh
from reference_mesh.runtime.sync import MeshThread
from reference_mesh.runtime.topology import (
    APP_PORT_OFFSET,
    OUTBOUND_HTTP_PORT,
    Deployment,
    PortDecl,
    ServiceAccountDecl,
    ServiceDecl,
)
from reference_mesh.runtime.topology import Topology as MeshTopology
from smi_conformance import __version__
from smi_conformance.cluster.base import ApplyRefused, Cluster, ClusterError, MetricsUnavailable, Target
from smi_conformance.mesh.adapter import MeshAdapter, MeshInfo, MetricsSupport
from smi_conformance.mesh.kubernetes import KubeAccess, KubernetesSupport, Stamp
from smi_conformance.suite.features import Feature
from smi_conformance.suite.topology import DRIVER_PORT, Protocol, ServiceSpec, Topology, WorkloadSpec

__all__ = ["EmbeddedCluster", "ReferenceMeshAdapter", "ReferenceMeshOnKubernetes", "adapter"]

SPLIT_ALGORITHMS: tuple[str, ...] = get_args(SplitAlgorithm)


def adapter(options: Mapping[str, str]) -> ReferenceMeshAdapter:
    """The entry point's factory."""
    return ReferenceMeshAdapter(options)


class ReferenceMeshAdapter(MeshAdapter):
    def __init__(self, options: Mapping[str, str] | None = None):
        super().__init__(options)
        unknown = sorted(set(self.options) - {"split", "faults", "log-level"})
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(unknown)}; known: split, faults, log-level")
        self.split_algorithm = self.options.get("split", "weighted_random")
        if self.split_algorithm not in SPLIT_ALGORITHMS:
            raise ValueError(f"split={self.split_algorithm!r}; choose one of {', '.join(SPLIT_ALGORITHMS)}")
        self.faults = parse_faults(self.options.get("faults", ""))
        name = "reference-mesh" + (f" (faults: {', '.join(sorted(self.faults))})" if self.faults else "")
        self.info = MeshInfo(
            name=name,
            version=__version__,
            url="https://github.com/smi-conformance/smi-conformance/tree/main/reference_mesh",
            api_versions={
                "split.smi-spec.io": ["v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4"],
                "access.smi-spec.io": ["v1alpha1", "v1alpha2", "v1alpha3"],
                "specs.smi-spec.io": ["v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4"],
                "metrics.smi-spec.io": ["v1alpha1"],
            },
            features=frozenset(Feature),
            denial={"http": ["status 403"], "tcp": ["closed"], "udp": ["timeout"]},
            metrics=MetricsSupport(
                source="api",
                count_tolerance=0.0,
                # a request counts in the whole second it finished, once that second is over
                scrape_delay_s=1.0,
                latency_slack_ms=5.0,
                latency_relative_error=0.05,
            ),
            notes=f"split algorithm {self.split_algorithm}"
            + (
                f"; deliberate faults: {', '.join(f'{f} ({FAULTS[f]})' for f in sorted(self.faults))}"
                if self.faults
                else ""
            ),
        )

    def embedded_cluster(self, topology: Topology, *, run_dir: str | None = None) -> Cluster:
        return EmbeddedCluster(
            topology,
            split_algorithm=self.split_algorithm,
            faults=self.faults,
            log_level=self.options.get("log-level", "WARNING"),
            run_dir=run_dir,
        )

    def kubernetes(self) -> KubernetesSupport:
        return ReferenceMeshOnKubernetes(
            split_algorithm=self.split_algorithm,
            faults=self.faults,
            log_level=self.options.get("log-level", "INFO"),
        )

    def info_for(self, cluster: str) -> MeshInfo:
        if cluster == "embedded":
            return self.info
        versions = dict(self.info.api_versions)
        versions.update(kubernetes_api_versions())
        return self.info.model_copy(
            update={
                "api_versions": versions,
                "features": self.info.features - {Feature.UDP_ROUTE},
                "notes": self.info.notes + "; on Kubernetes UDP is not intercepted: UDPRoute is not claimed",
            }
        )


def kubernetes_api_versions() -> dict[str, list[str]]:
    """API group -> the versions every kind of it is served in by the CRDs ``install`` creates."""
    from reference_mesh.kube.manifests import served_versions

    return served_versions()


class ReferenceMeshOnKubernetes(KubernetesSupport):
    """The reference mesh installed by ``reference_mesh.kube.install`` from the suite's own image (one image
    holds the control plane, the proxy and the workloads), faults and split algorithm passed to its
    controller."""

    system_namespaces = ("reference-mesh",)

    def __init__(self, *, split_algorithm: str, faults: frozenset[str], log_level: str):
        self.split_algorithm = split_algorithm
        self.faults = faults
        self.log_level = log_level

    def install(self, kube: KubeAccess) -> None:
        from reference_mesh.kube.client import ApiError
        from reference_mesh.kube.install import InstallError, install
        from reference_mesh.kube.manifests import InstallOptions

        options = InstallOptions(
            kube.image,
            image_pull_policy=kube.image_pull_policy,
            log_level=self.log_level,
            split_algorithm=self.split_algorithm,
            faults=tuple(sorted(self.faults)),
        )
        try:
            install(kube.api, options, timeout_s=kube.timeout_s, log=kube.log)
        except (InstallError, ApiError) as exc:
            raise ClusterError(f"reference-mesh install: {exc}") from exc

    def uninstall(self, kube: KubeAccess) -> None:
        from reference_mesh.kube.client import ApiError
        from reference_mesh.kube.install import InstallError, uninstall

        try:
            uninstall(kube.api, timeout_s=kube.timeout_s, log=kube.log)
        except (InstallError, ApiError) as exc:
            raise ClusterError(f"reference-mesh uninstall: {exc}") from exc

    def namespace(self) -> Stamp:
        from reference_mesh.kube import names

        return Stamp(labels={names.INJECT_LABEL: "enabled"})

    def pod(self, workload: WorkloadSpec, driver_port: int) -> Stamp:
        from reference_mesh.kube import names

        if workload.role == "client":
            return Stamp(annotations={names.SKIP_INBOUND_PORTS: str(driver_port)})
        return Stamp()

    def describe(self) -> dict[str, Any]:
        return {
            "installer": "reference_mesh.kube.install",
            "splitAlgorithm": self.split_algorithm,
            "faults": sorted(self.faults),
        }


def mesh_topology(topology: Topology, *, split_algorithm: str, faults: frozenset[str]) -> MeshTopology:
    """The suite's standard topology as the embedded runtime's topology: backends run the echo workload,
    clients the traffic driver (its control port is a pod port, which the suite calls on the app's own
    address, never through the sidecar)."""
    services = [
        ServiceDecl(
            name=s.name,
            namespace=s.namespace,
            selector=dict(s.selector),
            ports=tuple(PortDecl(port=p.port, protocol=p.protocol, name=p.name) for p in s.ports),
        )
        for s in topology.services
    ]
    deployments = []
    for w in topology.workloads:
        common: dict[str, Any] = {
            "name": w.name,
            "namespace": w.namespace,
            "service_account": w.service_account,
            "labels": dict(w.labels),
            "replicas": w.replicas,
        }
        if w.role == "backend":
            ports = tuple(PortDecl(port=p.port, protocol=p.protocol, name=p.name) for p in w.ports)
            deployments.append(Deployment(**common, ports=ports))
        else:
            deployments.append(
                Deployment(
                    **common,
                    ports=(PortDecl(port=DRIVER_PORT, protocol="http", name="driver"),),
                    command=(sys.executable, "-m", "smi_conformance.workload.driver"),
                )
            )
    return MeshTopology(
        name="smi-conformance",
        split_algorithm=split_algorithm,  # type: ignore[arg-type]
        faults=tuple(sorted(faults)),
        service_accounts=tuple(
            ServiceAccountDecl(name=name, namespace=ns)
            for ns, name in topology.service_accounts
            if name != "default"
        ),
        services=tuple(services),
        deployments=tuple(deployments),
    )


class EmbeddedCluster(Cluster):
    """The standard topology on loopback with the reference mesh: real processes, sockets and mTLS."""

    kind = "embedded"

    def __init__(
        self,
        topology: Topology,
        *,
        split_algorithm: str = "weighted_random",
        faults: frozenset[str] = frozenset(),
        log_level: str = "WARNING",
        run_dir: str | None = None,
    ):
        super().__init__(topology)
        self.mesh_topology = mesh_topology(topology, split_algorithm=split_algorithm, faults=faults)
        self._own_home = run_dir is None
        self.home = Path(run_dir) if run_dir else Path(tempfile.mkdtemp(prefix="smi-conformance-"))
        self.log_level = log_level
        self.handle: MeshThread | None = None
        self._http = httpx.Client(timeout=httpx.Timeout(10.0), trust_env=False)

    @property
    def mesh(self) -> EmbeddedMesh:
        if self.handle is None:
            raise ClusterError("the embedded cluster is not running")
        return self.handle.mesh

    def start(self) -> None:
        if self.handle is not None:
            return
        mesh = EmbeddedMesh(self.mesh_topology, base_dir=self.home, home=self.home, log_level=self.log_level)
        try:
            self.handle = MeshThread(mesh).start()
        except Exception as exc:
            raise ClusterError(f"the reference mesh did not start: {exc}") from exc

    def stop(self) -> None:
        handle, self.handle = self.handle, None
        if handle is not None:
            handle.close()
        self._http.close()
        if self._own_home:
            shutil.rmtree(self.home, ignore_errors=True)

    def _run_admission(self, docs: Sequence[Mapping[str, Any]], *, delete: bool) -> None:
        loaded = documents_from_dicts([dict(d) for d in docs], "<conformance test>")
        cp = self.mesh.control_plane
        coro = cp.delete(loaded, ignore_not_found=True) if delete else cp.apply(loaded)
        assert self.handle is not None
        outcome = self.handle.run(coro)
        if not outcome.admission.ok:
            raise ApplyRefused(
                [
                    f"{f.code} {f.message} [{f.location}]"
                    for f in outcome.admission.findings
                    if f.severity == "error"
                ]
            )

    def apply(self, docs: Sequence[Mapping[str, Any]]) -> None:
        self._run_admission(docs, delete=False)

    def delete(self, docs: Sequence[Mapping[str, Any]]) -> None:
        self._run_admission(docs, delete=True)

    def _address(self, client: WorkloadSpec) -> str:
        return self.mesh.pod_address(client.pod_names()[0], client.namespace)

    def driver_url(self, client: WorkloadSpec) -> str:
        return f"http://{self._address(client)}:{DRIVER_PORT + APP_PORT_OFFSET}"

    def target(self, client: WorkloadSpec, service: ServiceSpec, protocol: Protocol) -> Target:
        port = service.port(protocol).port
        host = f"{service.name}.{service.namespace}:{port}"
        if protocol == "http":
            return Target(f"{self._address(client)}:{OUTBOUND_HTTP_PORT}", host)
        local = self.mesh.local_port(service.name, port, service.namespace)
        return Target(f"{self._address(client)}:{local}", host)

    def metrics_get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        try:
            resp = self._http.get(self.mesh.metrics_url + path, params=dict(params or {}))
        except httpx.HTTPError as exc:
            raise MetricsUnavailable(
                f"the Traffic Metrics API at {self.mesh.metrics_url} did not answer: {exc}"
            ) from exc
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise MetricsUnavailable(f"GET {path}: {resp.status_code} {resp.text[:300]}")
        return resp.json()

    def describe(self) -> dict[str, Any]:
        mesh = self.mesh
        return {
            "kind": self.kind,
            "subnet": f"{mesh.prefix}.0/24",
            "pods": len(mesh.pods),
            "startupSeconds": mesh.startup_s,
            "splitAlgorithm": self.mesh_topology.split_algorithm,
        }

    def save_artifacts(self, dest: Path) -> list[Path]:
        if self.handle is None:
            return []
        written = []
        logs = self.mesh.run_dir / "logs"
        dest.mkdir(parents=True, exist_ok=True)
        for log in sorted(logs.glob("*.log")) if logs.is_dir() else []:
            target = dest / log.name
            shutil.copyfile(log, target)
            written.append(target)
        state = dest / "mesh-objects.yaml"
        stored = self.mesh.store.state().objects.values()
        objects = [s.obj.model_dump(mode="json", by_alias=True, exclude_none=True) for s in stored]
        state.write_text(yaml.safe_dump_all(objects, sort_keys=False))
        written.append(state)
        return written
