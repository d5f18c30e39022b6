from __future__ import annotations

from collections.abc import Iterator

import pytest

from mesh_support import LoopThread, Topology


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
def topo(topology: Topology, loop_thread: LoopThread) -> Topology:
    loop_thread.run(topology.configure())  # default: split-free, web allowed everything
    return topology
