"""Control-plane figures quoted in docs/performance.md: start-up, convergence after an apply, snapshot push
to N proxies.

    .venv/bin/python benchmarks/control_plane.py [--quick]

1. ``up`` start-up of the example topology (5 pods, 8 processes): from the call to every pod ready, every
   proxy on its snapshot and the topology's SMI manifests applied and acknowledged.
2. Convergence after ``apply`` on that mesh: from the apply call (admission + commit) to every proxy's ack of
   the new snapshot; and to the first request that sees the change (a TrafficTarget flipping bookthief
   from 403 to 200).
3. Push latency to N proxies (in one process, real mTLS streams): from ``Distributor.update`` with a change
   that touches every proxy to the last ack, for N = 10, 50, 100.

All on loopback on this machine; it is shared and noisy, so each figure is a median (and p95) of repeats.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp

from reference_mesh.control.agent import ControlPlaneAgent
from reference_mesh.control.compiler import compile_mesh
from reference_mesh.control.distributor import Distributor
from reference_mesh.control.resources import (
    ContainerPort,
    ObjectKey,
    Pod,
    PodSpec,
    PodStatus,
    Service,
    ServicePortSpec,
    ServiceSpec,
    SimpleMeta,
)
from reference_mesh.control.store import StoredObject, StoreState
from reference_mesh.identity import CertificateAuthority, SpiffeId
from reference_mesh.proxy.server import Proxy
from reference_mesh.runtime.mesh import EmbeddedMesh
from reference_mesh.runtime.topology import load_topology

TOPOLOGY = Path(__file__).resolve().parent.parent / "examples" / "mesh" / "bookstore-topology.yaml"
THIEF = """
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: thief, namespace: default}
spec:
  destination: {kind: ServiceAccount, name: bookstore}
  sources: [{kind: ServiceAccount, name: bookthief}]
  rules: [{kind: HTTPRouteGroup, name: bookstore-service-routes}]
"""


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def fmt(values: list[float]) -> str:
    median, p95 = statistics.median(values) * 1000, pct(values, 0.95) * 1000
    return f"median {median:.1f} ms, p95 {p95:.1f} ms (n={len(values)})"


async def startup_and_convergence(repeats: int, applies: int) -> None:
    topo = load_topology(TOPOLOGY)
    starts = []
    for i in range(repeats):
        with tempfile.TemporaryDirectory() as home:
            mesh = EmbeddedMesh(topo, base_dir=TOPOLOGY.parent, home=Path(home))
            t0 = time.perf_counter()
            await mesh.start()
            starts.append(time.perf_counter() - t0)
            if i == repeats - 1:
                await convergence(mesh, applies)
            await mesh.stop()
    print(f"up (example topology, 5 pods / 8 processes): {fmt(starts)}")


async def convergence(mesh: EmbeddedMesh, applies: int) -> None:
    acked, observed = [], []
    url = f"http://{mesh.pod_address('bookthief-0')}:15001/books-bought"
    async with aiohttp.ClientSession() as session:
        for i in range(applies):
            delete = i % 2 == 1
            want = 403 if delete else 200
            t0 = time.perf_counter()
            outcome = await mesh.apply_text(THIEF, delete=delete)
            assert outcome.admission.ok
            waiter = asyncio.ensure_future(mesh.wait_converged(10))
            while True:
                async with session.get(url, headers={"Host": "bookstore"}) as resp:
                    if resp.status == want:
                        observed.append(time.perf_counter() - t0)
                        break
            await waiter
            acked.append(time.perf_counter() - t0)
    print(f"apply -> every proxy acked: {fmt(acked)}")
    print(f"apply -> first request seeing the change: {fmt(observed)}")


def synthetic_state(n: int, prefix: str, weight: int) -> StoreState:
    objs: list[object] = [
        Service(
            metadata=SimpleMeta(name="api"),
            spec=ServiceSpec(selector={"app": "api"}, ports=(ServicePortSpec(port=8080),)),
        )
    ]
    objs.append(
        Pod(
            metadata=SimpleMeta(name="api-0", labels={"app": "api", "w": str(weight)}),
            spec=PodSpec(
                service_account_name="api", ports=(ContainerPort(container_port=8080, app_port=18080),)
            ),
            status=PodStatus(pod_ip=f"{prefix}.250"),
        )
    )
    for i in range(n):
        objs.append(
            Pod(
                metadata=SimpleMeta(name=f"client-{i}", labels={"app": "client"}),
                spec=PodSpec(service_account_name="client"),
                status=PodStatus(pod_ip=f"{prefix}.{i + 2}"),
            )
        )
    stored = {}
    for rev, obj in enumerate(objs, 1):
        k = ObjectKey(obj.kind, "default", obj.metadata.name)  # type: ignore[attr-defined]
        stored[k] = StoredObject(k, obj, rev, rev)
    return StoreState(stored, len(objs))


async def push_latency(n: int, rounds: int) -> None:
    ca = CertificateAuthority.create("cluster.local")
    prefix = f"127.{200 + n % 50}.{os.getpid() % 250}"
    dist = Distributor(ca.issue(SpiffeId("cluster.local", "mesh-system", "control-plane")), "127.0.0.1", 0)
    dist.update(compile_mesh(synthetic_state(n, prefix, 0)), 1)
    await dist.start()
    proxies, agents, tasks = [], [], []
    client_creds = ca.issue(SpiffeId("cluster.local", "default", "client"))
    for i in range(n):
        proxy = Proxy(client_creds, admin_port=None)
        await proxy.start()
        agent = ControlPlaneAgent(
            proxy, f"client-{i}", "127.0.0.1", dist.port, dist.tls.credentials.spiffe_id.uri
        )
        proxies.append(proxy)
        agents.append(agent)
        tasks.append(asyncio.ensure_future(agent.run()))
    clients = [ObjectKey("Pod", "default", f"client-{i}") for i in range(n)]
    await dist.wait_synced(clients, timeout=120)
    times = []
    for r in range(rounds):
        t0 = time.perf_counter()
        changed = dist.update(compile_mesh(synthetic_state(n, prefix, r + 1)), r + 2)
        assert len(changed) >= n
        await dist.wait_synced(clients, timeout=60)
        times.append(time.perf_counter() - t0)
    print(f"push to {n} proxies (update -> last ack): {fmt(times)}")
    for agent, task in zip(agents, tasks, strict=True):
        await agent.stop(task)
    for proxy in proxies:
        await proxy.stop()
    await dist.stop()


async def main(quick: bool, push_only: bool) -> None:
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    if not push_only:
        await startup_and_convergence(2 if quick else 5, 10 if quick else 40)
    for n in (10, 50) if quick else (10, 50, 100):
        await push_latency(n, 3 if quick else 10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--push-only", action="store_true")
    args = parser.parse_args()
    import uvloop

    uvloop.run(main(args.quick, args.push_only))
