"""A :class:`~reference_mesh.control.store.Store` filled from the Kubernetes API: what the control plane reads
on a cluster.

Informers (:mod:`.informer`) list and watch the SMI kinds, Services, ServiceAccounts and the injected Pods.
Their events are queued to the event loop and applied in order by one task, in batches: each batch is one
revision of the store (one compilation, one push per changed snapshot), however many events it holds. The
store's revisions are its own (a counter): Kubernetes resource versions are per object and opaque. Watching
the store (``watch``), its ``410``-style expiry and its immutable states are the in-memory store's, so the
control plane, admission and the metrics API work on it unchanged.

The Kubernetes API is the only writer: SMI objects are applied with ``kubectl`` (and admitted by the webhook),
so :meth:`KubeStore.commit` refuses.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from reference_mesh.control.resources import ObjectKey, key_of
from reference_mesh.control.store import Change, Delete, MemoryStore, Put, Store, StoreState, WatchEvent
from reference_mesh.kube import convert, names
from reference_mesh.kube.client import KubeApi, Resource
from reference_mesh.kube.informer import Event, Informer
from smi_conformance import models
from smi_conformance.schema.crd import crds

__all__ = ["CORE_RESOURCES", "KubeStore", "smi_resources"]

log = logging.getLogger(__name__)

CORE_RESOURCES = (
    Resource("Pod", "pods"),
    Resource("Service", "services"),
    Resource("ServiceAccount", "serviceaccounts"),
)


def smi_resources() -> list[Resource]:
    """The SMI kinds the mesh manages, at the version their CRDs store (every served version shares its
    schema, so the storage version reads every object faithfully)."""
    out = []
    for path, crd in sorted(crds().items()):
        if path.startswith("experimental/"):
            continue  # not installed by default (access v1alpha4 / IdentityBinding are experimental)
        spec = crd["spec"]
        storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
        out.append(Resource(spec["names"]["kind"], spec["names"]["plural"], spec["group"], storage))
    return out


def _same(stored: Any, new: Any) -> bool:
    """Equal but for the resourceVersion the store stamps."""
    meta = stored.metadata.model_copy(update={"resource_version": new.metadata.resource_version})
    return bool(stored.model_copy(update={"metadata": meta}) == new)


class KubeStore(Store):
    def __init__(self, api: KubeApi, *, history: int = 10_000, watch_timeout_s: int = 300):
        self.api = api
        self._memory = MemoryStore(history)
        self.resources = [*CORE_RESOURCES, *smi_resources()]
        self._queue: asyncio.Queue[tuple[Resource, Event]] = asyncio.Queue()
        #: raw Pods and Services by key: they are converted per namespace, together
        self._raw: dict[str, dict[ObjectKey, dict[str, Any]]] = {"Pod": {}, "Service": {}}
        self._listed: set[str] = set()
        self.synced = asyncio.Event()
        self.informers = [
            Informer(
                api,
                r,
                self._deliver,
                label_selector=names.PROXY_LABEL if r.kind == "Pod" else None,
                watch_timeout_s=watch_timeout_s,
            )
            for r in self.resources
        ]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        #: objects the API holds that the mesh cannot read (invalid SMI objects), with why
        self.unreadable: dict[ObjectKey, str] = {}

    # ---------------------------------------------------------------------------------------- Store API
    def state(self) -> StoreState:
        return self._memory.state()

    def watch(self, since: int) -> AsyncIterator[WatchEvent]:
        return self._memory.watch(since)

    async def commit(self, changes: Sequence[Change], *, expect_revision: int | None = None) -> int:
        raise NotImplementedError(
            "on Kubernetes the API server holds the mesh's objects: apply them with kubectl (the admission "
            "webhook checks them as `reference-mesh apply` would)"
        )

    # ---------------------------------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Start every informer; :attr:`synced` is set once each has listed and its objects are stored."""
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.ensure_future(self._apply_events())
        for informer in self.informers:
            informer.start()

    async def wait_synced(self, timeout: float) -> None:
        await asyncio.wait_for(self.synced.wait(), timeout)

    async def stop(self) -> None:
        await asyncio.gather(*(asyncio.to_thread(i.stop) for i in self.informers))
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _deliver(self, resource: Resource, event: Event) -> None:
        """Called on an informer's thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._queue.put_nowait, (resource, event))

    # ---------------------------------------------------------------------------------------- applying
    async def _apply_events(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._apply(batch)
            except Exception:  # a bug must not stop the store following the cluster
                log.exception("applying %d event(s) failed", len(batch))

    async def _apply(self, batch: list[tuple[Resource, Event]]) -> None:
        state = self._memory.state()
        changes: dict[ObjectKey, Change] = {}
        dirty: set[str] = set()  # namespaces whose pods and services are converted again
        for resource, (kind, payload) in batch:
            if kind == "SYNC":
                self._listed.add(resource.kind)
                dirty |= self._sync(resource, payload, state, changes)
            else:
                dirty |= self._event(resource, kind, payload, state, changes)
        for namespace in sorted(dirty):
            self._derive(namespace, state, changes)
        real = [c for c in changes.values() if not _unchanged(c, state)]
        if real:
            await self._memory.commit(real)
        if not self.synced.is_set() and self._listed >= {r.kind for r in self.resources}:
            self.synced.set()
            log.info("store synced: %d objects at revision %d", len(self.state()), self.state().revision)

    def _sync(
        self,
        resource: Resource,
        items: list[dict[str, Any]],
        state: StoreState,
        changes: dict[ObjectKey, Change],
    ) -> set[str]:
        """A (re)list: the listed objects replace every object of the resource."""
        listed: set[ObjectKey] = set()
        dirty: set[str] = set()
        if resource.kind in self._raw:
            raw = self._raw[resource.kind]
            dirty = {k.namespace for k in raw}
            raw.clear()
        for item in items:
            key = _key(resource, item)
            listed.add(key)
            dirty |= self._event(resource, "ADDED", item, state, changes)
        if resource.kind not in self._raw:
            for stored in state.of_kind(resource.kind):
                if stored.key not in listed:
                    changes[stored.key] = Delete(stored.key)
            for key in [k for k in self.unreadable if k.kind == resource.kind and k not in listed]:
                del self.unreadable[key]
        return dirty

    def _event(
        self,
        resource: Resource,
        kind: str,
        obj: dict[str, Any],
        state: StoreState,
        changes: dict[ObjectKey, Change],
    ) -> set[str]:
        key = _key(resource, obj)
        if resource.kind in self._raw:
            if kind == "DELETED":
                self._raw[resource.kind].pop(key, None)
            else:
                self._raw[resource.kind][key] = obj
            return {key.namespace}
        if kind == "DELETED":
            changes[key] = Delete(key)
            self.unreadable.pop(key, None)
            return set()
        obj.setdefault("kind", resource.kind)
        obj.setdefault("apiVersion", resource.api_version)
        try:
            model = (
                convert.service_account(obj) if resource.kind == "ServiceAccount" else convert.smi_object(obj)
            )
        except (models.SMIValidationError, ValueError, KeyError) as exc:
            # invalid objects get in only while the admission webhook is not there; the mesh ignores them
            self.unreadable[key] = str(exc).splitlines()[0][:300]
            log.warning("ignoring %s: %s", key, self.unreadable[key])
            changes[key] = Delete(key)
            return set()
        self.unreadable.pop(key, None)
        changes[key] = Put(model)
        return set()

    def _derive(self, namespace: str, state: StoreState, changes: dict[ObjectKey, Change]) -> None:
        pods = [o for k, o in sorted(self._raw["Pod"].items()) if k.namespace == namespace]
        services = [o for k, o in sorted(self._raw["Service"].items()) if k.namespace == namespace]
        derived = {key_of(m): m for m in convert.namespace_models(pods, services)}
        for kind in ("Pod", "Service"):
            for stored in state.of_kind(kind, namespace):
                if stored.key not in derived:
                    changes[stored.key] = Delete(stored.key)
        for key, model in derived.items():
            changes[key] = Put(model)


def _key(resource: Resource, obj: dict[str, Any]) -> ObjectKey:
    meta = obj.get("metadata") or {}
    return ObjectKey(resource.kind, meta.get("namespace") or "default", meta.get("name") or "")


def _unchanged(change: Change, state: StoreState) -> bool:
    if isinstance(change, Delete):
        return change.key not in state.objects
    stored = state.objects.get(key_of(change.obj))
    return stored is not None and _same(stored.obj, change.obj)
