"""Proxy overhead: the same echo backend reached directly, through the floor (a blind byte relay pair), and
through two sidecars (client sidecar -> mTLS -> server sidecar -> echo), measured side by side in one run.

    .venv/bin/python benchmarks/proxy_overhead.py           # ~3 minutes
    .venv/bin/python benchmarks/proxy_overhead.py --quick   # ~30 seconds, for a smoke check

Every component is its own process (echo, the proxies, the load generator), as in the embedded runtime. The
floor is ``benchmarks/relay_floor.py``: the same event loop (uvloop), sockets and mTLS as the sidecars, but
bytes are copied as they come, no HTTP, routing, policy or telemetry; what the sidecars cost above it is
their own work. Rounds alternate direct / floor / proxied so machine noise hits all alike:

* latency at a fixed rate: open loop (requests are scheduled at the rate and latency is counted from the
  scheduled send time, so a stall is not hidden: no coordinated omission), HTTP/1.1 keep-alive, p50/p90/p99;
* highest rate: closed loop with 32 keep-alive connections for a few seconds;
* CPU per request of each process (run time from /proc/<pid>/task/*/schedstat, user + system): at the
  highest rate (requests batch up per wake-up) and with one connection, one request at a time (every
  request pays every wake-up: the cost that adds to latency).

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
FLOOR_PORT = 9090  # the relay pair's listeners (benchmarks/relay_floor.py)
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "refmesh"))  # loopback.py: a small mesh built in-process


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


async def count_requests(host: str, port: int, host_header: str, requests: int, conns: int) -> dict:
    """Closed loop bounded by count: ``requests`` spread over ``conns`` keep-alive connections (for CPU cost
    per request: with one connection every request pays every wake-up, with many they batch)."""
    clients = [await _client(host, port, host_header) for _ in range(conns)]
    for one, _, _ in clients:
        await one()
    errors = 0

    async def worker(one: Any, n: int) -> None:
        nonlocal errors
        for _ in range(n):
            try:
                await one()
            except Exception:
                errors += 1
                return

    start = time.perf_counter()
    await asyncio.gather(*(worker(c[0], requests // conns) for c in clients))
    elapsed = time.perf_counter() - start
    for _, writer, _ in clients:
        writer.close()
    done = requests // conns * conns
    return {"requests": done, "errors": errors, "seconds": elapsed, "rps": done / elapsed}


def loadgen_main(args: list[str]) -> None:
    import uvloop

    spec = json.loads(args[0])
    if spec["mode"] == "fixed":
        coro = fixed_rate(
            spec["host"], spec["port"], spec["host_header"], spec["rate"], spec["seconds"], spec["conns"]
        )
    elif spec["mode"] == "count":
        coro = count_requests(
            spec["host"], spec["port"], spec["host_header"], spec["requests"], spec["conns"]
        )
    else:
        coro = max_rate(spec["host"], spec["port"], spec["host_header"], spec["seconds"], spec["conns"])
    print(json.dumps(uvloop.run(coro)))


# -------------------------------------------------------------------------------------------------- set-up
def cpu_seconds(pid: int) -> float:
    """CPU time a process has used, all threads, in nanosecond resolution (the scheduler's run time)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process, at clock-tick resolution."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


class Bench:
    """echo-0 (echo app + server sidecar) and bench-client-0 (client sidecar), each component a process."""

    def __init__(self, workdir: Path):
        from loopback import LoopbackMesh

        from reference_mesh.proxy.config import AuthorizationPolicy, AuthorizationRule, HttpMatch
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
        self.relays: dict[str, subprocess.Popen[bytes]] = {}
        try:
            for inst, kw in (
                (self.server, {"authorization": AuthorizationPolicy(rules=(rule,))}),
                (self.client, {}),
            ):
                config = self.mesh.config(inst, **kw)  # type: ignore[arg-type]
                self.proxies[inst.name] = spawn_proxy(workdir / inst.name, inst.credentials, config, env=env)
            for proxy in self.proxies.values():
                proxy.wait_ready()
            # the floor: a blind byte relay pair on the same loop, sockets and mTLS, with the same credentials
            self.floor_addr = (self.client.address, FLOOR_PORT)
            server_floor = f"{self.server.address}:{FLOOR_PORT}"
            for name, inst, listen, upstream, side in (
                ("floor-server", self.server, server_floor, "{}:{}".format(*self.echo_addr), "--tls-in"),
                (
                    "floor-client",
                    self.client,
                    f"{self.client.address}:{FLOOR_PORT}",
                    server_floor,
                    "--tls-out",
                ),
            ):
                command = [sys.executable, str(ROOT / "benchmarks" / "relay_floor.py"), "--listen", listen]
                command += ["--upstream", upstream, "--credentials", str(workdir / inst.name / "credentials")]
                self.relays[name] = subprocess.Popen([*command, side], env=env, stderr=subprocess.PIPE)
                self.relays[name].stderr.readline()  # type: ignore[union-attr]
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

    def pids(self, path: str) -> dict[str, int]:
        """The processes that serve a request on ``path``."""
        if path == "direct":
            return {"echo": self.echo.pid}
        if path == "floor":
            return {"echo": self.echo.pid, **{name: relay.pid for name, relay in self.relays.items()}}
        return {"echo": self.echo.pid, **self.proxy_pids}

    def target(self, path: str) -> dict:
        from loopback import OUTBOUND_HTTP_PORT

        if path == "direct":
            return {"host": self.echo_addr[0], "port": self.echo_addr[1], "host_header": "echo"}
        if path == "floor":
            return {"host": self.floor_addr[0], "port": self.floor_addr[1], "host_header": "echo"}
        return {"host": self.client.address, "port": OUTBOUND_HTTP_PORT, "host_header": "echo"}

    def close(self) -> None:
        for proxy in self.proxies.values():
            proxy.stop()
        for relay in self.relays.values():
            relay.send_signal(signal.SIGTERM)
            relay.wait(10)
        self.echo.send_signal(signal.SIGTERM)
        try:
            self.echo.wait(10)
        except subprocess.TimeoutExpired:
            self.echo.kill()


PATHS = ("direct", "floor", "proxied")


def measure(bench: Bench, path: str, spec: dict[str, Any]) -> dict[str, Any]:
    """One load generator run on ``path``, with the CPU time each process on it used per request (us)."""
    pids = bench.pids(path)
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    result = bench.run_loadgen({**bench.target(path), **spec})
    done = max(1, result["requests"])
    result["cpu_us"] = {name: (cpu_seconds(pid) - before[name]) / done * 1e6 for name, pid in pids.items()}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short rounds (smoke check)")
    parser.add_argument("--rate", type=float, default=500.0, help="fixed request rate for latency (req/s)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    json_path = args.json.resolve() if args.json else None
    # the processes started run this tree's code: `python -m` puts the working directory first on sys.path
    os.chdir(ROOT)
    rounds, fixed_s, max_s, one_by_one = (1, 3.0, 2.0, 500) if args.quick else (3, 10.0, 5.0, 3000)
    load_before = os.getloadavg()[0]
    results: dict[str, Any] = {kind: {path: [] for path in PATHS} for kind in ("fixed", "max", "one")}
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp))
        try:
            for path in PATHS:  # warm every path once (TLS handshakes, pools)
                bench.run_loadgen({**bench.target(path), "mode": "count", "requests": 200, "conns": 4})
            for _ in range(rounds):
                for path in PATHS:
                    spec = {"mode": "fixed", "rate": args.rate, "seconds": fixed_s, "conns": 4}
                    results["fixed"][path].append(measure(bench, path, spec))
            for _ in range(rounds):
                for path in PATHS:
                    spec = {"mode": "max", "seconds": max_s, "conns": 32}
                    results["max"][path].append(measure(bench, path, spec))
            for _ in range(rounds):
                for path in PATHS:
                    spec = {"mode": "count", "requests": one_by_one, "conns": 1}
                    results["one"][path].append(measure(bench, path, spec))
        finally:
            bench.close()
    results["load_average_1m"] = [load_before, os.getloadavg()[0]]
    report(results, args.rate)
    if json_path:
        json_path.write_text(json.dumps(results, indent=2))


def report(results: dict[str, Any], rate: float) -> None:
    before, after = results["load_average_1m"]
    cores = os.cpu_count()
    print(f"machine load (1-minute average) before / after: {before:.1f} / {after:.1f} on {cores} cores")

    def med(kind: str, path: str, key: str) -> float:
        return statistics.median(r[key] for r in results[kind][path])

    def cpu(kind: str, path: str, name: str) -> float:
        return statistics.median(r["cpu_us"][name] for r in results[kind][path])

    rounds = len(results["fixed"]["direct"])
    print(f"latency at {rate:.0f} req/s, keep-alive, median of {rounds} rounds:")
    print(f"{'':10}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for path in PATHS:
        errors = sum(r["errors"] for r in results["fixed"][path])
        p50, p90, p99 = (med("fixed", path, f"{q}_ms") for q in ("p50", "p90", "p99"))
        print(f"{path:10}{p50:10.3f}{p90:10.3f}{p99:10.3f}{errors:8d}")
    for path in ("floor", "proxied"):
        p50 = med("fixed", path, "p50_ms") - med("fixed", "direct", "p50_ms")
        p99 = med("fixed", path, "p99_ms") - med("fixed", "direct", "p99_ms")
        target = " (target <= 0.5 ms)" if path == "proxied" else ""
        print(f"overhead of {path}: p50 {p50:+.3f} ms{target}, p99 {p99:+.3f} ms")
    direct_rps = med("max", "direct", "rps")
    line = [f"highest rate (32 connections): direct {direct_rps:.0f} req/s"]
    for path in ("floor", "proxied"):
        rps = med("max", path, "rps")
        line.append(f"{path} {rps:.0f} req/s = {100 * rps / direct_rps:.0f}% of direct")
    print(", ".join(line) + " (target >= 50%)")
    print("CPU per request (us, user + system), median of rounds:")
    print(f"{'':28}{'32 connections':>16}{'one at a time':>16}")
    for path, name, label in (
        ("proxied", "bench-client-0", "client sidecar"),
        ("proxied", "echo-0", "server sidecar"),
        ("floor", "floor-client", "floor relay, client side"),
        ("floor", "floor-server", "floor relay, server side"),
        ("direct", "echo", "echo application"),
    ):
        print(f"  {label:26}{cpu('max', path, name):16.1f}{cpu('one', path, name):16.1f}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--loadgen":
        loadgen_main(sys.argv[2:])
    else:
        main()
