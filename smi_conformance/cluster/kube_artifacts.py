"""What a failed test leaves behind on Kubernetes, for whoever reads the report: the objects the run applied
and deleted (in order), the SMI objects the cluster holds now, the events of the suite's and the mesh's
namespaces, and the logs of every container of their pods (the application and the mesh's sidecars and init
containers alike).

Each piece is saved on its own: a piece the API server will not give (a log of a container that never
started) is noted in ``errors.txt`` and the others are still written.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from smi_conformance.cluster.kubeapi import ApiError, Resource
from smi_conformance.cluster.kubeobjects import NotServed

if TYPE_CHECKING:
    from smi_conformance.cluster.kubernetes import KubernetesCluster

__all__ = ["save_artifacts"]

SMI_GROUPS = ("split.smi-spec.io", "access.smi-spec.io", "specs.smi-spec.io")
EVENTS = Resource("Event", "events")
PODS = Resource("Pod", "pods")
#: Lines of each container's log.
LOG_LINES = 2000


def _smi_objects(cluster: KubernetesCluster) -> list[Any]:
    """Every SMI object in the topology's namespaces, at the newest version the cluster serves per group."""
    out: list[Any] = []
    for group in SMI_GROUPS:
        versions = cluster.objects.served_versions(group)
        if not versions:
            continue
        version = versions[0]  # the API server lists the preferred version first
        listed = cluster.api.get(f"/apis/{group}/{version}")
        for item in listed.get("resources") or []:
            if "/" in item["name"]:
                continue
            namespaced = bool(item.get("namespaced", True))
            resource = Resource(item["kind"], item["name"], group, version, namespaced=namespaced)
            for ns in cluster.topology.namespaces:
                for obj in cluster.objects.items(resource, ns):
                    obj.get("metadata", {}).pop("managedFields", None)
                    obj.setdefault("apiVersion", f"{group}/{version}")
                    obj.setdefault("kind", item["kind"])
                    out.append(obj)
    return out


def _events(cluster: KubernetesCluster, namespace: str) -> str:
    events = cluster.objects.items(EVENTS, namespace)
    events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    lines = []
    for e in events:
        involved = e.get("involvedObject") or {}
        when = e.get("lastTimestamp") or e.get("eventTime") or "-"
        lines.append(
            f"{when} {e.get('type', '')} {e.get('reason', '')} "
            f"{involved.get('kind', '')}/{involved.get('name', '')} (x{e.get('count', 1)}): "
            f"{(e.get('message') or '').strip()}"
        )
    return "\n".join(lines) + "\n"


def _log(cluster: KubernetesCluster, namespace: str, pod: str, container: str) -> str:
    path = PODS.path(namespace, pod) + "/log"
    response = cluster.api.open_stream(
        path, [("container", container), ("tailLines", LOG_LINES), ("timestamps", "true")], (10, 30)
    )
    try:
        return response.read().decode("utf-8", "replace")
    finally:
        response.release_conn()


def save_artifacts(cluster: KubernetesCluster, dest: Path) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    errors: list[str] = []

    def write(name: str, text: str) -> None:
        path = dest / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)

    journal = [{"operation": op, "objects": objs} for op, objs in cluster.journal]
    write("applied.yaml", yaml.safe_dump_all(journal, sort_keys=False) if journal else "")
    try:
        write("smi-objects.yaml", yaml.safe_dump_all(_smi_objects(cluster), sort_keys=False))
    except (ApiError, NotServed) as exc:
        errors.append(f"SMI objects: {exc}")
    namespaces = [*cluster.topology.namespaces, *cluster.mesh.system_namespaces]
    for ns in namespaces:
        try:
            write(f"events/{ns}.txt", _events(cluster, ns))
        except ApiError as exc:
            errors.append(f"events of {ns}: {exc}")
        try:
            pods = cluster.objects.items(PODS, ns)
        except ApiError as exc:
            errors.append(f"pods of {ns}: {exc}")
            continue
        write(f"pods/{ns}.yaml", yaml.safe_dump_all(pods, sort_keys=False))
        for pod in pods:
            name = pod["metadata"]["name"]
            spec = pod.get("spec") or {}
            every = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
            containers = [c["name"] for c in every]
            for container in containers:
                try:
                    write(f"logs/{ns}/{name}/{container}.log", _log(cluster, ns, name, container))
                except ApiError as exc:
                    errors.append(f"log of {ns}/{name} {container}: {exc.message}")
    if errors:
        write("errors.txt", "\n".join(errors) + "\n")
    return written
