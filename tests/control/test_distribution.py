"""The snapshot stream on real mTLS sockets: identity checks, acks and nacks, staleness, resync without a
push."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from builders import bookstore

from reference_mesh.control.agent import ControlPlaneAgent
from reference_mesh.control.compiler import compile_mesh
from reference_mesh.control.distributor import Distributor
from reference_mesh.control.resources import ObjectKey
from reference_mesh.identity import CertificateAuthority, SpiffeId
from reference_mesh.proxy.server import Proxy

TD = "cluster.local"
CP_ID = SpiffeId(TD, "mesh-system", "control-plane")
STORE = ObjectKey("Pod", "default", "bookstore-v1-0")
#: Where the test proxies listen: random per run, so concurrent runs (other checkouts) do not collide.
NET = f"127.{random.randrange(200, 255)}"


def configs_at(address: str) -> dict[ObjectKey, Any]:
    """Every pod's snapshot, listening on ``address`` (so parallel tests do not share ports)."""
    return {
        k: c.model_copy(update={"workload": c.workload.model_copy(update={"address": address})})
        for k, c in compile_mesh(bookstore()).items()
    }


async def setup(ca: CertificateAuthority, address: str) -> tuple[Distributor, dict[ObjectKey, Any]]:
    configs = configs_at(address)
    dist = Distributor(ca.issue(CP_ID), "127.0.0.1", 0, heartbeat_s=0.2)
    dist.update(configs, 7)
    await dist.start()
    return dist, configs


async def proxy_for(ca: CertificateAuthority, account: str) -> Proxy:
    proxy = Proxy(ca.issue(SpiffeId(TD, "default", account)), admin_port=None)
    await proxy.start()
    return proxy


def agent(proxy: Proxy, instance: str, dist: Distributor, cp_id: str = CP_ID.uri) -> ControlPlaneAgent:
    return ControlPlaneAgent(
        proxy,
        instance,
        "127.0.0.1",
        dist.port,
        cp_id,
        heartbeat_s=0.2,
        backoff_base_s=0.02,
        backoff_max_s=0.1,
    )


def test_snapshot_push_ack_and_resync_without_push() -> None:
    async def go() -> None:
        ca = CertificateAuthority.create(TD)
        dist, _ = await setup(ca, f"{NET}.0.4")
        proxy = await proxy_for(ca, "bookstore")
        a = agent(proxy, "bookstore-v1-0", dist)
        task = asyncio.ensure_future(a.run())
        await dist.wait_synced([STORE], timeout=5)
        assert proxy.version == "7" and dist.proxies[STORE].up_to_date
        assert dist.proxies[STORE].ack_latency_ms is not None
        # a new revision with the same content is not pushed; a changed one is
        assert dist.update(configs_at(f"{NET}.0.4"), 8) == []  # same content: nothing to push
        assert dist.update(configs_at(f"{NET}.1.4"), 9) != []  # changed
        await dist.wait_synced([STORE], timeout=5)
        assert proxy.version == "9"
        # the control plane goes away: the proxy keeps its snapshot; a new one adopts the proxy's version
        port = dist.port
        await dist.stop()
        await asyncio.sleep(0.3)
        assert proxy.version == "9" and not a.connected
        dist2 = Distributor(ca.issue(CP_ID), "127.0.0.1", port, heartbeat_s=0.2)
        dist2.update(configs_at(f"{NET}.1.4"), 12)
        await dist2.start()
        try:
            await dist2.wait_synced([STORE], timeout=5)
        except (asyncio.TimeoutError, TimeoutError):
            raise AssertionError((a.last_error, a.connected, dist2.proxies[STORE].to_json())) from None
        assert (
            proxy.version == "9" and dist2.proxies[STORE].desired == "9"
        )  # same content: adopted, not pushed
        await a.stop(task)
        await proxy.stop()
        await dist2.stop()

    asyncio.run(go())


def test_a_proxy_only_gets_the_config_of_pods_of_its_own_identity() -> None:
    async def go() -> None:
        ca = CertificateAuthority.create(TD)
        dist, _ = await setup(ca, f"{NET}.0.5")
        thief = await proxy_for(ca, "bookthief")
        a = agent(thief, "bookstore-v1-0", dist)  # asks for a bookstore pod's snapshot
        task = asyncio.ensure_future(a.run())
        for _ in range(250):
            if a.last_error is not None and "may not receive" in a.last_error:
                break
            await asyncio.sleep(0.02)
        assert thief.version is None
        assert a.last_error is not None and "may not receive" in a.last_error
        assert not dist.proxies[STORE].connected
        await a.stop(task)
        await thief.stop()
        await dist.stop()

    asyncio.run(go())


def test_the_proxy_refuses_a_server_that_is_not_the_control_plane() -> None:
    async def go() -> None:
        ca = CertificateAuthority.create(TD)
        dist, _ = await setup(ca, f"{NET}.0.6")
        proxy = await proxy_for(ca, "bookstore")
        a = agent(proxy, "bookstore-v1-0", dist, cp_id="spiffe://cluster.local/ns/default/sa/impostor")
        task = asyncio.ensure_future(a.run())
        await asyncio.sleep(0.4)
        assert (
            proxy.version is None
            and a.last_error is not None
            and "expected the control plane" in a.last_error
        )
        await a.stop(task)
        await proxy.stop()
        await dist.stop()

    asyncio.run(go())


def test_a_refused_snapshot_is_nacked_and_reported() -> None:
    async def go() -> None:
        ca = CertificateAuthority.create(TD)
        dist, configs = await setup(ca, f"{NET}.0.7")
        proxy = await proxy_for(ca, "bookstore")
        a = agent(proxy, "bookstore-v1-0", dist)
        task = asyncio.ensure_future(a.run())
        await dist.wait_synced([STORE], timeout=5)
        # a snapshot the proxy cannot apply: another pod's identity
        other = configs[ObjectKey("Pod", "default", "bookbuyer-0")]
        broken = configs[STORE].model_copy(update={"workload": other.workload})
        dist.update({**configs, STORE: broken}, 9)
        for _ in range(100):
            if dist.proxies[STORE].nacked == "9":
                break
            await asyncio.sleep(0.02)
        status = dist.proxies[STORE]
        assert status.nacked == "9" and "snapshot is for" in (status.error or "")
        assert status.acked == "7" and not status.up_to_date and proxy.version == "7"
        await a.stop(task)
        await proxy.stop()
        await dist.stop()

    asyncio.run(go())
