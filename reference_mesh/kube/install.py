"""Install and uninstall the reference mesh on a cluster (what ``reference-mesh install|uninstall`` do).

Install applies :func:`reference_mesh.kube.manifests.render`'s objects with server-side apply (field manager
``reference-mesh``), so running it again updates the installation in place; the mesh CA already in the
cluster is kept (a new one would strand every running proxy). It then waits until the CRDs are Established,
the control plane is ready (synced with the API, serving) and the Traffic Metrics APIService is Available.

Uninstall deletes what install created, webhooks and the APIService first (so the API server stops calling a
control plane that is going away), CRDs last (which deletes every SMI object in the cluster), and waits until
nothing of it is left. Pods injected earlier keep their sidecars until they are recreated.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reference_mesh.identity import CertificateAuthority
from reference_mesh.kube import names
from reference_mesh.kube.client import ApiError, KubeApi
from reference_mesh.kube.manifests import RESOURCES, InstallOptions, render, resource_of, smi_crds

__all__ = ["InstallError", "Leftover", "foreign_crds", "install", "leftovers", "uninstall"]

Log = Callable[[str], None]


class InstallError(RuntimeError):
    """Install or uninstall did not reach its goal (the message says what is missing)."""


@dataclass(frozen=True)
class Leftover:
    kind: str
    name: str
    namespace: str | None = None

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


def _read(api: KubeApi, kind: str, name: str, namespace: str | None = None) -> Any:
    try:
        return api.get(RESOURCES[kind].path(namespace, name))
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise


def existing_ca(api: KubeApi, trust_domain: str) -> CertificateAuthority | None:
    secret = _read(api, "Secret", names.CA_SECRET, names.NAMESPACE)
    if secret is None or "deletionTimestamp" in secret["metadata"]:
        return None
    data = secret.get("data") or {}
    return CertificateAuthority.from_pem(
        trust_domain, base64.b64decode(data["tls.crt"]), base64.b64decode(data["tls.key"])
    )


def apply_objects(api: KubeApi, objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        resource = resource_of(obj)
        meta = obj["metadata"]
        api.request(
            "PATCH",
            resource.path(meta.get("namespace"), meta["name"]),
            query=[("fieldManager", names.FIELD_MANAGER), ("force", "true")],
            body=obj,
            content_type="application/apply-patch+yaml",
        )


def _wait(what: str, probe: Callable[[], str | None], deadline: float, log: Log) -> None:
    """Until ``probe`` returns None (done); it returns what is still missing otherwise."""
    missing = probe()
    if missing is not None:
        log(f"waiting for {what}")
    while missing is not None:
        if time.monotonic() > deadline:
            raise InstallError(f"timed out waiting for {what}: {missing}")
        time.sleep(0.5)
        missing = probe()


def _crds_established(api: KubeApi) -> str | None:
    for crd in smi_crds():
        current = _read(api, "CustomResourceDefinition", crd["metadata"]["name"])
        conditions = {
            c["type"]: c["status"] for c in ((current or {}).get("status") or {}).get("conditions") or []
        }
        if conditions.get("Established") != "True":
            return f"CRD {crd['metadata']['name']} not Established"
    return None


def _control_plane_ready(api: KubeApi) -> str | None:
    deployment = _read(api, "Deployment", names.CONTROL_PLANE, names.NAMESPACE)
    if deployment is None:
        return "no Deployment"
    status, generation = deployment.get("status") or {}, deployment["metadata"].get("generation", 0)
    if status.get("observedGeneration", 0) < generation or status.get("updatedReplicas", 0) < 1:
        return "rolling out"
    if status.get("readyReplicas", 0) < 1 or status.get("unavailableReplicas", 0):
        logs = f"kubectl -n {names.NAMESPACE} logs deploy/{names.CONTROL_PLANE}"
        return f"not ready (syncing with the API server, or failing: {logs})"
    return None


def _apiservice_available(api: KubeApi) -> str | None:
    service = _read(api, "APIService", names.APISERVICE)
    conditions = {c["type"]: c for c in ((service or {}).get("status") or {}).get("conditions") or []}
    available = conditions.get("Available", {})
    if available.get("status") != "True":
        return f"Available={available.get('status')} {available.get('message', '')}".strip()
    return None


def _terminating_crds(api: KubeApi) -> str | None:
    """SMI CRDs being deleted (a mesh uninstalled a moment ago: the API server is still removing their
    objects); None when there are none. Neither ours to apply over nor someone else's to refuse."""
    terminating = []
    for crd in smi_crds():
        current = _read(api, "CustomResourceDefinition", crd["metadata"]["name"])
        if current is not None and "deletionTimestamp" in current["metadata"]:
            terminating.append(crd["metadata"]["name"])
    return f"CRDs still being deleted: {', '.join(terminating)}" if terminating else None


def foreign_crds(api: KubeApi) -> list[str]:
    """SMI CRDs in the cluster that the reference mesh did not install (another SMI implementation's)."""
    found = []
    for crd in smi_crds():
        current = _read(api, "CustomResourceDefinition", crd["metadata"]["name"])
        labels = ((current or {}).get("metadata") or {}).get("labels") or {}
        if current is not None and labels.get(names.PART_OF[0]) != names.PART_OF[1]:
            found.append(crd["metadata"]["name"])
    return found


def install(
    api: KubeApi,
    options: InstallOptions,
    *,
    wait: bool = True,
    timeout_s: float = 300,
    skip_crds: bool = False,
    log: Log = lambda _: None,
) -> list[dict[str, Any]]:
    """Apply the installation (keeping the cluster's mesh CA if there is one) and wait until it is ready;
    the objects applied. SMI CRDs installed by someone else are never taken over: install refuses, or with
    ``skip_crds`` leaves the CRDs as they are and uses them. SMI CRDs being deleted (another mesh's
    uninstall still finishing) are waited for, like the namespace of a previous installation."""
    deadline = time.monotonic() + timeout_s
    _wait("SMI CRDs being deleted to go", lambda: _terminating_crds(api), deadline, log)
    if not skip_crds:
        foreign = foreign_crds(api)
        if foreign:
            raise InstallError(
                f"the cluster has SMI CRDs the reference mesh did not install ({', '.join(foreign)}); "
                "install with --skip-crds to use them as they are, or remove them first"
            )
    namespace = _read(api, "Namespace", names.NAMESPACE)
    if namespace is not None and "deletionTimestamp" in namespace["metadata"]:
        gone = lambda: _gone(api, "Namespace", names.NAMESPACE)  # noqa: E731
        _wait("the namespace of the previous installation to go", gone, deadline, log)
    ca = existing_ca(api, options.trust_domain) or CertificateAuthority.create(options.trust_domain)
    objects = render(options, ca)
    if skip_crds:
        objects = [o for o in objects if o["kind"] != "CustomResourceDefinition"]
    log(f"applying {len(objects)} objects (image {options.image})")
    apply_objects(api, objects)
    if wait:
        _wait("the SMI CRDs", lambda: _crds_established(api), deadline, log)
        _wait("the control plane", lambda: _control_plane_ready(api), deadline, log)
        _wait("the Traffic Metrics APIService", lambda: _apiservice_available(api), deadline, log)
    return objects


def _gone(api: KubeApi, kind: str, name: str, namespace: str | None = None) -> str | None:
    return None if _read(api, kind, name, namespace) is None else f"{kind} {name} still exists"


_SELECTOR = f"{names.PART_OF[0]}={names.PART_OF[1]}"


def _ours(api: KubeApi, kind: str) -> list[tuple[str, str | None]]:
    """(name, namespace) of the objects of ``kind`` labelled as the reference mesh's."""
    listed = api.get(RESOURCES[kind].path(), labelSelector=_SELECTOR)
    return [(i["metadata"]["name"], i["metadata"].get("namespace")) for i in listed.get("items") or []]


def _deletions(api: KubeApi, *, keep_crds: bool) -> list[tuple[str, str, str | None]]:
    """What uninstall deletes, in order (the namespace takes the Deployment, Service, Secret... with it).
    CRDs only when they carry the reference mesh's label: SMI CRDs someone else installed stay."""
    out: list[tuple[str, str, str | None]] = [
        ("APIService", names.APISERVICE, None),
        ("MutatingWebhookConfiguration", names.MUTATING_WEBHOOK, None),
        ("ValidatingWebhookConfiguration", names.VALIDATING_WEBHOOK, None),
        ("Namespace", names.NAMESPACE, None),
        ("ClusterRoleBinding", names.CLUSTER_ROLE, None),
        ("ClusterRole", names.CLUSTER_ROLE, None),
        ("RoleBinding", f"{names.PREFIX}-auth-reader", "kube-system"),
    ]
    if not keep_crds:
        crds = _ours(api, "CustomResourceDefinition")
        out += [("CustomResourceDefinition", name, None) for name, _ in crds]
    return out


def uninstall(
    api: KubeApi, *, keep_crds: bool = False, timeout_s: float = 300, log: Log = lambda _: None
) -> list[str]:
    """Delete everything install created and wait until it is gone; what was deleted."""
    deadline = time.monotonic() + timeout_s
    deleted = []
    for kind, name, namespace in _deletions(api, keep_crds=keep_crds):
        try:
            api.request(
                "DELETE", RESOURCES[kind].path(namespace, name), query=[("propagationPolicy", "Foreground")]
            )
            deleted.append(str(Leftover(kind, name, namespace)))
        except ApiError as exc:
            if exc.status != 404:
                raise
    gone = lambda: _describe(leftovers(api, keep_crds=keep_crds))  # noqa: E731
    _wait("the installation to be gone", gone, deadline, log)
    return deleted


def _describe(items: list[Leftover]) -> str | None:
    return ", ".join(map(str, items)) if items else None


def leftovers(api: KubeApi, *, keep_crds: bool = False) -> list[Leftover]:
    """What of the installation exists in the cluster: every object install creates by name, and anything
    labelled ``app.kubernetes.io/part-of=reference-mesh`` among the kinds it creates."""
    found = [
        Leftover(kind, name, namespace)
        for kind, name, namespace in _deletions(api, keep_crds=True)
        if _read(api, kind, name, namespace) is not None
    ]
    for kind in RESOURCES:
        if keep_crds and kind == "CustomResourceDefinition":
            continue
        for name, namespace in _ours(api, kind):
            if Leftover(kind, name, namespace) not in found:
                found.append(Leftover(kind, name, namespace))
    return found
