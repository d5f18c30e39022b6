"""Manifests and waits for the kind cluster tests. Workloads run the locally built kind-testserver image."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from kubernetes import client
from kubernetes.client.rest import ApiException

T = TypeVar("T")
Manifest = dict[str, Any]

CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane"


class NotYet(Exception):
    """Raised by a ``wait_for`` probe to say why the awaited state has not come yet."""


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 120, interval: float = 1) -> T:
    """Call ``probe`` until it returns something truthy (returned) or ``timeout`` passes (AssertionError).
    ApiExceptions and NotYet count as "not yet"; the last one is reported."""
    deadline = time.monotonic() + timeout
    last: str = "no answer yet"
    while True:
        try:
            value = probe()
            if value:
                return value
        except ApiException as exc:
            last = f"{exc.status} {exc.reason}: {exc.body!s:.300}"
        except NotYet as exc:
            last = str(exc)
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last})")
        time.sleep(interval)


def _env() -> list[Manifest]:
    field = {"POD_NAME": "metadata.name", "NODE_NAME": "spec.nodeName", "POD_IP": "status.podIP"}
    return [{"name": k, "valueFrom": {"fieldRef": {"fieldPath": v}}} for k, v in field.items()]


def pod_spec(
    image: str,
    args: list[str],
    *,
    node: str | None = None,
    port: int | None = None,
    scheme: str = "HTTP",
    volumes: dict[str, str] | None = None,
) -> Manifest:
    """A pod running kind-testserver ``args``; on ``node`` if given (the control-plane taint is tolerated).
    ``volumes`` maps Secret names to mount paths."""
    container: Manifest = {
        "name": "main",
        "image": image,
        "imagePullPolicy": "Never",  # built on this machine and loaded with `kind load`
        "args": args,
        "env": _env(),
    }
    if port:
        container["ports"] = [{"containerPort": port}]
        container["readinessProbe"] = {
            "httpGet": {"path": "/healthz", "port": port, "scheme": scheme},
            "periodSeconds": 1,
        }
    spec: Manifest = {
        "containers": [container],
        "tolerations": [{"key": CONTROL_PLANE_TAINT, "operator": "Exists", "effect": "NoSchedule"}],
        "terminationGracePeriodSeconds": 1,
    }
    if node:
        spec["nodeSelector"] = {"kubernetes.io/hostname": node}
    if volumes:
        spec["volumes"] = [{"name": f"v{i}", "secret": {"secretName": s}} for i, s in enumerate(volumes)]
        container["volumeMounts"] = [
            {"name": f"v{i}", "mountPath": path, "readOnly": True} for i, path in enumerate(volumes.values())
        ]
    return spec


def deployment(name: str, spec: Manifest, replicas: int = 1, spread: bool = False) -> Manifest:
    template_spec = dict(spec)
    if spread:
        template_spec["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": name}},
            }
        ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": template_spec},
        },
    }


def service(name: str, port: int, target_port: int) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": port, "targetPort": target_port}]},
    }


def tls_secret(name: str, cert_pem: bytes, key_pem: bytes, extra: dict[str, bytes] | None = None) -> Manifest:
    data = {"tls.crt": cert_pem.decode(), "tls.key": key_pem.decode()}
    data.update({k: v.decode() for k, v in (extra or {}).items()})
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}


def wait_deployment_ready(apps: client.AppsV1Api, namespace: str, name: str, timeout: float = 180) -> None:
    def ready() -> bool:
        d = apps.read_namespaced_deployment_status(name, namespace)
        want = d.spec.replicas
        return bool(d.status.ready_replicas == want and d.status.updated_replicas == want)

    wait_for(f"deployment {namespace}/{name} to be ready", ready, timeout)


def run_to_completion(
    core: client.CoreV1Api, namespace: str, name: str, spec: Manifest, timeout: float = 180
) -> str:
    """Run a one-shot pod and return its log; fail with the log if it fails."""
    spec = {**spec, "restartPolicy": "Never"}
    core.create_namespaced_pod(
        namespace, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}
    )

    def finished() -> str | None:
        phase = core.read_namespaced_pod_status(name, namespace).status.phase
        return phase if phase in ("Succeeded", "Failed") else None

    phase = wait_for(f"pod {namespace}/{name} to finish", finished, timeout)
    log: str = core.read_namespaced_pod_log(name, namespace)
    assert phase == "Succeeded", f"pod {name} {phase}:\n{log}"
    return log
