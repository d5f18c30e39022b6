"""The control plane process logic: watch the store, compile every Pod's snapshot, hand them to the
distributor.

    store = MemoryStore()
    cp = ControlPlane(store, credentials, settings, address="127.0.0.1", port=15010)
    await cp.start()        # serves proxies; follows the store until stop()
    result = await cp.apply(documents)   # admission + atomic commit
    await cp.stop()         # proxies keep their last snapshot and reconnect when a control plane is back

Only :mod:`.admission` decides what enters the store through :meth:`apply` / :meth:`delete`; the runtime
writes Pods, Services and ServiceAccounts to the store directly (they stand for what the Kubernetes API
holds).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from reference_mesh import faults
from reference_mesh.control.admission import AdmissionResult, admit_apply, admit_delete
from reference_mesh.control.compiler import MeshSettings, compile_mesh
from reference_mesh.control.distributor import Distributor
from reference_mesh.control.store import Conflict, Delete, Put, RevisionExpired, Store
from reference_mesh.identity import WorkloadCredentials
from smi_conformance.manifests import LoadResult

__all__ = ["ApplyOutcome", "ControlPlane"]

log = logging.getLogger(__name__)


@dataclass
class ApplyOutcome:
    admission: AdmissionResult
    #: The revision that holds the batch; None when nothing was committed.
    revision: int | None
    dry_run: bool = False
    #: Objects of the batch identical to what the store holds (not written again, as kubectl's "unchanged").
    unchanged: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.admission.ok,
            "revision": self.revision,
            "dry_run": self.dry_run,
            "applied": [_name(o) for o in self.admission.objects if _name(o) not in self.unchanged]
            if self.admission.ok
            else [],
            "unchanged": self.unchanged if self.admission.ok else [],
            "deleted": [str(k) for k in self.admission.deletes] if self.admission.ok else [],
            "findings": [f.to_json() for f in self.admission.findings],
        }


def _name(obj: Any) -> str:
    return f"{obj.kind} {obj.metadata.namespace or 'default'}/{obj.metadata.name}"


def _same(new: Any, stored: Any) -> bool:
    """Equal but for the resourceVersion the store stamped."""
    meta = stored.metadata.model_copy(update={"resource_version": new.metadata.resource_version})
    return bool(stored.model_copy(update={"metadata": meta}) == new)


class ControlPlane:
    def __init__(
        self,
        store: Store,
        credentials: WorkloadCredentials,
        settings: MeshSettings | None = None,
        *,
        address: str = "127.0.0.1",
        port: int = 0,
    ):
        self.store, self.credentials = store, credentials
        self.settings = settings or MeshSettings()
        self.address, self.port = address, port
        self.distributor: Distributor | None = None
        self._task: asyncio.Task[None] | None = None
        self.compiled_revision = 0
        self.last_compile_ms: float | None = None
        self.started_at: float | None = None

    @property
    def running(self) -> bool:
        return self.distributor is not None

    async def start(self) -> None:
        self.distributor = Distributor(self.credentials, self.address, self.port)
        self._sync()
        await self.distributor.start()
        self.port = self.distributor.port  # keep the port across restarts
        self._task = asyncio.ensure_future(self._follow())
        self.started_at = time.time()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)  # never swallows our own cancellation
            self._task = None
        if self.distributor is not None:
            await self.distributor.stop()
            self.distributor = None

    def rotate_credentials(self, credentials: WorkloadCredentials) -> None:
        self.credentials = credentials
        if self.distributor is not None:
            self.distributor.tls.rotate(credentials)

    def _sync(self) -> None:
        state = self.store.state()
        started = time.perf_counter()
        configs = compile_mesh(state, self.settings)
        self.last_compile_ms = round((time.perf_counter() - started) * 1000, 3)
        assert self.distributor is not None
        changed = self.distributor.update(configs, state.revision)
        self.compiled_revision = state.revision
        if changed:
            log.info("revision %s: %d snapshot(s) changed", state.revision, len(changed))

    async def _follow(self) -> None:
        while True:
            try:
                async for _ in self.store.watch(self.compiled_revision):
                    if self.store.state().revision > self.compiled_revision:
                        self._sync()  # one compile covers every event up to the current revision
            except RevisionExpired:
                self._sync()

    # ------------------------------------------------------------------------------------------ writes
    async def apply(self, loaded: LoadResult, *, dry_run: bool = False) -> ApplyOutcome:
        """Admit and commit a batch atomically (retrying admission if the store moved meanwhile)."""
        for _ in range(5):
            state = self.store.state()
            result = admit_apply(loaded, state, self.settings)
            if not result.ok or dry_run or not result.objects:
                return ApplyOutcome(result, None, dry_run)
            changed: list[Any] = []
            unchanged: list[Any] = []
            for obj in result.objects:
                stored = state.get(obj.kind, obj.metadata.namespace or "default", obj.metadata.name)
                (unchanged if stored is not None and _same(obj, stored.obj) else changed).append(obj)
            if not changed:
                return ApplyOutcome(result, None, unchanged=[_name(o) for o in unchanged])
            try:
                revision = await self.store.commit([Put(o) for o in changed], expect_revision=state.revision)
            except Conflict:
                continue
            return ApplyOutcome(result, revision, unchanged=[_name(o) for o in unchanged])
        raise Conflict("the store kept changing; try again")

    async def delete(
        self,
        loaded: LoadResult,
        *,
        dry_run: bool = False,
        ignore_not_found: bool = False,
    ) -> ApplyOutcome:
        for _ in range(5):
            state = self.store.state()
            result = admit_delete(loaded, state, ignore_not_found=ignore_not_found)
            deletes = [k for k in result.deletes if not faults.kept_on_delete(k.kind, self.settings.faults)]
            if not result.ok or dry_run or not deletes:
                return ApplyOutcome(result, None, dry_run)
            try:
                revision = await self.store.commit(
                    [Delete(k) for k in deletes], expect_revision=state.revision
                )
            except Conflict:
                continue
            return ApplyOutcome(result, revision)
        raise Conflict("the store kept changing; try again")
