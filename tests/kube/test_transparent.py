"""Transparent interception's pure parts: where a redirected connection was going
(reference_mesh/proxy/transparent.py) and snapshots compiled with interception on. With real iptables and
sockets: tests/kube/test_interception_netns.py."""

from __future__ import annotations

import socket
import struct

from reference_mesh.control.compiler import MeshSettings, compile_mesh
from reference_mesh.control.resources import (
    ContainerPort,
    Pod,
    PodSpec,
    PodStatus,
    Service,
    ServicePortSpec,
    ServiceSpec,
    SimpleMeta,
)
from reference_mesh.control.store import MemoryStore
from reference_mesh.proxy.config import (
    Endpoint,
    InboundConfig,
    InboundListener,
    Interception,
    OutboundConfig,
    OutboundService,
    ProxyConfig,
    ServicePort,
    SplitBackend,
    TrafficSplitConfig,
    WorkloadInfo,
)
from reference_mesh.proxy.transparent import OutboundDestination, TransparentTable, parse_sockaddr_in

WEB_ID = "spiffe://cluster.local/ns/shop/sa/web"


def test_sockaddr_in_is_read_as_the_kernel_writes_it() -> None:
    raw = struct.pack("!HH4s8x", socket.AF_INET, 8080, socket.inet_aton("10.96.7.20"))
    assert parse_sockaddr_in(raw) == ("10.96.7.20", 8080)


def _config() -> ProxyConfig:
    endpoint = Endpoint(address="10.244.0.9", port=8080, identity=WEB_ID, instance="web-0")
    web = OutboundService(
        name="web",
        namespace="shop",
        addresses=("10.96.0.10",),
        ports=(ServicePort(port=80, protocol="http", endpoints=(endpoint,)),),
    )
    db = OutboundService(
        name="db",
        namespace="shop",
        addresses=("10.96.0.11",),
        ports=(ServicePort(port=5432, protocol="tcp"),),
    )
    apex = OutboundService(
        name="apex",
        namespace="shop",
        addresses=("10.96.0.12",),
        ports=(ServicePort(port=80),),
        split=TrafficSplitConfig(name="shop/s", backends=(SplitBackend(service="web.shop", weight=1),)),
    )
    return ProxyConfig(
        version="1",
        workload=WorkloadInfo(
            namespace="shop", service_account="client", instance="c-0", address="10.244.0.5"
        ),
        inbound=InboundConfig(
            listeners=(InboundListener(port=9090, protocol="http", app_port=9090, app_address="10.244.0.5"),)
        ),
        outbound=OutboundConfig(services={s.key: s for s in (web, db, apex)}),
        interception=Interception(),
    )


def test_outbound_destinations_are_mesh_services_or_left_alone() -> None:
    table = TransparentTable(_config())
    assert table.outbound("10.96.0.10", 80) == OutboundDestination("web.shop", 80, "http")
    # a pod addressed directly is routed as the service it serves
    assert table.outbound("10.244.0.9", 8080) == OutboundDestination("web.shop", 80, "http")
    # a split root is the mesh's even without endpoints of its own
    assert table.outbound("10.96.0.12", 80) == OutboundDestination("apex.shop", 80, "http")
    # a service no meshed pod serves, another port, anything else: relayed untouched
    assert table.outbound("10.96.0.11", 5432) is None
    assert table.outbound("10.96.0.10", 81) is None
    assert table.outbound("10.96.0.1", 443) is None


def test_inbound_ports_without_a_listener_are_still_mtls_tcp() -> None:
    table = TransparentTable(_config())
    assert table.inbound(9090).protocol == "http"
    other = table.inbound(7000)
    assert (other.protocol, other.port, other.app_port, other.app_address) == (
        "tcp",
        7000,
        7000,
        "10.244.0.5",
    )


def test_snapshots_compiled_with_interception_carry_it_and_the_cluster_ips() -> None:
    store = MemoryStore()
    service = Service(
        metadata=SimpleMeta(name="web", namespace="shop"),
        spec=ServiceSpec(
            selector={"app": "web"},
            ports=(ServicePortSpec(port=80, target_port=8080),),
            cluster_ips=("10.96.0.10",),
        ),
    )
    pod = Pod(
        metadata=SimpleMeta(name="web-0", namespace="shop", labels={"app": "web"}),
        spec=PodSpec(service_account_name="web", ports=(ContainerPort(container_port=8080, app_port=8080),)),
        status=PodStatus(pod_ip="10.244.0.9"),
    )
    import asyncio

    asyncio.run(store.apply([service, pod]))
    interception = Interception()
    [config] = compile_mesh(store.state(), MeshSettings(interception=interception)).values()
    assert config.interception == interception and config.outbound.http_port is None
    assert config.outbound.services["web.shop"].addresses == ("10.96.0.10",)
    # without it (the embedded runtime) nothing changes
    [plain] = compile_mesh(store.state(), MeshSettings()).values()
    assert plain.interception is None and plain.outbound.http_port == 15001
