"""Sidecar injection: what a pod gets to join the mesh. Pure; used by the mutating webhook and by
``reference-mesh inject`` (a manifest filter, stdin to stdout, like ``linkerd inject``).

An injected pod gets:

* the init container ``mesh-init``: installs the interception rules (``reference_mesh.kube.interception``;
  needs ``NET_ADMIN`` and ``NET_RAW``, runs as root, exits);
* the proxy ``mesh-proxy`` as a native sidecar (an init container with ``restartPolicy: Always``,
  Kubernetes >= 1.29): it starts after ``mesh-init`` and before the application containers, which start only
  once its startup probe passes, i.e. once it holds its certificate and its first snapshot, so the
  application's first connections are already meshed; it runs as the proxy user (never intercepted),
  read-only, without capabilities;
* a projected service-account token for the mesh's audience (the proxy's proof of identity) and an in-memory
  volume for its credentials;
* the label ``reference-mesh.smi-conformance.io/proxy`` (the controller watches pods with it).

A pod is injected once: one that already has ``mesh-proxy`` is left as it is. Ports named in the pod's
annotations ``.../skip-inbound-ports`` and ``.../skip-outbound-ports`` bypass interception (a test driver's
control port, a database the mesh should not see).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from reference_mesh.kube import names
from reference_mesh.kube.interception import InterceptionRules, parse_ports

__all__ = [
    "InjectionConfig",
    "InjectionError",
    "inject_manifest",
    "inject_pod",
    "is_injected",
    "pod_templates",
]

Obj = dict[str, Any]
RESERVED_PORTS = (names.PROXY_ADMIN_PORT, names.OUTBOUND_PORT, names.INBOUND_PORT)


class InjectionError(ValueError):
    """The pod cannot be meshed as it is (the message says why)."""


@dataclass(frozen=True)
class InjectionConfig:
    """What the injector needs to know of the installed mesh (the ConfigMap ``mesh-config`` holds it)."""

    image: str
    trust_anchors: str  #: PEM of the mesh's root certificates
    trust_domain: str = "cluster.local"
    image_pull_policy: str = "IfNotPresent"
    control_plane: str = names.service_dns()
    log_level: str = "INFO"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> InjectionConfig:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("the mesh configuration must be a JSON object")
        return cls(**{k: str(v) for k, v in data.items() if k in cls.__dataclass_fields__})


def is_injected(spec: Obj) -> bool:
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    return any(c.get("name") == names.PROXY_CONTAINER for c in containers)


def _field_env(name: str, path: str) -> Obj:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def _ports(annotations: Obj, key: str) -> tuple[int, ...]:
    try:
        return parse_ports(annotations.get(key), key)
    except ValueError as exc:
        raise InjectionError(f"annotation {exc}") from None


def _app_ports(spec: Obj) -> set[int]:
    return {
        int(p["containerPort"])
        for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
        for p in c.get("ports") or []
        if isinstance(p.get("containerPort"), int)
    }


def init_container(config: InjectionConfig, rules: InterceptionRules) -> Obj:
    return {
        "name": names.INIT_CONTAINER,
        "image": config.image,
        "imagePullPolicy": config.image_pull_policy,
        "command": ["python3", "-m", "reference_mesh.kube.interception", *rules.args()],
        "securityContext": {
            "runAsUser": 0,
            "runAsNonRoot": False,
            "allowPrivilegeEscalation": False,
            "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]},
        },
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
    }


def proxy_container(config: InjectionConfig) -> Obj:
    probe = {"httpGet": {"path": "/ready", "port": names.PROXY_ADMIN_PORT}, "periodSeconds": 1}
    return {
        "name": names.PROXY_CONTAINER,
        "image": config.image,
        "imagePullPolicy": config.image_pull_policy,
        "restartPolicy": "Always",
        "command": ["python3", "-m", "reference_mesh.kube.sidecar"],
        "args": [
            f"--control-plane={config.control_plane}",
            f"--trust-domain={config.trust_domain}",
            f"--log-level={config.log_level}",
        ],
        "env": [
            _field_env("POD_NAME", "metadata.name"),
            _field_env("POD_NAMESPACE", "metadata.namespace"),
            _field_env("POD_IP", "status.podIP"),
            {"name": "MESH_TRUST_ANCHORS", "value": config.trust_anchors},
            {"name": "TMPDIR", "value": "/var/run/reference-mesh"},
        ],
        "ports": [{"name": "mesh-admin", "containerPort": names.PROXY_ADMIN_PORT}],
        "startupProbe": {**probe, "failureThreshold": 600},
        "readinessProbe": {**probe, "periodSeconds": 2},
        "securityContext": {
            "runAsUser": names.PROXY_UID,
            "runAsGroup": names.PROXY_UID,
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {"requests": {"cpu": "20m", "memory": "64Mi"}},
        "volumeMounts": [
            {"name": names.TOKEN_VOLUME, "mountPath": names.TOKEN_DIR, "readOnly": True},
            {"name": "mesh-credentials", "mountPath": "/var/run/reference-mesh"},
        ],
    }


def inject_pod(metadata: Obj, spec: Obj, config: InjectionConfig) -> tuple[Obj, Obj]:
    """The pod's metadata and spec with the mesh added (new objects; the arguments are not changed).
    Raises :class:`InjectionError` when the pod cannot be meshed."""
    if is_injected(spec):
        return metadata, spec
    metadata, spec = copy.deepcopy(metadata), copy.deepcopy(spec)
    annotations = metadata.get("annotations") or {}
    clash = sorted(_app_ports(spec) & set(RESERVED_PORTS))
    if clash:
        raise InjectionError(f"port(s) {clash} of the pod are the mesh proxy's {list(RESERVED_PORTS)}")
    if spec.get("hostNetwork"):
        raise InjectionError("a pod on the host network cannot be meshed (its rules would be the node's)")
    rules = InterceptionRules(
        skip_inbound_ports=tuple(
            sorted({names.PROXY_ADMIN_PORT, *_ports(annotations, names.SKIP_INBOUND_PORTS)})
        ),
        skip_outbound_ports=_ports(annotations, names.SKIP_OUTBOUND_PORTS),
    )
    spec["initContainers"] = [
        init_container(config, rules),
        proxy_container(config),
        *(spec.get("initContainers") or []),
    ]
    spec["volumes"] = [
        *(spec.get("volumes") or []),
        {
            "name": names.TOKEN_VOLUME,
            "projected": {
                "sources": [
                    {
                        "serviceAccountToken": {
                            "audience": names.TOKEN_AUDIENCE,
                            "expirationSeconds": 3600,
                            "path": "token",
                        }
                    }
                ]
            },
        },
        {"name": "mesh-credentials", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
    ]
    metadata["labels"] = {**(metadata.get("labels") or {}), names.PROXY_LABEL: "injected"}
    return metadata, spec


def pod_templates(doc: Obj) -> Iterator[Obj]:
    """The pod templates (objects with ``metadata`` and ``spec``) inside a manifest: a Pod itself, the
    template of a workload (Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job), a
    CronJob's job template, every item of a List."""
    kind = doc.get("kind")
    if kind == "List":
        for item in doc.get("items") or []:
            if isinstance(item, dict):
                yield from pod_templates(item)
    elif kind == "Pod":
        yield doc
    elif kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"):
        template = (doc.get("spec") or {}).get("template")
        if isinstance(template, dict):
            yield template
    elif kind == "CronJob":
        template = (((doc.get("spec") or {}).get("jobTemplate") or {}).get("spec") or {}).get("template")
        if isinstance(template, dict):
            yield template


def inject_manifest(doc: Obj, config: InjectionConfig) -> tuple[Obj, int]:
    """The manifest with every pod template in it injected (in place), and how many were injected."""
    count = 0
    for template in pod_templates(doc):
        metadata, spec = template.get("metadata") or {}, template.get("spec")
        if not isinstance(spec, dict) or is_injected(spec):
            continue
        template["metadata"], template["spec"] = inject_pod(metadata, spec, config)
        count += 1
    return doc, count
