"""Kubernetes objects -> the control plane's store models (reference_mesh/kube/convert.py)."""

from __future__ import annotations

from typing import Any

import pytest

from reference_mesh.control.resources import Pod, Service
from reference_mesh.kube import names
from reference_mesh.kube.convert import (
    deployment_of,
    is_http_port,
    namespace_models,
    service_account,
    smi_object,
)
from reference_mesh.metrics.aggregate import DEPLOYMENT_LABEL
from smi_conformance import models


def pod(
    name: str, *, ports: list[dict[str, Any]] | None = None, ready: bool = True, **extra: Any
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": "web"}},
        "spec": {
            "serviceAccountName": "web",
            "containers": [
                {"name": "app", "ports": ports if ports is not None else [{"containerPort": 8080}]},
                {"name": names.PROXY_CONTAINER, "ports": [{"containerPort": names.PROXY_ADMIN_PORT}]},
            ],
        },
        "status": {
            "podIP": "10.244.0.7",
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }
    for key, value in extra.items():
        obj[key] = {**obj.get(key, {}), **value}
    return obj


def service(*ports: dict[str, Any], selector: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "selector": selector if selector is not None else {"app": "web"},
            "ports": list(ports),
            **spec,
        },
    }


def split(models_: list[Pod | Service]) -> tuple[list[Pod], list[Service]]:
    return [m for m in models_ if isinstance(m, Pod)], [m for m in models_ if isinstance(m, Service)]


@pytest.mark.parametrize(
    ("name", "app_protocol", "http"),
    [
        ("http", None, True),
        ("http-api", None, True),
        ("HTTP", None, True),
        ("web", None, False),
        ("grpc", None, False),
        ("web", "http", True),
        ("http", "tcp", False),
        (None, None, False),
    ],
)
def test_http_ports_follow_the_naming_convention(
    name: str | None, app_protocol: str | None, http: bool
) -> None:
    assert is_http_port(name, app_protocol) is http


def test_a_service_keeps_its_tcp_ports_cluster_ips_and_resolves_named_target_ports() -> None:
    svc_obj = service(
        {"name": "http", "port": 80, "targetPort": "web"},
        {"name": "db", "port": 5432},
        {"name": "dns", "port": 53, "protocol": "UDP"},
        clusterIP="10.96.1.2",
        clusterIPs=["10.96.1.2", "fd00::2"],
    )
    pods, services = split(
        namespace_models([pod("web-0", ports=[{"name": "web", "containerPort": 8080}])], [svc_obj])
    )
    [svc] = services
    assert svc.spec.cluster_ips == ("10.96.1.2", "fd00::2")
    assert [(p.port, p.pod_port, p.protocol) for p in svc.spec.ports] == [
        (80, 8080, "http"),
        (5432, 5432, "tcp"),
    ]
    # the pod serves every port a selecting Service targets, with the Service's protocol
    [web0] = pods
    assert [(p.container_port, p.protocol, p.app_port) for p in web0.spec.ports] == [
        (5432, "tcp", 5432),
        (8080, "http", 8080),
    ]


def test_headless_and_unresolvable_services() -> None:
    headless = service({"name": "http", "port": 80, "targetPort": "missing"}, clusterIP="None")
    [svc] = namespace_models([], [headless])
    assert isinstance(svc, Service) and svc.spec.cluster_ips == ()
    assert svc.spec.ports[0].target_port is None  # resolved once a pod defines the name


def test_pods_ready_terminating_unplaced_and_finished() -> None:
    terminating = pod("web-1", metadata={"deletionTimestamp": "2026-01-01T00:00:00Z"})
    unplaced = pod("web-2")
    unplaced["status"] = {"phase": "Pending"}
    finished = pod("web-3", status={"phase": "Succeeded"})
    pods, _ = split(
        namespace_models([pod("web-0"), terminating, unplaced, finished, pod("web-4", ready=False)], [])
    )
    ready = {p.metadata.name: p.status.ready for p in pods}
    assert ready == {"web-0": True, "web-1": False, "web-4": False}  # no IP or done: not in the store
    web0 = next(p for p in pods if p.metadata.name == "web-0")
    assert web0.status.admin == f"10.244.0.7:{names.PROXY_ADMIN_PORT}"
    assert web0.spec.service_account_name == "web"
    # the proxy's own ports are not the application's
    assert [p.container_port for p in web0.spec.ports] == [8080]
    assert web0.spec.ports[0].protocol == "tcp"  # no Service says HTTP, and the port has no http name


def test_pods_know_their_deployment_through_their_replica_set() -> None:
    owned = pod(
        "web-5d9c7b-x2x",
        metadata={
            "labels": {"app": "web", "pod-template-hash": "5d9c7b"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "web-v1-5d9c7b"}],
        },
    )
    assert deployment_of(owned) == "web-v1"
    assert deployment_of(pod("web-0")) is None
    stateful = pod("db-0", metadata={"ownerReferences": [{"kind": "StatefulSet", "name": "db"}]})
    assert deployment_of(stateful) is None
    [converted] = namespace_models([owned], [])
    assert isinstance(converted, Pod) and converted.metadata.labels[DEPLOYMENT_LABEL] == "web-v1"


def test_smi_objects_keep_what_the_mesh_reads_and_invalid_ones_are_refused() -> None:
    obj = {
        "apiVersion": "split.smi-spec.io/v1alpha4",
        "kind": "TrafficSplit",
        "metadata": {
            "name": "canary",
            "namespace": "shop",
            "uid": "1",
            "resourceVersion": "77",
            "managedFields": [{"manager": "kubectl"}],
            "annotations": {"lint.smi-conformance.io/ignore": "SMI203"},
        },
        "spec": {"service": "web", "backends": [{"service": "web-v1", "weight": 1}]},
    }
    model = smi_object(obj)
    assert model.metadata.name == "canary" and model.metadata.namespace == "shop"
    assert model.metadata.resource_version is None  # the store stamps its own revision
    assert model.metadata.annotations == {"lint.smi-conformance.io/ignore": "SMI203"}
    with pytest.raises(models.SMIValidationError):
        smi_object({**obj, "spec": {"service": "web", "backends": [{"service": "x", "weight": -1}]}})
    assert (
        service_account(
            {"metadata": {"name": "web", "namespace": "shop", "labels": {"a": "b"}}}
        ).metadata.labels
        == {}
    )
