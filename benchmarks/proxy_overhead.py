"""Proxy overhead: the same echo backend reached directly and through two sidecars (client sidecar -> mTLS ->
server sidecar -> echo), measured side by side in one run.

    .venv/bin/python benchmarks/proxy_overhead.py            # ~2 minutes .venv/bin/python
    benchmarks/proxy_overhead.py --quick    # ~20 seconds, for a smoke check

Every component is its own process (echo, two proxies, the load generator), as in the embedded runtime. Two
measurements, each alternating direct / proxied rounds so machine noise hits both alike:

* latency at a fixed rate: open loop (requests are scheduled at the rate and latency is counted from the
  scheduled send time, so a stall is not hidden: no coordinated omission), HTTP/1.1 keep-alive, p50/p90/p99;
* highest rate: closed loop with many keep-alive connections for a few seconds; requests per second overall
  and per CPU-second of the proxies (read from /proc), i.e. the rate one core running proxies sustains.

Targets (issue 3 section 9): p50 overhead <= 0.5 ms; proxied throughput >= 50% of direct.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# ------------------------------------------------------------------------------------------- load generator
async def _client(host: str, port: int, host_header: str) -> tuple[Any, Any, Any]:
    import httptools

    reader, writer = await asyncio.open_connection(host, port)
    done: list[int] = []

    class Sink:
        def on_message_complete(self) -> None:
            done.append(1)

    parser = httptools.HttpResponseParser(Sink())
    request = f"GET /bench HTTP/1.1\r\nhost: {host_header}\r\n\r\n".encode()

    async def one() -> None:
        writer.write(request)
        n = len(done)
        while len(done) == n:
            data = await reader.read(65536)
            if not data:
                raise ConnectionError("server closed")
            parser.feed_data(data)

    return one, writer, reader


async def fixed_rate(host: str, port: int, host_header: str, rate: float, seconds: float, conns: int) -> dict:
    """Open loop: request i is due at start + i/rate on connection i % conns; latency from the due time."""
    clients = [await _client(host, port, host_header) for _ in range(conns)]
    for one, _, _ in clients:  # warm the connections (TLS handshakes, pools)
        await one()
    total = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter() + 0.05

    async def worker(index: int) -> None:
        nonlocal errors
        one = clients[index][0]
        for i in range(index, total, conns):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent = time.perf_counter()
            try:
                await one()
            except Exception:
                errors += 1
                return
            # from the due time when the sender is late (no coordinated omission); timers may also wake early
            latencies.append((time.perf_counter() - min(due, sent)) * 1000.0)

    await asyncio.gather(*(worker(i) for i in range(conns)))
    elapsed = time.perf_counter() - start
    for _, writer, _ in clients:
        writer.close()
    latencies.sort()

    def q(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))]

    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": elapsed,
        "p50_ms": q(0.5),
        "p90_ms": q(0.9),
        "p99_ms": q(0.99),
        "mean_ms": statistics.fmean(latencies),
    }


async def max_rate(host: str, port: int, host_header: str, seconds: float, conns: int) -> dict:
    """Closed loop: ``conns`` keep-alive connections send back to back for ``seconds``."""
    clients = [await _client(host, port, host_header) for _ in range(conns)]
    for one, _, _ in clients:
        await one()
    count = 0
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(one: Any) -> None:
        nonlocal count, errors
        while time.perf_counter() < deadline:
            try:
                await one()
            except Exception:
                errors += 1
                return
            count += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker(c[0]) for c in clients))
    elapsed = time.perf_counter() - start
    for _, writer, _ in clients:
        writer.close()
    return {"requests": count, "errors": errors, "seconds": elapsed, "rps": count / elapsed}


def loadgen_main(args: list[str]) -> None:
    import uvloop

    spec = json.loads(args[0])
    if spec["mode"] == "fixed":
        coro = fixed_rate(
            spec["host"], spec["port"], spec["host_header"], spec["rate"], spec["seconds"], spec["conns"]
        )
    else:
        coro = max_rate(spec["host"], spec["port"], spec["host_header"], spec["seconds"], spec["conns"])
    print(json.dumps(uvloop.run(coro)))


# -------------------------------------------------------------------------------------------------- set-up
def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Bench:
    """echo-0 (echo app + server sidecar) and bench-client-0 (client sidecar), each component a process."""

    def __init__(self, workdir: Path):
        from reference_mesh.proxy.config import AuthorizationPolicy, AuthorizationRule, HttpMatch
        from reference_mesh.proxy.loopback import LoopbackMesh
        from reference_mesh.proxy.process import ProxyProcess, spawn_proxy

        self.mesh = LoopbackMesh()
        self.client = self.mesh.add("bench-client-0", "bench-client")
        self.server = self.mesh.add("echo-0", "echo", ["echo"])
        rule = AuthorizationRule(
            name="default/bench", sources=(self.client.identity.uri,), http=(HttpMatch(),)
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.echo_addr = (self.server.address, self.server.app_port(8080))
        self.echo = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "smi_conformance.workload.echo",
                "--service",
                "echo",
                "--instance",
                "echo-0",
                "--http",
                f"{self.echo_addr[0]}:{self.echo_addr[1]}",
            ],
            env=env,
            stderr=subprocess.PIPE,
        )
        self.echo.stderr.readline()  # type: ignore[union-attr]
        self.proxies: dict[str, ProxyProcess] = {}
        try:
            for inst, kw in (
                (self.server, {"authorization": AuthorizationPolicy(rules=(rule,))}),
                (self.client, {}),
            ):
                config = self.mesh.config(inst, **kw)  # type: ignore[arg-type]
                self.proxies[inst.name] = spawn_proxy(workdir / inst.name, inst.credentials, config, env=env)
            for proxy in self.proxies.values():
                proxy.wait_ready()
        except BaseException:
            self.close()
            raise
        self.proxy_pids = {name: proxy.popen.pid for name, proxy in self.proxies.items()}

    def run_loadgen(self, spec: dict) -> dict:
        out = subprocess.run(
            [sys.executable, __file__, "--loadgen", json.dumps(spec)],
            capture_output=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        return json.loads(out.stdout)

    def target(self, path: str) -> dict:
        from reference_mesh.proxy.loopback import OUTBOUND_HTTP_PORT

        if path == "direct":
            return {"host": self.echo_addr[0], "port": self.echo_addr[1], "host_header": "echo"}
        return {"host": self.client.address, "port": OUTBOUND_HTTP_PORT, "host_header": "echo"}

    def close(self) -> None:
        for proxy in self.proxies.values():
            proxy.stop()
        self.echo.send_signal(signal.SIGTERM)
        try:
            self.echo.wait(10)
        except subprocess.TimeoutExpired:
            self.echo.kill()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short rounds (smoke check)")
    parser.add_argument("--rate", type=float, default=500.0, help="fixed request rate for latency (req/s)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    rounds, fixed_s, max_s = (1, 3.0, 2.0) if args.quick else (3, 10.0, 5.0)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp))
        try:
            results: dict[str, Any] = {
                "fixed": {"direct": [], "proxied": []},
                "max": {"direct": [], "proxied": []},
            }
            for _ in range(rounds):
                for path in ("direct", "proxied"):
                    spec = {
                        **bench.target(path),
                        "mode": "fixed",
                        "rate": args.rate,
                        "seconds": fixed_s,
                        "conns": 4,
                    }
                    results["fixed"][path].append(bench.run_loadgen(spec))
            for _ in range(rounds):
                for path in ("direct", "proxied"):
                    pids = {"echo": bench.echo.pid, **bench.proxy_pids}
                    before = {k: cpu_seconds(p) for k, p in pids.items()}
                    r = bench.run_loadgen(
                        {**bench.target(path), "mode": "max", "seconds": max_s, "conns": 32}
                    )
                    r["cpu_s"] = {k: cpu_seconds(p) - before[k] for k, p in pids.items()}
                    results["max"][path].append(r)
        finally:
            bench.close()
    results["load_average_1m"] = [load_before, os.getloadavg()[0]]
    report(results, args.rate)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def report(results: dict[str, Any], rate: float) -> None:
    before, after = results["load_average_1m"]
    cores = os.cpu_count()
    print(f"machine load (1-minute average) before / after: {before:.1f} / {after:.1f} on {cores} cores")

    def med(path: str, kind: str, key: str) -> float:
        return statistics.median(r[key] for r in results[kind][path])

    print(f"latency at {rate:.0f} req/s, keep-alive, median of {len(results['fixed']['direct'])} rounds:")
    print(f"{'':10}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for path in ("direct", "proxied"):
        errors = sum(r["errors"] for r in results["fixed"][path])
        print(
            f"{path:10}{med(path, 'fixed', 'p50_ms'):10.3f}{med(path, 'fixed', 'p90_ms'):10.3f}"
            f"{med(path, 'fixed', 'p99_ms'):10.3f}{errors:8d}"
        )
    p50_overhead = med("proxied", "fixed", "p50_ms") - med("direct", "fixed", "p50_ms")
    p99_overhead = med("proxied", "fixed", "p99_ms") - med("direct", "fixed", "p99_ms")
    print(f"overhead: p50 +{p50_overhead:.3f} ms (target <= 0.5 ms), p99 +{p99_overhead:.3f} ms")
    direct_rps, proxied_rps = med("direct", "max", "rps"), med("proxied", "max", "rps")
    proxy_cpu = statistics.median(
        r["cpu_s"]["bench-client-0"] + r["cpu_s"]["echo-0"] for r in results["max"]["proxied"]
    )
    proxied_reqs = statistics.median(r["requests"] for r in results["max"]["proxied"])
    per_core = proxied_reqs / proxy_cpu if proxy_cpu else float("nan")
    print(
        f"highest rate (32 connections): direct {direct_rps:.0f} req/s, proxied {proxied_rps:.0f} req/s "
        f"= {100 * proxied_rps / direct_rps:.0f}% of direct (target >= 50%)"
    )
    print(
        f"proxy CPU: {per_core:.0f} proxied requests per CPU-second of the two sidecars together "
        f"({2 * per_core:.0f} per sidecar-core-second)"
    )


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--loadgen":
        loadgen_main(sys.argv[2:])
    else:
        main()
