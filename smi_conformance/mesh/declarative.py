"""Declarative adapter files: a third-party mesh described in YAML instead of Python (``--smi-mesh=FILE``).

    apiVersion: conformance.smi-conformance.io/v1alpha1
    kind: MeshAdapter
    metadata: {name: linkerd}
    spec:
      mesh:                       # the claims (MeshInfo): versions, features, denial forms, metrics
        name: Linkerd
        verified: false
        apiVersions: {split.smi-spec.io: [v1alpha1, v1alpha2]}
        features: [TrafficSplit]
      sources: [https://...]      # where the claims come from
      kubernetes:
        tools: [linkerd, kubectl]                       # must be on PATH
        build: [{name: proxy, run: ./build.sh}]     # prints an image name -> ${IMAGE_PROXY}
        images: [${IMAGE_PROXY}]                    # loaded into kind nodes
        install:                                        # steps, in order
          - run: linkerd install --crds | kubectl apply -f -
          - apply: manifests/mesh.yaml                  # applied by the suite (server-side apply)
          - waitFor: {namespace: linkerd}               # its Deployments and DaemonSets ready
        uninstall:
          - delete: manifests/mesh.yaml                 # deleted, and waited for
        enrol:
          namespaceAnnotations: {linkerd.io/inject: enabled}
          clientAnnotations: {config.linkerd.io/skip-inbound-ports: "${DRIVER_PORT}"}
        serviceHost: ${SERVICE}.${NAMESPACE}.svc.cluster.local

``run`` steps run with ``bash -c`` in the adapter file's folder with ``KUBECONFIG`` and ``KUBE_CONTEXT`` set
to the run's cluster (tools must be pointed at it: ``kubectl --context "$KUBE_CONTEXT"``), plus
``SUITE_IMAGE``, ``IMAGE_PULL_POLICY``, ``DRIVER_PORT``, ``ADAPTER_DIR``, ``IMAGE_<NAME>`` of each build step
and, for enrolment steps, ``NAMESPACE``. The same ``${NAME}`` variables are substituted in images, labels,
annotations (pod ones also take ``WORKLOAD``, ``APP`` and ``VERSION``), ``serviceHost`` (``SERVICE`` and
``NAMESPACE`` only) and the manifest files of ``apply`` and ``delete`` steps (there a ``$`` that starts no
name, as in a regex, stays as it is). An error in the file is reported
with its ``file:line:column``, before anything runs.
"""

from __future__ import annotations

import os
import shutil
import string
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from smi_conformance.cluster.base import ClusterError
from smi_conformance.cluster.kubeapi import ApiError, Resource
from smi_conformance.cluster.kubeobjects import NotServed, describe
from smi_conformance.manifests import Document, load_text
from smi_conformance.mesh.adapter import AdapterError, MeshAdapter, MeshInfo
from smi_conformance.mesh.kubernetes import KubeAccess, KubernetesSupport, Stamp
from smi_conformance.suite.topology import DRIVER_PORT, WorkloadSpec

__all__ = ["ADAPTER_API_VERSION", "AdapterFile", "DeclarativeAdapter", "load_adapter_file"]

ADAPTER_API_VERSION = "conformance.smi-conformance.io/v1alpha1"
#: Variables every step and template may use (``IMAGE_<NAME>`` of build steps besides).
COMMON_VARIABLES = frozenset(
    {"KUBECONFIG", "KUBE_CONTEXT", "SUITE_IMAGE", "IMAGE_PULL_POLICY", "DRIVER_PORT", "ADAPTER_DIR"}
)
#: In pod labels and annotations: the workload's name, its ``app`` and ``version`` labels.
POD_VARIABLES = frozenset({"WORKLOAD", "APP", "VERSION"})
NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DEPLOYMENTS = Resource("Deployment", "deployments", "apps")
DAEMONSETS = Resource("DaemonSet", "daemonsets", "apps")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True)


class WaitFor(_Model):
    """Until the Deployments (and DaemonSets) of a namespace are ready."""

    namespace: Annotated[str, Field(pattern=NAME)]
    #: Only these (Deployments or DaemonSets, by name); empty: every one in the namespace.
    names: list[str] = Field(default_factory=list)


class Step(_Model):
    """One install, uninstall or enrolment step: exactly one of ``run``, ``apply``, ``delete``,
    ``waitFor``."""

    run: str | None = None
    apply: str | None = None
    delete: str | None = None
    wait_for: WaitFor | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 300.0
    #: Go on when the step fails (uninstall steps for things that may not be there).
    ignore_errors: bool = False

    @model_validator(mode="after")
    def _one(self) -> Step:
        given = [k for k in ("run", "apply", "delete", "wait_for") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "a step has exactly one of run, apply, delete, waitFor"
                + (f" (this one has {', '.join(given)})" if given else "")
            )
        return self

    def describe(self) -> str:
        if self.run is not None:
            return f"run `{self.run.strip()}`"
        if self.apply is not None:
            return f"apply {self.apply}"
        if self.delete is not None:
            return f"delete {self.delete}"
        assert self.wait_for is not None
        return f"wait for namespace {self.wait_for.namespace}"


class Build(_Model):
    """A host command that builds an image the mesh needs and prints its name on its last line."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    run: str
    timeout_seconds: Annotated[float, Field(gt=0, le=7200)] = 1800.0


class Enrolment(_Model):
    """How the suite's namespaces, pods and Services join the mesh."""

    namespace_labels: dict[str, str] = Field(default_factory=dict)
    namespace_annotations: dict[str, str] = Field(default_factory=dict)
    pod_labels: dict[str, str] = Field(default_factory=dict)
    pod_annotations: dict[str, str] = Field(default_factory=dict)
    #: On the traffic drivers' pods only: leave ``${DRIVER_PORT}`` out of interception.
    client_annotations: dict[str, str] = Field(default_factory=dict)
    service_annotations: dict[str, str] = Field(default_factory=dict)
    #: Steps per namespace, after it is created and before its pods (``$NAMESPACE``).
    run: list[Step] = Field(default_factory=list)


class KubernetesSpec(_Model):
    tools: list[str] = Field(default_factory=list)
    build: list[Build] = Field(default_factory=list)
    images: list[str] = Field(default_factory=list)
    install: Annotated[list[Step], Field(min_length=1)]
    uninstall: Annotated[list[Step], Field(min_length=1)]
    enrol: Enrolment = Enrolment()
    service_host: str = "${SERVICE}.${NAMESPACE}.svc.cluster.local"
    system_namespaces: list[str] = Field(default_factory=list)


class AdapterSpec(_Model):
    mesh: MeshInfo
    #: Where the claims come from (the mesh's documentation).
    sources: list[str] = Field(default_factory=list)
    kubernetes: KubernetesSpec


class Metadata(_Model):
    name: Annotated[str, Field(pattern=NAME)]


class AdapterFile(_Model):
    api_version: Literal["conformance.smi-conformance.io/v1alpha1"]
    kind: Literal["MeshAdapter"]
    metadata: Metadata
    spec: AdapterSpec


# ------------------------------------------------------------------------------------------------ loading
def _variables(text: str) -> set[str]:
    return {
        m.group("named") or m.group("braced")
        for m in string.Template.pattern.finditer(text)
        if m.group("named") or m.group("braced")
    }


def _template_errors(adapter: AdapterFile) -> list[tuple[tuple[str | int, ...], str]]:
    """Unknown ``${NAME}`` variables in the file's templates, as (path, message)."""
    kube = adapter.spec.kubernetes
    known: frozenset[str] = COMMON_VARIABLES | {f"IMAGE_{b.name.upper()}" for b in kube.build}
    checks: list[tuple[tuple[str | int, ...], str, frozenset[str]]] = [
        (("spec", "kubernetes", "serviceHost"), kube.service_host, frozenset({"SERVICE", "NAMESPACE"}))
    ]
    checks += [(("spec", "kubernetes", "images", i), image, known) for i, image in enumerate(kube.images)]
    enrol = kube.enrol
    per_pod = known | POD_VARIABLES
    for field_name, values, allowed in (
        ("namespaceLabels", enrol.namespace_labels, known),
        ("namespaceAnnotations", enrol.namespace_annotations, known),
        ("podLabels", enrol.pod_labels, per_pod),
        ("podAnnotations", enrol.pod_annotations, per_pod),
        ("clientAnnotations", enrol.client_annotations, per_pod),
        ("serviceAnnotations", enrol.service_annotations, known),
    ):
        checks += [(("spec", "kubernetes", "enrol", field_name, k), v, allowed) for k, v in values.items()]
    out = []
    for path, text, allowed in checks:
        unknown = sorted(_variables(text) - set(allowed))
        if unknown:
            out.append(
                (path, f"unknown variable(s) {', '.join(unknown)}; known here: {', '.join(sorted(allowed))}")
            )
    return out


def load_adapter_file(path: Path) -> DeclarativeAdapter:
    """Read and validate an adapter file. AdapterError with ``file:line:column`` for anything wrong."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AdapterError(f"cannot read mesh adapter file {path}: {exc.strerror or exc}") from None
    loaded = load_text(data, str(path))
    if loaded.issues:
        issue = loaded.issues[0]
        raise AdapterError(f"{issue.location}: {issue.message}")
    if len(loaded.documents) != 1:
        raise AdapterError(f"{path}: a mesh adapter file holds one document, found {len(loaded.documents)}")
    document = loaded.documents[0]
    try:
        adapter = AdapterFile.model_validate(document.data)
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            got = f" (got {error['input']!r})" if error["type"] in ("enum", "literal_error") else ""
            lines.append(
                f"{_locate(document, loc)}: {'.'.join(map(str, loc)) or '(file)'}: {error['msg']}{got}"
            )
        raise AdapterError("invalid mesh adapter file:\n  " + "\n  ".join(lines)) from None
    problems = _template_errors(adapter)
    if problems:
        raise AdapterError(
            "invalid mesh adapter file:\n  "
            + "\n  ".join(f"{_locate(document, p)}: {'.'.join(map(str, p))}: {m}" for p, m in problems)
        )
    return DeclarativeAdapter(adapter, path.resolve(), document)


def _locate(document: Document, loc: Iterable[str | int]) -> str:
    # pydantic names a failing model validator's input with no extra path item, tagged unions with the
    # tag: only the parts that exist in the document are kept by locate()
    return str(
        document.locate(tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-"))))
    )


# ------------------------------------------------------------------------------------------------ running
class DeclarativeAdapter(MeshAdapter):
    """A mesh described by an adapter file: its claims, and how to install it on Kubernetes."""

    def __init__(self, spec: AdapterFile, path: Path, document: Document | None = None):
        super().__init__({})
        self.spec = spec
        self.path = path
        #: Where run steps run and manifest files are found.
        self.folder = path.parent
        self.document = document
        self.info = spec.spec.mesh

    def located(self, *path: str | int) -> str:
        """``file:line:column`` of a node of the file (for messages about its steps)."""
        return str(self.document.locate(path)) if self.document is not None else ".".join(map(str, path))

    def kubernetes(self) -> KubernetesSupport:
        missing = [t for t in self.spec.spec.kubernetes.tools if shutil.which(t) is None]
        if missing:
            raise AdapterError(
                f"{self.located('spec', 'kubernetes', 'tools')}: mesh {self.info.name!r} needs "
                f"{', '.join(missing)} on PATH"
            )
        return DeclarativeKubernetes(self)


class DeclarativeKubernetes(KubernetesSupport):
    def __init__(self, adapter: DeclarativeAdapter):
        self.adapter = adapter
        self.kube = adapter.spec.spec.kubernetes
        self.system_namespaces = tuple(self.kube.system_namespaces)
        self.built: dict[str, str] = {}

    # --------------------------------------------------------------------------------------- variables
    def variables(self, kube: KubeAccess | None = None, /, **extra: str) -> dict[str, str]:
        out = {
            "ADAPTER_DIR": str(self.adapter.folder),
            "DRIVER_PORT": extra.pop("DRIVER_PORT", str(DRIVER_PORT)),
            **{f"IMAGE_{k.upper()}": v for k, v in self.built.items()},
        }
        if kube is not None:
            out.update(
                SUITE_IMAGE=kube.image,
                IMAGE_PULL_POLICY=kube.image_pull_policy,
                KUBE_CONTEXT=kube.context,
                KUBECONFIG=str(kube.kubeconfig or ""),
            )
        out.update(extra)
        return out

    @staticmethod
    def _fill(text: str, variables: Mapping[str, str]) -> str:
        return string.Template(text).safe_substitute(variables)

    def _stamp(self, labels: Mapping[str, str], annotations: Mapping[str, str], **extra: str) -> Stamp:
        v = self.variables(None, **extra)
        return Stamp(
            labels={k: self._fill(x, v) for k, x in labels.items()},
            annotations={k: self._fill(x, v) for k, x in annotations.items()},
        )

    # ------------------------------------------------------------------------------------------- hooks
    def prepare(self) -> None:
        for i, build in enumerate(self.kube.build):
            if build.name in self.built:
                continue
            where = self.adapter.located("spec", "kubernetes", "build", i)
            out = self._shell(build.run, self.variables(), build.timeout_seconds, where)
            lines = out.strip().splitlines()
            if not lines:
                raise ClusterError(f"{where}: build {build.name!r} printed no image name")
            self.built[build.name] = lines[-1].strip()

    def images(self) -> list[str]:
        self.prepare()
        v = self.variables()
        return [self._fill(i, v) for i in self.kube.images]

    def install(self, kube: KubeAccess) -> None:
        self.prepare()
        self._steps(kube, self.kube.install, ("spec", "kubernetes", "install"), {})

    def uninstall(self, kube: KubeAccess) -> None:
        self._steps(kube, self.kube.uninstall, ("spec", "kubernetes", "uninstall"), {})

    def namespace(self) -> Stamp:
        return self._stamp(self.kube.enrol.namespace_labels, self.kube.enrol.namespace_annotations)

    def enrol(self, kube: KubeAccess, namespace: str) -> None:
        self._steps(
            kube, self.kube.enrol.run, ("spec", "kubernetes", "enrol", "run"), {"NAMESPACE": namespace}
        )

    def pod(self, workload: WorkloadSpec, driver_port: int) -> Stamp:
        enrol = self.kube.enrol
        annotations = dict(enrol.pod_annotations)
        if workload.role == "client":
            annotations.update(enrol.client_annotations)
        return self._stamp(
            enrol.pod_labels,
            annotations,
            DRIVER_PORT=str(driver_port),
            WORKLOAD=workload.name,
            APP=workload.app,
            VERSION=workload.version,
        )

    def service(self) -> Stamp:
        return self._stamp({}, self.kube.enrol.service_annotations)

    def service_host(self, service: str, namespace: str) -> str:
        return string.Template(self.kube.service_host).substitute(SERVICE=service, NAMESPACE=namespace)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"adapterFile": str(self.adapter.path)}
        if self.built:
            out["built"] = dict(self.built)
        return out

    # ------------------------------------------------------------------------------------------- steps
    def _steps(
        self, kube: KubeAccess, steps: list[Step], path: tuple[str | int, ...], extra: dict[str, str]
    ) -> None:
        variables = self.variables(kube, **extra)
        for i, step in enumerate(steps):
            where = self.adapter.located(*path, i)
            kube.log(f"{self.adapter.info.name}: {step.describe()}")
            try:
                self._step(kube, step, variables, where)
            except ClusterError as exc:
                if not step.ignore_errors:
                    raise
                kube.log(f"ignored: {exc}")

    def _step(self, kube: KubeAccess, step: Step, variables: dict[str, str], where: str) -> None:
        if step.run is not None:
            self._shell(step.run, {**kube.env(), **variables}, step.timeout_seconds, where, inherit=False)
        elif step.apply is not None:
            for obj in self._manifest(step.apply, variables, where):
                try:
                    kube.objects.apply(obj, wait_s=min(60.0, step.timeout_seconds))
                except (ApiError, NotServed, ValueError) as exc:
                    raise ClusterError(f"{where}: applying {describe(obj)}: {exc}") from exc
        elif step.delete is not None:
            objs = list(reversed(self._manifest(step.delete, variables, where)))
            for obj in objs:
                try:
                    kube.objects.delete(obj)
                except (ApiError, ValueError) as exc:
                    raise ClusterError(f"{where}: deleting {describe(obj)}: {exc}") from exc
            left = kube.objects.wait_gone(objs, step.timeout_seconds)
            if left:
                raise ClusterError(
                    f"{where}: still there after {step.timeout_seconds:g} s: {', '.join(left)}"
                )
        elif step.wait_for is not None:
            self._wait(kube, step.wait_for, step.timeout_seconds, where)

    def _manifest(self, name: str, variables: Mapping[str, str], where: str) -> list[dict[str, Any]]:
        path = self.adapter.folder / name
        try:
            text = path.read_text()
        except OSError as exc:
            raise ClusterError(f"{where}: cannot read {path}: {exc.strerror or exc}") from None
        # a `$` that starts no name is left as it is (regex anchors in CRD schemas); unknown names are errors
        unknown = sorted(_variables(text) - set(variables))
        if unknown:
            raise ClusterError(f"{where}: {path}: unknown variable(s) {', '.join(unknown)}")
        filled = string.Template(text).safe_substitute(variables)
        try:
            docs = [d for d in yaml.safe_load_all(filled) if d]
        except yaml.YAMLError as exc:
            raise ClusterError(f"{where}: {path}: not valid YAML: {exc}") from None
        bad = [
            i for i, d in enumerate(docs) if not (isinstance(d, dict) and d.get("kind") and d.get("metadata"))
        ]
        if bad:
            raise ClusterError(f"{where}: {path}: document {bad[0] + 1} is not a Kubernetes object")
        return docs

    def _wait(self, kube: KubeAccess, wait: WaitFor, timeout_s: float, where: str) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            missing = []
            try:
                # the items of a list carry no kind: it is the resource's
                found = [
                    (resource.kind, obj)
                    for resource in (DEPLOYMENTS, DAEMONSETS)
                    for obj in kube.objects.items(resource, wait.namespace)
                ]
            except ApiError as exc:
                raise ClusterError(f"{where}: {exc}") from exc
            names = {o["metadata"]["name"] for _, o in found}
            missing += [f"{n} (not found)" for n in wait.names if n not in names]
            for kind, obj in found:
                name = obj["metadata"]["name"]
                if wait.names and name not in wait.names:
                    continue
                status = obj.get("status") or {}
                if status.get("observedGeneration", 0) < obj["metadata"].get("generation", 1):
                    missing.append(f"{kind} {name} not yet seen by its controller")
                    continue
                want = status.get("desiredNumberScheduled", (obj.get("spec") or {}).get("replicas", 1))
                ready = status.get("numberReady", status.get("readyReplicas", 0))
                if ready < want:
                    missing.append(f"{kind} {name} {ready}/{want} ready")
            if not found and not wait.names:
                missing.append("nothing deployed yet")
            if not missing:
                return
            if time.monotonic() > deadline:
                raise ClusterError(f"{where}: not ready after {timeout_s:g} s: {'; '.join(missing[:5])}")
            time.sleep(1.0)

    def _shell(
        self, command: str, env: Mapping[str, str], timeout_s: float, where: str, *, inherit: bool = True
    ) -> str:
        full = {**os.environ, **env} if inherit else dict(env)
        try:
            done = subprocess.run(
                ["bash", "-c", command],
                cwd=self.adapter.folder,
                env=full,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ClusterError(
                f"{where}: `{command.strip()}` did not finish within {timeout_s:g} s"
            ) from None
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
            raise ClusterError(f"{where}: `{command.strip()}` failed (exit {done.returncode}):\n{tail}")
        return done.stdout
