"""Small builders for control-plane tests: core objects, SMI documents from YAML, store states."""

from __future__ import annotations

from typing import Any

import yaml

from reference_mesh.control.resources import (
    ContainerPort,
    Pod,
    PodSpec,
    PodStatus,
    Service,
    ServiceAccount,
    ServicePortSpec,
    ServiceSpec,
    SimpleMeta,
    key_of,
)
from reference_mesh.control.store import StoredObject, StoreState
from smi_conformance import models

TD = "cluster.local"


def sid(sa: str, ns: str = "default") -> str:
    return f"spiffe://{TD}/ns/{ns}/sa/{sa}"


def account(name: str, ns: str = "default") -> ServiceAccount:
    return ServiceAccount(metadata=SimpleMeta(name=name, namespace=ns))


def service(
    name: str,
    selector: dict[str, str],
    ports: list[tuple[int, str]] | None = None,
    ns: str = "default",
    local_ports: dict[int, int] | None = None,
) -> Service:
    ports = ports or [(8080, "http")]
    return Service(
        metadata=SimpleMeta(name=name, namespace=ns),
        spec=ServiceSpec(
            selector=selector,
            ports=tuple(
                ServicePortSpec(port=p, protocol=proto, local_port=(local_ports or {}).get(p))  # type: ignore[arg-type]
                for p, proto in ports
            ),
        ),
    )


def pod(
    name: str,
    sa: str,
    labels: dict[str, str],
    ip: str,
    ports: list[tuple[int, str]] | None = None,
    ns: str = "default",
    ready: bool = True,
) -> Pod:
    return Pod(
        metadata=SimpleMeta(name=name, namespace=ns, labels=labels),
        spec=PodSpec(
            service_account_name=sa,
            ports=tuple(
                ContainerPort(container_port=p, protocol=proto, app_port=p + 10000)  # type: ignore[arg-type]
                for p, proto in (ports or [])
            ),
        ),
        status=PodStatus(pod_ip=ip, ready=ready),
    )


def smi(text: str) -> list[Any]:
    return [models.load(d) for d in yaml.safe_load_all(text) if d]


def state(*objs: Any) -> StoreState:
    out = {}
    for i, o in enumerate(objs):
        k = key_of(o)
        out[k] = StoredObject(k, o, i + 1, i + 1)
    return StoreState(out, len(objs))


def bookstore(*extra: Any) -> StoreState:
    """bookbuyer and bookthief call bookstore (v1, v2 behind bookstore-v1 / bookstore-v2); TCP 9000, UDP
    9001."""
    ports = [(8080, "http"), (9000, "tcp"), (9001, "udp")]
    return state(
        account("bookbuyer"),
        account("bookthief"),
        account("bookstore"),
        service("bookstore", {"app": "bookstore"}, ports, local_ports={9000: 20000, 9001: 20001}),
        service("bookstore-v1", {"app": "bookstore", "version": "v1"}, ports),
        service("bookstore-v2", {"app": "bookstore", "version": "v2"}, ports),
        pod("bookbuyer-0", "bookbuyer", {"app": "bookbuyer"}, "127.0.0.2"),
        pod("bookthief-0", "bookthief", {"app": "bookthief"}, "127.0.0.3"),
        pod("bookstore-v1-0", "bookstore", {"app": "bookstore", "version": "v1"}, "127.0.0.4", ports),
        pod("bookstore-v2-0", "bookstore", {"app": "bookstore", "version": "v2"}, "127.0.0.5", ports),
        *extra,
    )
