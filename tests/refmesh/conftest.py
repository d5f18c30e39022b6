from __future__ import annotations

from collections.abc import Iterator

import pytest
from mesh_support import HttpClient, LoopThread, Topology


@pytest.fixture(scope="session")
def loop_thread() -> Iterator[LoopThread]:
    lt = LoopThread()
    yield lt
    lt.close()


@pytest.fixture(scope="module")
def topology(loop_thread: LoopThread) -> Iterator[Topology]:
    """One running mesh per test module; each test re-applies the snapshots it needs (``topo.configure``)."""
    topo = loop_thread.run(Topology.start())
    yield topo
    loop_thread.run(topo.stop())


@pytest.fixture
def topo(topology: Topology, loop_thread: LoopThread) -> Iterator[Topology]:
    """The module's mesh reset to defaults: no split, default resilience, web allowed everything."""
    topology.mesh.splits.clear()
    topology.mesh.resilience.clear()
    for proxy in topology.proxies.values():
        proxy.registry.retain(set())  # forget ejections and latency measurements of earlier tests
    loop_thread.run(topology.configure())
    yield topology
    loop_thread.run(HttpClient.close_all())
