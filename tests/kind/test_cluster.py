"""A kind cluster really works: nodes, workloads, Service routing across nodes, CRDs, admission webhooks,
aggregated APIs and TokenReview, through the official Kubernetes Python client.
Run with --kind (tests/kind/conftest.py)."""

from __future__ import annotations

import base64
import json
import secrets

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from .tls import ServingCert, serving_cert
from .workloads import (
    CONTROL_PLANE_TAINT,
    NotYet,
    deployment,
    pod_spec,
    run_to_completion,
    service,
    tls_secret,
    wait_deployment_ready,
    wait_for,
)

pytestmark = pytest.mark.kind

ECHO_PORT = 8080
TLS_PORT = 8443
TLS_DIR = "/tls"


def _nodes(api_client: client.ApiClient) -> tuple[str, str]:
    """(control-plane node, first worker node)."""
    nodes = client.CoreV1Api(api_client).list_node().items
    cps = sorted(n.metadata.name for n in nodes if CONTROL_PLANE_TAINT in (n.metadata.labels or {}))
    workers = sorted(n.metadata.name for n in nodes if CONTROL_PLANE_TAINT not in (n.metadata.labels or {}))
    assert cps and workers, f"need a control-plane and a worker node, have {[n.metadata.name for n in nodes]}"
    return cps[0], workers[0]


def test_nodes_ready_and_system_pods_running(api_client: client.ApiClient) -> None:
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    nodes = core.list_node().items
    assert len(nodes) >= 2
    for node in nodes:
        ready = {c.type: c.status for c in node.status.conditions}["Ready"]
        assert ready == "True", f"node {node.metadata.name} is not Ready"
        assert node.spec.pod_cidr, f"node {node.metadata.name} has no pod CIDR"
    assert len({n.status.node_info.kubelet_version for n in nodes}) == 1
    # every DaemonSet (kube-proxy, the CNI daemon) on every node, and cluster DNS up
    for ds in apps.list_namespaced_daemon_set("kube-system").items:
        assert ds.status.number_ready == len(nodes), (
            f"daemonset {ds.metadata.name}: {ds.status.number_ready} ready"
        )
    wait_deployment_ready(apps, "kube-system", "coredns", timeout=120)


def test_deployment_becomes_ready_across_nodes(
    api_client: client.ApiClient, namespace: str, testserver_image: str
) -> None:
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    spec = pod_spec(testserver_image, ["echo"], port=ECHO_PORT)
    apps.create_namespaced_deployment(namespace, deployment("echo", spec, replicas=2, spread=True))
    wait_deployment_ready(apps, namespace, "echo")
    pods = core.list_namespaced_pod(namespace, label_selector="app=echo").items
    assert len({p.spec.node_name for p in pods}) == 2, "the two replicas should be spread over both nodes"
    assert all(p.status.pod_ip for p in pods)


@pytest.mark.parametrize("direction", ["worker-to-control-plane", "control-plane-to-worker"])
def test_service_routes_between_pods_on_two_nodes(
    api_client: client.ApiClient, namespace: str, testserver_image: str, direction: str
) -> None:
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    control_plane, worker = _nodes(api_client)
    server_node, client_node = (
        (control_plane, worker) if direction.startswith("worker") else (worker, control_plane)
    )

    apps.create_namespaced_deployment(
        namespace, deployment("echo", pod_spec(testserver_image, ["echo"], node=server_node, port=ECHO_PORT))
    )
    core.create_namespaced_service(namespace, service("echo", 80, ECHO_PORT))
    wait_deployment_ready(apps, namespace, "echo")

    url = f"http://echo.{namespace}.svc.cluster.local/from-{direction}"  # cluster DNS, then the Service's VIP
    log = run_to_completion(
        core,
        namespace,
        "client",
        pod_spec(testserver_image, ["get", "-timeout", "90s", url], node=client_node),
    )
    reply = json.loads(log.strip().splitlines()[-1])
    client_pod = core.read_namespaced_pod("client", namespace)
    server_pod = core.list_namespaced_pod(namespace, label_selector="app=echo").items[0]
    assert client_pod.spec.node_name == client_node
    assert reply["node"] == server_node and reply["pod"] == server_pod.metadata.name
    assert reply["path"] == f"/from-{direction}"
    # pod-to-pod across nodes is routed, not NATed: the server sees the client pod's own address
    assert reply["remote"].rsplit(":", 1)[0] == client_pod.status.pod_ip


def test_crd_installs_and_its_objects_are_served(api_client: client.ApiClient, namespace: str) -> None:
    ext, custom = client.ApiextensionsV1Api(api_client), client.CustomObjectsApi(api_client)
    group, plural = "crd.smi-test.example.com", f"widgets{namespace.replace('-', '')}"[:60]
    crd_name = f"{plural}.{group}"
    ext.create_custom_resource_definition(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": crd_name},
            "spec": {
                "group": group,
                "scope": "Namespaced",
                "names": {
                    "plural": plural,
                    "singular": plural[:-1],
                    "kind": "Widget",
                    "listKind": "WidgetList",
                },
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "properties": {
                                    "spec": {
                                        "type": "object",
                                        "required": ["size"],
                                        "properties": {
                                            "size": {"type": "integer", "minimum": 1},
                                            "colour": {"type": "string"},
                                        },
                                    }
                                },
                            }
                        },
                    }
                ],
            },
        }
    )
    try:

        def established() -> bool:
            conditions = ext.read_custom_resource_definition(crd_name).status.conditions or []
            return any(c.type == "Established" and c.status == "True" for c in conditions)

        wait_for(f"CRD {crd_name} to be established", established, timeout=60)

        def widget(name: str, size: object) -> dict[str, object]:
            return {
                "apiVersion": f"{group}/v1",
                "kind": "Widget",
                "metadata": {"name": name},
                "spec": {"size": size},
            }

        stream = watch.Watch()
        events = stream.stream(
            custom.list_namespaced_custom_object, group, "v1", namespace, plural, timeout_seconds=30
        )
        created = wait_for(
            "the first Widget to be created",
            lambda: custom.create_namespaced_custom_object(
                group, "v1", namespace, plural, widget("small", 3)
            ),
            timeout=30,
        )
        assert created["metadata"]["uid"]
        got = custom.get_namespaced_custom_object(group, "v1", namespace, plural, "small")
        assert got["spec"] == {"size": 3}
        listed = custom.list_namespaced_custom_object(group, "v1", namespace, plural)
        assert [i["metadata"]["name"] for i in listed["items"]] == ["small"]
        first = next(events)
        stream.stop()
        events.close()  # ends the request and returns its connection to the pool
        assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "small")

        # the structural schema is enforced by the API server
        with pytest.raises(ApiException) as rejected:
            custom.create_namespaced_custom_object(group, "v1", namespace, plural, widget("broken", "big"))
        assert rejected.value.status == 422
        assert "spec.size" in rejected.value.body
    finally:
        ext.delete_custom_resource_definition(crd_name)


def deploy_tls_server(
    api_client: client.ApiClient,
    namespace: str,
    name: str,
    image: str,
    args: list[str],
    extra_files: dict[str, bytes] | None = None,
) -> ServingCert:
    """Run kind-testserver ``args`` over TLS behind the Service ``name`` (port 443), with a certificate for
    that Service's DNS names and ``extra_files`` beside it in the pod; return the certificates once ready."""
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    certs = serving_cert(name, namespace)
    core.create_namespaced_secret(
        namespace, tls_secret(f"{name}-tls", certs.cert_pem, certs.key_pem, extra_files)
    )
    tls_args = ["-tls-cert", f"{TLS_DIR}/tls.crt", "-tls-key", f"{TLS_DIR}/tls.key"]
    spec = pod_spec(
        image, [*args, *tls_args], port=TLS_PORT, scheme="HTTPS", volumes={f"{name}-tls": TLS_DIR}
    )
    apps.create_namespaced_deployment(namespace, deployment(name, spec))
    core.create_namespaced_service(namespace, service(name, 443, TLS_PORT))
    wait_deployment_ready(apps, namespace, name)
    return certs


def test_admission_webhook_is_called(
    api_client: client.ApiClient, namespace: str, testserver_image: str
) -> None:
    core = client.CoreV1Api(api_client)
    admission = client.AdmissionregistrationV1Api(api_client)
    certs = deploy_tls_server(api_client, namespace, "webhook", testserver_image, ["webhook"])

    def hook(path: str) -> dict[str, object]:
        return {
            "name": f"{path}.{namespace}.smi-test.example.com",
            "clientConfig": {
                "service": {"namespace": namespace, "name": "webhook", "path": f"/{path}"},
                "caBundle": base64.b64encode(certs.ca_pem).decode(),
            },
            "rules": [
                {
                    "apiGroups": [""],
                    "apiVersions": ["v1"],
                    "operations": ["CREATE"],
                    "resources": ["configmaps"],
                }
            ],
            "namespaceSelector": {"matchLabels": {"smi-test/namespace": namespace}},
            "failurePolicy": "Fail",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 10,
        }

    config_name = f"smi-test-{namespace}"
    admission.create_validating_webhook_configuration(
        {"metadata": {"name": config_name}, "webhooks": [hook("validate")]}
    )
    admission.create_mutating_webhook_configuration(
        {"metadata": {"name": config_name}, "webhooks": [hook("mutate")]}
    )
    try:
        webhook_pod = core.list_namespaced_pod(namespace, label_selector="app=webhook").items[0].metadata.name

        def configmap(name: str, labels: dict[str, str]) -> dict[str, object]:
            return {"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}

        def annotated() -> client.V1ConfigMap | None:
            cm = core.create_namespaced_config_map(namespace, configmap(f"cm-{secrets.token_hex(3)}", {}))
            return cm if "smi-test/mutated-by" in (cm.metadata.annotations or {}) else None

        # a new webhook configuration takes a moment to reach the API server's admission chain
        created = wait_for("the mutating webhook to annotate a ConfigMap", annotated, timeout=60)
        assert created.metadata.annotations["smi-test/mutated-by"] == webhook_pod

        def denial() -> ApiException | None:
            name = f"denied-{secrets.token_hex(3)}"
            try:
                core.create_namespaced_config_map(namespace, configmap(name, {"smi-test/deny": "true"}))
            except ApiException as exc:
                if exc.status == 403:
                    return exc
                raise
            # admitted: the validating configuration is not in the admission chain yet (the two configurations
            # reach the API server independently); undo and try again
            core.delete_namespaced_config_map(name, namespace)
            return None

        denied = wait_for("the validating webhook to deny a labelled ConfigMap", denial, timeout=60)
        assert f"denied by smi-test webhook {webhook_pod}" in denied.body
        names = [cm.metadata.name for cm in core.list_namespaced_config_map(namespace).items]
        assert not [n for n in names if n.startswith("denied-")], names
    finally:
        admission.delete_validating_webhook_configuration(config_name)
        admission.delete_mutating_webhook_configuration(config_name)


def test_aggregated_apiservice_answers(
    api_client: client.ApiClient, namespace: str, testserver_image: str
) -> None:
    core = client.CoreV1Api(api_client)
    registration = client.ApiregistrationV1Api(api_client)
    custom = client.CustomObjectsApi(api_client)
    # the CA of the aggregator's front-proxy client certificate, where every extension API server reads it
    auth = core.read_namespaced_config_map("extension-apiserver-authentication", "kube-system")
    front_proxy_ca = auth.data["requestheader-client-ca-file"].encode()
    certs = deploy_tls_server(
        api_client,
        namespace,
        "api",
        testserver_image,
        ["apiservice", "-requestheader-ca", f"{TLS_DIR}/front-proxy-ca.crt"],
        {"front-proxy-ca.crt": front_proxy_ca},
    )

    group, version = "smi-test.example.com", "v1"
    name = f"{version}.{group}"
    registration.create_api_service(
        {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": name},
            "spec": {
                "group": group,
                "version": version,
                "service": {"namespace": namespace, "name": "api", "port": 443},
                "caBundle": base64.b64encode(certs.ca_pem).decode(),
                "groupPriorityMinimum": 1000,
                "versionPriority": 15,
            },
        }
    )
    try:

        def available() -> bool:
            conditions = registration.read_api_service_status(name).status.conditions or []
            for c in conditions:
                if c.type == "Available":
                    if c.status == "True":
                        return True
                    raise NotYet(f"Available={c.status} {c.reason}: {c.message}")
            raise NotYet("no Available condition yet")

        wait_for(f"APIService {name} to become Available", available, timeout=90)
        server_pod = core.list_namespaced_pod(namespace, label_selector="app=api").items[0].metadata.name

        ping = wait_for(
            "a Ping through the aggregator",
            lambda: custom.get_cluster_custom_object(group, version, "pings", "hello"),
        )
        assert ping["kind"] == "Ping" and ping["metadata"]["name"] == "hello"
        assert ping["status"]["servedBy"] == server_pod
        # the aggregator authenticated us and passed our identity on, signed with its front-proxy certificate
        assert ping["status"]["user"] == "kubernetes-admin"
        listed = custom.list_cluster_custom_object(group, version, "pings")
        assert [p["metadata"]["name"] for p in listed["items"]] == ["pong"]
        groups = {g.name for g in client.ApisApi(api_client).get_api_versions().groups}
        assert group in groups
    finally:
        registration.delete_api_service(name)


def test_service_account_token_is_reviewed(api_client: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api_client)
    auth = client.AuthenticationV1Api(api_client)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "mesh-workload"}})
    token = core.create_namespaced_service_account_token(
        "mesh-workload", namespace, {"spec": {"audiences": ["smi-test"], "expirationSeconds": 600}}
    ).status.token
    review = auth.create_token_review({"spec": {"token": token, "audiences": ["smi-test"]}}).status
    assert review.authenticated is True
    assert review.user.username == f"system:serviceaccount:{namespace}:mesh-workload"
    assert "smi-test" in review.audiences
    # a token for another audience is not accepted for this one
    other = auth.create_token_review({"spec": {"token": token, "audiences": ["someone-else"]}}).status
    assert not other.authenticated
