"""Test traffic through a pod's sidecar (aiohttp: an ordinary HTTP client, independent of the proxy's
parser)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp

from reference_mesh.runtime.mesh import OUTBOUND_HTTP_PORT, EmbeddedMesh


@dataclass
class Result:
    status: int
    version: str | None
    body: str


async def request(
    session: aiohttp.ClientSession,
    mesh: EmbeddedMesh,
    pod: str,
    path: str = "/books-bought",
    host: str = "bookstore",
    method: str = "GET",
    headers: dict[str, str] | None = None,
    namespace: str = "default",
) -> Result:
    url = f"http://{mesh.pod_address(pod, namespace)}:{OUTBOUND_HTTP_PORT}{path}"
    try:
        async with session.request(method, url, headers={"Host": host, **(headers or {})}) as resp:
            text = await resp.text()
            version = None
            if resp.status == 200 and resp.content_type == "application/json":
                version = (await resp.json()).get("version")
            return Result(resp.status, version, text)
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        return Result(0, None, repr(exc))


def session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=10), connector=aiohttp.TCPConnector(limit=64, force_close=False)
    )


async def versions(mesh: EmbeddedMesh, pod: str, n: int, concurrency: int = 8, **kw: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    async with session() as s:

        async def worker(k: int) -> None:
            for _ in range(k):
                r = await request(s, mesh, pod, **kw)
                counts[r.version or f"status {r.status}"] += 1

        await asyncio.gather(*(worker(n // concurrency + (i < n % concurrency)) for i in range(concurrency)))
    return counts


@dataclass
class Load:
    """Keep-alive clients sending continuously until stopped; every response is kept."""

    mesh: EmbeddedMesh
    pod: str
    clients: int = 4
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def _run(self) -> None:
        async with session() as s:
            deadline = time.monotonic() + 120  # bound every load loop
            while not self._stop.is_set() and time.monotonic() < deadline:
                r = await request(s, self.mesh, self.pod)
                self.statuses[r.status] += 1
                if r.status != 200:
                    self.failures.append(f"{r.status} {r.body[:200]}")

    def start(self) -> Load:
        self._tasks = [asyncio.ensure_future(self._run()) for _ in range(self.clients)]
        return self

    async def stop(self) -> Counter[int]:
        self._stop.set()
        await asyncio.gather(*self._tasks)
        return self.statuses
