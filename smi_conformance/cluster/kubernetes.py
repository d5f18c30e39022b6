"""The standard topology on a real Kubernetes cluster, with the mesh under test (``--smi-cluster=kubeconfig
--smi-kube-context=NAME``; ``--smi-cluster=kind`` builds on it, :mod:`.kind_backend`).

``start`` refuses to touch namespaces it did not create (the topology's namespaces must not exist, or carry
the suite's label from an earlier run, which are then removed first), asks the mesh's adapter to install the
mesh, creates the namespaces enrolled as the adapter says, deploys service accounts, Services, echo backends
and traffic drivers, and waits until every pod is ready and every driver answers. ``stop`` deletes the
namespaces and uninstalls the mesh, so the cluster is left as it was.

SMI objects go through the API server in the versions the mesh's CRDs serve: a batch is first validated
whole by a server-side dry run (schema and admission webhooks judge every object; a refusal names the
object and carries the server's message, and nothing is applied), then applied by server-side apply; should
the API server refuse an object the dry run accepted (another client changed something in between), the
objects of the batch already applied are put back as they were.

The suite reaches each client's traffic driver through the API server's pod proxy (``/api/v1/namespaces/NS/
pods/POD:8000/proxy``, with the kubeconfig's credentials): proxy requests are long-running requests for the
API server, so a weight check's batch of several seconds is carried whole. Services are addressed by the
adapter's naming (Kubernetes DNS unless the mesh says otherwise); the Traffic Metrics API is read through
the API server (``/apis/metrics.smi-spec.io/v1alpha1/...``).
"""

from __future__ import annotations

import contextlib
import ssl
import time
from collections import deque
from collections.abc import Callable, Generator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
from kubernetes import client as k8s_client

from smi_conformance.cluster.base import ApplyRefused, Cluster, ClusterError, MetricsUnavailable, Target
from smi_conformance.cluster.kube_topology import MANAGED_BY, namespace_objects, workload_objects
from smi_conformance.cluster.kubeapi import ApiError, KubeApi, Resource, connect
from smi_conformance.cluster.kubeobjects import NotServed, Objects, describe
from smi_conformance.mesh.kubernetes import KubeAccess, KubernetesSupport
from smi_conformance.suite.topology import DRIVER_PORT, Protocol, ServiceSpec, Topology, WorkloadSpec

__all__ = ["KubernetesCluster", "driver_http_client"]

Log = Callable[[str], None]
DEPLOYMENTS = Resource("Deployment", "deployments", "apps")
PODS = Resource("Pod", "pods")
NAMESPACES = Resource("Namespace", "namespaces", namespaced=False)
METRICS_GROUP, METRICS_VERSION = "metrics.smi-spec.io", "v1alpha1"
#: Container states that will not get better by waiting.
FATAL_WAITING = {
    "ErrImagePull": "the node cannot pull the image",
    "ImagePullBackOff": "the node cannot pull the image",
    "ErrImageNeverPull": "the image is not on the node (imagePullPolicy Never)",
    "InvalidImageName": "the image name is invalid",
    "CreateContainerConfigError": "the container's configuration is invalid",
    "CreateContainerError": "the container could not be created",
    "CrashLoopBackOff": "the container keeps crashing",
}
#: API statuses that are a judgement on the objects (schema, admission), not a broken cluster.
REFUSALS = (400, 409, 422)


def _namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


class _KubeAuth(httpx.Auth):
    """The kubeconfig's bearer token on every request, as the kubernetes client would send it (refreshed by
    its exec plugin hook when the configuration has one)."""

    def __init__(self, configuration: k8s_client.Configuration):
        self.configuration = configuration

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        settings: Mapping[str, Any] = self.configuration.auth_settings()
        for setting in settings.values():
            if setting.get("in") == "header" and setting.get("value"):
                request.headers[setting["key"]] = setting["value"]
        yield request


def driver_http_client(api: KubeApi) -> httpx.Client:
    """An HTTP client that speaks to the API server with the kubeconfig's credentials (CA, client
    certificate, token): the suite's channel to the traffic drivers through the pod proxy."""
    conf: k8s_client.Configuration = api.api_client.configuration
    if conf.verify_ssl:
        context = ssl.create_default_context(cafile=conf.ssl_ca_cert)
    else:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if conf.cert_file:
        context.load_cert_chain(conf.cert_file, conf.key_file)
    return httpx.Client(verify=context, auth=_KubeAuth(conf), trust_env=False)


class KubernetesCluster(Cluster):
    """The standard topology and the mesh on the cluster a kubeconfig context names."""

    kind = "kubeconfig"

    def __init__(
        self,
        topology: Topology,
        mesh: KubernetesSupport,
        *,
        context: str,
        kubeconfig: Path | None = None,
        image: str,
        image_pull_policy: str = "IfNotPresent",
        timeout_s: float = 300.0,
        log: Log = lambda _: None,
    ):
        super().__init__(topology)
        if not context:
            raise ClusterError(
                "a Kubernetes cluster needs an explicit context (--smi-kube-context NAME): the suite never "
                "uses the kubeconfig's current context"
            )
        self.mesh = mesh
        self.context = context
        self.kubeconfig = kubeconfig
        self.image = image
        self.image_pull_policy = image_pull_policy
        self.timeout_s = timeout_s
        self.log = log
        self._api: KubeApi | None = None
        self._objects: Objects | None = None
        self.access: KubeAccess | None = None
        self._installed = False
        self._namespaces: list[str] = []  # created by this run
        self._drivers: dict[tuple[str, str], str] = {}  # (namespace, workload) -> pod
        self._metrics_served: bool | None = None
        #: What the run applied and deleted, newest last (saved with the artifacts).
        self.journal: deque[tuple[str, list[dict[str, Any]]]] = deque(maxlen=500)
        self.timings: dict[str, float] = {}
        self._version: dict[str, Any] = {}
        self._nodes = 0

    # ---------------------------------------------------------------------------------------- plumbing
    @property
    def api(self) -> KubeApi:
        if self._api is None:
            raise ClusterError("the Kubernetes cluster is not started")
        return self._api

    @property
    def objects(self) -> Objects:
        if self._objects is None:
            raise ClusterError("the Kubernetes cluster is not started")
        return self._objects

    @contextlib.contextmanager
    def _timed(self, what: str) -> Generator[None, None, None]:
        started = time.monotonic()
        yield
        self.timings[what] = round(time.monotonic() - started, 2)

    def _connect(self) -> None:
        try:
            self._api = KubeApi(connect(self.kubeconfig, self.context))
            self._version = self._api.get("/version") or {}
            self._nodes = len(self._api.get("/api/v1/nodes").get("items") or [])
        except ApiError as exc:
            self._api = None
            raise ClusterError(f"cannot reach the cluster of context {self.context!r}: {exc}") from exc
        self._objects = Objects(self._api)
        self.access = KubeAccess(
            api=self._api,
            objects=self._objects,
            kubeconfig=self.kubeconfig,
            context=self.context,
            image=self.image,
            image_pull_policy=self.image_pull_policy,
            timeout_s=self.timeout_s,
            log=self.log,
        )

    # ------------------------------------------------------------------------------------------- start
    def start(self) -> None:
        if self._api is not None:
            return
        started = time.monotonic()
        self._connect()
        assert self.access is not None
        self.mesh.prepare()
        with self._timed("claimNamespaces"):
            self._claim_namespaces()
        self.log(f"installing the mesh on {self.context}")
        with self._timed("installMesh"):
            self._installed = True  # a half-done install is uninstalled too
            self.mesh.install(self.access)
        with self._timed("deployTopology"):
            self._create_namespaces()
            for obj in workload_objects(self.topology, self.mesh, self.image, self.image_pull_policy):
                try:
                    self.objects.apply(obj)
                except (ApiError, NotServed) as exc:
                    raise ClusterError(f"cannot create {describe(obj)}: {exc}") from exc
        self.log("waiting for the standard topology's pods")
        with self._timed("podsReady"):
            self._wait_ready()
            self._find_drivers()
        self.timings["startup"] = round(time.monotonic() - started, 2)

    def _owned(self, namespace: Mapping[str, Any]) -> bool:
        labels = (namespace.get("metadata") or {}).get("labels") or {}
        return bool(labels.get(MANAGED_BY[0]) == MANAGED_BY[1])

    def _claim_namespaces(self) -> None:
        """Refuse namespaces someone else created; remove the suite's own left by an earlier run."""
        leftovers = []
        for name in self.topology.namespaces:
            found = self.objects.get(_namespace(name))
            if found is None:
                continue
            if not self._owned(found):
                raise ClusterError(
                    f"namespace {name} exists and was not created by smi-conformance (no label "
                    f"{MANAGED_BY[0]}={MANAGED_BY[1]}): the suite does not touch it; choose another prefix "
                    "with --smi-namespace"
                )
            leftovers.append(found)
        if leftovers:
            names = ", ".join(n["metadata"]["name"] for n in leftovers)
            self.log(f"removing the namespaces an earlier run left ({names})")
            for ns in leftovers:
                self.objects.delete(ns)
            left = self.objects.wait_gone(leftovers, self.timeout_s)
            if left:
                raise ClusterError(f"{', '.join(left)} still there after {self.timeout_s:g} s")

    def _create_namespaces(self) -> None:
        assert self.access is not None
        for ns in namespace_objects(self.topology, self.mesh):
            try:
                self.api.request("POST", NAMESPACES.path(), body=ns)
            except ApiError as exc:
                raise ClusterError(f"cannot create namespace {ns['metadata']['name']}: {exc}") from exc
            self._namespaces.append(ns["metadata"]["name"])
            self.mesh.enrol(self.access, ns["metadata"]["name"])

    def _pod_problem(self, pod: Mapping[str, Any]) -> str | None:
        """Why a pod will never be ready, if it will not."""
        status = pod.get("status") or {}
        for c in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]:
            waiting = (c.get("state") or {}).get("waiting") or {}
            reason = waiting.get("reason", "")
            if reason in FATAL_WAITING:
                name = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
                detail = (waiting.get("message") or "").strip()[:300]
                return (
                    f"pod {name}, container {c['name']} ({c.get('image')}): {reason}: {FATAL_WAITING[reason]}"
                    + (f" ({detail})" if detail else "")
                )
        return None

    def _not_ready(self) -> list[str]:
        missing: list[str] = []
        for ns in self.topology.namespaces:
            for d in self.objects.items(DEPLOYMENTS, ns):
                name, spec, st = d["metadata"]["name"], d.get("spec") or {}, d.get("status") or {}
                for cond in st.get("conditions") or []:
                    if cond.get("type") == "ReplicaFailure" and cond.get("status") == "True":
                        why = cond.get("message")
                        raise ClusterError(f"deployment {ns}/{name} cannot create pods: {why}")
                want = spec.get("replicas", 1)
                if st.get("readyReplicas", 0) < want or st.get("updatedReplicas", 0) < want:
                    missing.append(f"{ns}/{name} {st.get('readyReplicas', 0)}/{want} ready")
            for pod in self.objects.items(PODS, ns):
                problem = self._pod_problem(pod)
                if problem:
                    raise ClusterError(problem)
        return missing

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        while True:
            missing = self._not_ready()
            if not missing:
                return
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"the standard topology was not ready after {self.timeout_s:g} s: "
                    + "; ".join(missing[:6])
                )
            time.sleep(1.0)

    def _find_drivers(self) -> None:
        with driver_http_client(self.api) as http:
            for w in self.topology.clients:
                selector = ",".join(f"{k}={v}" for k, v in w.labels.items())
                pods = [
                    p
                    for p in self.objects.items(PODS, w.namespace, labelSelector=selector)
                    if "deletionTimestamp" not in p["metadata"]
                    and (p.get("status") or {}).get("phase") == "Running"
                ]
                if not pods:
                    raise ClusterError(f"no running pod of {w.namespace}/{w.name}")
                self._drivers[(w.namespace, w.name)] = pods[0]["metadata"]["name"]
                url, who = self.driver_url(w) + "/healthz", f"{w.namespace}/{w.name}"
                try:
                    resp = http.get(url, timeout=30)
                except httpx.HTTPError as exc:
                    raise ClusterError(f"the traffic driver of {who} did not answer: {exc}") from exc
                if resp.status_code != 200:
                    raise ClusterError(
                        f"the traffic driver of {who} answered {resp.status_code} through the API server's "
                        f"pod proxy: {resp.text[:300]}"
                    )

    # -------------------------------------------------------------------------------------------- stop
    def stop(self) -> None:
        if self._api is None:
            return
        errors: list[str] = []
        ns_objs = [_namespace(n) for n in self._namespaces]
        started = time.monotonic()
        try:
            for ns in ns_objs:
                with contextlib.suppress(ApiError):
                    self.objects.delete(ns)
            if self._installed and self.access is not None:
                self.log("uninstalling the mesh")
                try:
                    self.mesh.uninstall(self.access)
                except (ClusterError, ApiError) as exc:
                    errors.append(f"uninstalling the mesh failed: {exc}")
                self._installed = False
            left = self.objects.wait_gone(ns_objs, self.timeout_s)
            if left:
                errors.append(f"still there after {self.timeout_s:g} s: {', '.join(left)}")
            self._namespaces = []
            self.timings["teardown"] = round(time.monotonic() - started, 2)
        finally:
            self._api.api_client.close()  # type: ignore[no-untyped-call]
            self._api = self._objects = self.access = None
        if errors:
            raise ClusterError("; ".join(errors))

    # ------------------------------------------------------------------------------------- SMI objects
    def _refusal(self, obj: Mapping[str, Any], exc: ApiError | NotServed) -> str | None:
        """The refusal message when ``exc`` judges the object (schema, admission, a version the cluster does
        not serve); None when the cluster is broken."""
        if isinstance(exc, NotServed):
            return f"{describe(obj)}: {exc}"
        if exc.status in REFUSALS:
            return f"{describe(obj)}: {exc.message}"
        return None

    def apply(self, docs: Sequence[Mapping[str, Any]]) -> None:
        batch = [dict(d) for d in docs]
        refusals = []
        for obj in batch:
            try:
                self.objects.apply(obj, dry_run=True)
            except (ApiError, NotServed) as exc:
                message = self._refusal(obj, exc)
                if message is None:
                    raise ClusterError(f"dry run of {describe(obj)}: {exc}") from exc
                refusals.append(message)
        if refusals:
            raise ApplyRefused(refusals)
        before = [self.objects.get(obj) for obj in batch]
        done = 0
        try:
            for obj in batch:
                self.objects.apply(obj)
                done += 1
        except (ApiError, NotServed) as exc:
            undo = self._roll_back(batch[:done], before[:done])
            self.journal.append((f"apply, refused at {describe(batch[done])} and rolled back", batch))
            message = self._refusal(batch[done], exc)
            if message is None:
                raise ClusterError(f"applying {describe(batch[done])}: {exc}; {undo}") from exc
            raise ApplyRefused([f"{message} ({undo})"]) from exc
        self.journal.append(("apply", batch))

    def _roll_back(self, applied: list[dict[str, Any]], before: list[Any]) -> str:
        """Put the objects of a half-applied batch back as they were; says how that went."""
        failed = []
        for obj, previous in reversed(list(zip(applied, before, strict=True))):
            try:
                if previous is None:
                    self.objects.delete(obj)
                    continue
                current = self.objects.get(obj)
                restored = {**previous, "metadata": dict(previous["metadata"])}
                restored["metadata"].pop("managedFields", None)
                if current is None:
                    restored["metadata"].pop("resourceVersion", None)
                    self.objects.apply(restored)
                else:
                    restored["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
                    self.objects.replace(restored)
            except (ApiError, NotServed) as exc:
                failed.append(f"{describe(obj)}: {exc}")
        if failed:
            return "rolling the batch back failed: " + "; ".join(failed)
        if not applied:
            return "nothing of the batch was applied"
        return f"the {len(applied)} objects of the batch applied before were put back"

    def delete(self, docs: Sequence[Mapping[str, Any]]) -> None:
        batch = [dict(d) for d in docs]
        for obj in batch:
            try:
                self.objects.delete(obj)
            except ApiError as exc:
                raise ClusterError(f"deleting {describe(obj)}: {exc}") from exc
        self.journal.append(("delete", batch))

    # --------------------------------------------------------------------------------- traffic, metrics
    def driver_url(self, client: WorkloadSpec) -> str:
        pod = self._drivers.get((client.namespace, client.name))
        if pod is None:
            raise ClusterError(f"no traffic driver for {client.namespace}/{client.name} (not a client?)")
        host = self.api.api_client.configuration.host.rstrip("/")
        return f"{host}/api/v1/namespaces/{client.namespace}/pods/{pod}:{DRIVER_PORT}/proxy"

    def driver_client(self) -> httpx.Client:
        return driver_http_client(self.api)

    def target(self, client: WorkloadSpec, service: ServiceSpec, protocol: Protocol) -> Target:
        address = f"{self.mesh.service_host(service.name, service.namespace)}:{service.port(protocol).port}"
        return Target(address, address)

    def metrics_get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        try:
            return self.api.get(path, **dict(params or {}))
        except ApiError as exc:
            if exc.status == 404 and self._serves_metrics():
                return None
            if exc.status == 404:
                raise MetricsUnavailable(
                    f"the cluster serves no Traffic Metrics API ({METRICS_GROUP}/{METRICS_VERSION})"
                ) from exc
            raise MetricsUnavailable(f"GET {path}: {exc}") from exc

    def _serves_metrics(self) -> bool:
        if self._metrics_served is None:
            self._metrics_served = METRICS_VERSION in self.objects.served_versions(METRICS_GROUP)
        return self._metrics_served

    # ------------------------------------------------------------------------------------------ report
    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "context": self.context}
        if self._version:
            out["kubernetesVersion"] = self._version.get("gitVersion", "")
        if self._nodes:
            out["nodes"] = self._nodes
        out["image"] = self.image
        out["namespaces"] = list(self.topology.namespaces)
        if self.timings:
            out["seconds"] = dict(self.timings)
        mesh = self.mesh.describe()
        if mesh:
            out["mesh"] = mesh
        return out

    def save_artifacts(self, dest: Path) -> list[Path]:
        from smi_conformance.cluster.kube_artifacts import save_artifacts

        if self._api is None:
            return []
        return save_artifacts(self, dest)
