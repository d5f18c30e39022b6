"""``reference-mesh demo TOPOLOGY``: bring a mesh up, drive traffic through it, show ``check`` and ``top``,
stop.

What ``make run`` does after linting the examples. On the bookstore topology: bookbuyer sends HTTP requests
to the bookstore service (split 75/25 over v1 and v2 by the example's TrafficSplit), a TCP echo through its
sidecar's local port, and a UDP datagram; bookthief tries the same HTTP route and is denied (403: no
TrafficTarget names it). Exit code 0 when every expectation held and ``check`` found the mesh healthy.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import click
import yaml
from rich.console import Console
from rich.markup import escape

from reference_mesh.runtime.topology import TopologyError, load_topology

__all__ = ["demo"]


async def _http(address: str, host: str, path: str, n: int) -> Counter[str]:
    import aiohttp

    counts: Counter[str] = Counter()
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def worker(k: int) -> None:
            for _ in range(k):
                async with session.get(f"http://{address}:15001{path}", headers={"Host": host}) as resp:
                    body = await resp.json() if resp.status == 200 else None
                    counts[f"{resp.status} {body['version']}" if body else str(resp.status)] += 1

        await asyncio.gather(*(worker(n // 8 + (i < n % 8)) for i in range(8)))
    return counts


async def _tcp(address: str, port: int) -> bytes:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), 5)
    writer.write(b"hello over tcp\n")
    await writer.drain()
    try:  # the echo's greeting line, then our line back
        return await asyncio.wait_for(reader.readuntil(b"hello over tcp\n"), 5)
    finally:
        writer.close()


async def _udp(address: str, port: int) -> bytes:
    loop = asyncio.get_running_loop()
    got: asyncio.Future[bytes] = loop.create_future()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            if not got.done():
                got.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(
        Client, local_addr=(address, 0), remote_addr=(address, port)
    )
    try:
        transport.sendto(b"hello over udp")
        return await asyncio.wait_for(got, 5)
    finally:
        transport.close()


@click.command()
@click.argument("topology", type=click.Path(path_type=Path))
@click.option("--requests", "n", default=200, show_default=True, help="HTTP requests bookbuyer sends")
def demo(topology: Path, n: int) -> None:
    """Start TOPOLOGY, drive traffic, print check and top, stop (the bookstore example's tour)."""
    from reference_mesh.cli import stats
    from reference_mesh.cli.check import print_checks, run_checks
    from reference_mesh.cli.client import MeshClient
    from reference_mesh.runtime.sync import running_mesh

    try:
        topo = load_topology(topology)
    except TopologyError as exc:
        raise click.UsageError(str(exc)) from None
    names = {(d.namespace, n) for d in topo.deployments for n in d.instance_names()}
    if not {("default", "bookbuyer-0"), ("default", "bookthief-0")} <= names or not any(
        s.name == "bookstore" for s in topo.services
    ):
        raise click.UsageError(
            "demo drives the bookstore example's traffic: the topology needs bookbuyer, "
            "bookthief and the bookstore service (examples/mesh/bookstore-topology.yaml)"
        )
    console = Console(width=max(Console().width, 130), highlight=False)
    ok = True
    with tempfile.TemporaryDirectory(prefix="reference-mesh-demo-") as home:
        started = time.monotonic()
        with running_mesh(topo, base_dir=topology.parent, home=Path(home)) as handle:
            mesh = handle.mesh
            console.print(
                f"[bold]mesh {topo.name!r} up in {mesh.startup_s:.2f}s[/]: {len(mesh.pods)} pods, "
                f"{2 * len(mesh.pods) - sum(1 for rt in mesh.pods.values() if rt.app is None)} processes, "
                f"control plane at {mesh.cp_address}"
            )
            buyer, thief = mesh.pod_address("bookbuyer-0"), mesh.pod_address("bookthief-0")
            bought = handle.run(_http(buyer, "bookstore", "/books-bought", n))
            stolen = handle.run(_http(thief, "bookstore", "/books-bought", 20))
            console.print(f"bookbuyer -> bookstore /books-bought x{n}: {dict(sorted(bought.items()))}")
            console.print(
                f"bookthief -> bookstore /books-bought x20: {dict(stolen)}  (no TrafficTarget allows it)"
            )
            ok &= set(stolen) == {"403"} and all(k.startswith("200") for k in bought)
            for proto, port, probe in (("tcp", 9000, _tcp), ("udp", 9001, _udp)):
                try:
                    reply = handle.run(probe(buyer, mesh.local_port("bookstore", port)))
                except (OSError, asyncio.TimeoutError, TimeoutError) as exc:
                    reply, ok = f"no reply ({exc or type(exc).__name__})".encode(), False
                console.print(
                    f"bookbuyer -> bookstore {proto}/{port}: {escape(repr(reply.decode(errors='replace')))}"
                )
                ok &= f"hello over {proto}".encode() in reply
            time.sleep(
                max(0.0, 1.05 - (time.time() % 1))
            )  # let the current second close: it is in the window
            client = MeshClient({"admin": mesh.admin_url, "metrics": mesh.metrics_url, "token": mesh.token})
            console.rule("reference-mesh check")
            checks = run_checks(client)
            print_checks(checks, console)
            ok &= all(c.ok for c in checks)
            console.rule("reference-mesh top -t 30s")
            stats.show(client, "edge", "30s", None, "table", console)
            console.rule("reference-mesh routes -t 30s")
            stats.show(client, "route", "30s", None, "table", console)
            console.rule(
                "Traffic Metrics API: GET .../namespaces/default/trafficsplits/bookstore-canary?t=30s"
            )
            _, body = client.call(
                "/apis/metrics.smi-spec.io/v1alpha1/namespaces/default/trafficsplits/bookstore-canary?t=30s",
                base=client.metrics,
            )
            console.print(escape(yaml.safe_dump(body, sort_keys=False).rstrip()))
        console.print(f"stopped cleanly; whole tour {time.monotonic() - started:.1f}s")
    console.print("[bold green]demo passed[/]" if ok else "[bold red]demo found problems[/]")
    sys.exit(0 if ok else 1)
