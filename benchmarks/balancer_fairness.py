"""How evenly the default balancer (peak-EWMA) spreads sequential requests over two equal instances: the
figure quoted in docs/performance.md (issue 11 found 0 of 414).

    .venv/bin/python benchmarks/balancer_fairness.py [--clients 20] [--requests 400]

An embedded mesh (sidecar processes, mTLS, echo apps on loopback) with one service of two replicas and
``--clients`` client pods. Each client in turn sends ``--requests`` requests one at a time over one keep-alive
connection through its own sidecar, whose balancer starts with no measurements; the output is, per client,
the requests the less used instance got, and their quantiles.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections import Counter
from pathlib import Path

import aiohttp

from reference_mesh.runtime.mesh import OUTBOUND_HTTP_PORT
from reference_mesh.runtime.sync import running_mesh
from reference_mesh.runtime.topology import Topology

ACCESS = """
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: api-port, namespace: default}
spec: {matches: {ports: [8080]}}
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: clients-to-api, namespace: default}
spec:
  destination: {kind: ServiceAccount, name: api, namespace: default}
  sources: [{kind: ServiceAccount, name: client, namespace: default}]
  rules: [{kind: TCPRoute, name: api-port}]
"""


def topology(clients: int) -> Topology:
    return Topology.model_validate(
        {
            "name": "balancer-fairness",
            "serviceAccounts": [{"name": "client"}, {"name": "api"}],
            "services": [{"name": "api", "selector": {"app": "api"}, "ports": [{"port": 8080}]}],
            "deployments": [
                {
                    "name": "client",
                    "serviceAccount": "client",
                    "labels": {"app": "client"},
                    "replicas": clients,
                },
                {
                    "name": "api",
                    "serviceAccount": "api",
                    "labels": {"app": "api"},
                    "replicas": 2,
                    "ports": [{"port": 8080}],
                },
            ],
        }
    )


async def one_client(address: str, requests: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    connector = aiohttp.TCPConnector(limit=1)  # one connection: strictly one request at a time
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as s:
        for _ in range(requests):
            async with s.get(f"http://{address}:{OUTBOUND_HTTP_PORT}/", headers={"Host": "api"}) as resp:
                counts[(await resp.json())["instance"]] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home, running_mesh(topology(args.clients), home=Path(home)) as mesh:
        outcome = mesh.apply(ACCESS)
        assert outcome.admission.ok, [str(f) for f in outcome.admission.findings]
        mesh.converge()
        lesser = []
        for i in range(args.clients):
            counts = mesh.run(one_client(mesh.mesh.pod_address(f"client-{i}"), args.requests))
            lesser.append(min(counts.get("api-0", 0), counts.get("api-1", 0)))
            print(f"client-{i}: {dict(sorted(counts.items()))}", flush=True)
    lesser.sort()
    quartiles = statistics.quantiles(lesser, n=4) if len(lesser) > 1 else lesser
    print(
        f"less used instance, {args.requests} sequential requests x {args.clients} clients: "
        f"min {lesser[0]}, quartiles {[round(q) for q in quartiles]}, max {lesser[-1]}; "
        f"starved (0) in {sum(x == 0 for x in lesser)} of {args.clients}"
    )


if __name__ == "__main__":
    main()
