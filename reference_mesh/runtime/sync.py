"""The embedded mesh from synchronous code (scripts, pytest): its event loop runs in a background thread.

    with running_mesh("examples/mesh/bookstore-topology.yaml") as mesh:
        mesh.apply("apiVersion: split.smi-spec.io/v1alpha4 ...")
        address = mesh.mesh.pod_address("bookbuyer-0")

``mesh.run(coro)`` runs any coroutine on the mesh's loop (e.g. ``mesh.mesh.wait_converged()``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

from reference_mesh.control.controlplane import ApplyOutcome
from reference_mesh.runtime.mesh import EmbeddedMesh
from reference_mesh.runtime.topology import Topology, load_topology

__all__ = ["MeshThread", "running_mesh"]

T = TypeVar("T")


class MeshThread:
    """An :class:`EmbeddedMesh` whose loop runs in a daemon thread."""

    def __init__(self, mesh: EmbeddedMesh):
        import uvloop

        self.mesh = mesh
        self.loop = uvloop.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="reference-mesh", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120.0) -> T:
        """Run ``coro`` on the mesh's loop and return its result. On a timeout or Ctrl-C it is cancelled and
        its own clean-up (``start()`` stops what it had started) runs to the end before this raises."""
        finished = threading.Event()

        async def guarded() -> T:
            try:
                return await coro
            finally:
                finished.set()

        future = asyncio.run_coroutine_threadsafe(guarded(), self.loop)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()
            finished.wait(60)
            raise

    def start(self) -> MeshThread:
        try:
            self.run(self.mesh.start())
        except BaseException:
            self.close()
            raise
        return self

    def apply(self, text: str, name: str = "<input>", *, delete: bool = False) -> ApplyOutcome:
        return self.run(self.mesh.apply_text(text, name, delete=delete))

    def converge(self, timeout: float = 10.0) -> float:
        return self.run(self.mesh.wait_converged(timeout), timeout + 5)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.run(self.mesh.stop(), 60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@contextlib.contextmanager
def running_mesh(topology: Topology | str | Path, **kwargs: Any) -> Iterator[MeshThread]:
    """Start a mesh (a topology model or file), yield it, stop it: nothing is left running afterwards."""
    if not isinstance(topology, Topology):
        path = Path(topology)
        kwargs.setdefault("base_dir", path.parent)
        topology = load_topology(path)
    handle = MeshThread(EmbeddedMesh(topology, **kwargs)).start()
    try:
        yield handle
    finally:
        handle.close()
