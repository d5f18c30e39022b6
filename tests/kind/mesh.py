"""Workloads of the reference mesh tests on kind: echo backends and a client, in meshed namespaces, and
requests made from inside the client pod (through its sidecar, as an application would)."""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.stream import stream

from reference_mesh.kube import names
from reference_mesh.kube.client import KubeApi

from .workloads import Manifest, wait_deployment_ready


@dataclass(frozen=True)
class InstalledMesh:
    api: KubeApi
    image: str
    kubeconfig: Path
    install_s: float


def meshed_namespace(core: client.CoreV1Api, namespace: str) -> None:
    """Label the namespace so its new pods get the sidecar."""
    core.patch_namespace(namespace, {"metadata": {"labels": {names.INJECT_LABEL: "enabled"}}})


def echo_deployment(name: str, image: str, *, app: str, version: str, service_account: str) -> Manifest:
    labels = {"app": app, "version": version}
    container = {
        "name": "app",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": [
            "python3",
            "-m",
            "smi_conformance.workload.echo",
            "--service",
            app,
            "--version",
            version,
            "--instance",
            "$(POD_NAME)",
            "--http",
            "0.0.0.0:8080",
        ],
        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "ports": [{"name": "http", "containerPort": 8080}],
    }
    return _deployment(name, labels, service_account, container)


def client_deployment(name: str, image: str, *, service_account: str) -> Manifest:
    container = {
        "name": "app",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["sleep", "infinity"],
    }
    return _deployment(name, {"app": name}, service_account, container)


def _deployment(name: str, labels: dict[str, str], service_account: str, container: Manifest) -> Manifest:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": service_account,
                    "containers": [container],
                    "terminationGracePeriodSeconds": 1,
                },
            },
        },
    }


def http_service(name: str, selector: dict[str, str]) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": selector, "ports": [{"name": "http", "port": 8080, "targetPort": 8080}]},
    }


def deploy(api_client: client.ApiClient, namespace: str, *objects: Manifest) -> None:
    """Create service accounts, services and deployments; wait for the deployments to be ready."""
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    for obj in objects:
        if obj["kind"] == "ServiceAccount":
            core.create_namespaced_service_account(namespace, obj)
        elif obj["kind"] == "Service":
            core.create_namespaced_service(namespace, obj)
        elif obj["kind"] == "Deployment":
            apps.create_namespaced_deployment(namespace, obj)
    for obj in objects:
        if obj["kind"] == "Deployment":
            wait_deployment_ready(apps, namespace, obj["metadata"]["name"], timeout=180)


def service_account(name: str) -> Manifest:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}


def pod_of(api_client: client.ApiClient, namespace: str, app: str) -> Any:
    pods = client.CoreV1Api(api_client).list_namespaced_pod(namespace, label_selector=f"app={app}").items
    assert len(pods) == 1, [p.metadata.name for p in pods]
    return pods[0]


# what the client application runs: n GET requests to a URL, the status and body of each, as JSON
_REQUESTS = textwrap.dedent(
    """
    import json, sys, urllib.request, urllib.error
    url, n = sys.argv[1], int(sys.argv[2])
    out = []
    for _ in range(n):
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                out.append({"status": r.status, "body": r.read().decode()})
        except urllib.error.HTTPError as e:
            out.append({"status": e.code, "body": e.read().decode()})
        except Exception as e:
            out.append({"status": None, "body": repr(e)})
    print(json.dumps(out))
    """
)


def exec_python(
    api_client: client.ApiClient, namespace: str, pod: str, script: str, *args: str, container: str = "app"
) -> str:
    """Run ``python3 -c script args`` in a container of the pod (as its application would); its stdout."""
    ws = stream(
        client.CoreV1Api(api_client).connect_get_namespaced_pod_exec,
        pod,
        namespace,
        container=container,
        command=["python3", "-c", script, *args],
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
        _preload_content=False,
    )
    try:
        ws.run_forever(timeout=120)
        out = str(ws.read_stdout() or "")
        err = str(ws.read_stderr() or "")
    finally:
        ws.close()
        ws.sock.shutdown()  # close() skips the socket once the server has closed the stream
    return out + ("\n" + err if err else "")


def requests_from(
    api_client: client.ApiClient, namespace: str, pod: str, url: str, n: int = 1, container: str = "app"
) -> list[dict[str, Any]]:
    """``n`` HTTP GETs made by a process in ``pod``'s application container (its traffic is intercepted)."""
    out = exec_python(api_client, namespace, pod, _REQUESTS, url, str(n), container=container)
    lines = [ln for ln in out.splitlines() if ln.startswith("[")]
    assert lines, f"no result from {pod}: {out}"
    result: list[dict[str, Any]] = json.loads(lines[-1])
    return result


def echo_reply(response: dict[str, Any]) -> dict[str, Any]:
    reply: dict[str, Any] = json.loads(response["body"])
    return reply
