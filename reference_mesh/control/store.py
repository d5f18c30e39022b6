"""Where the control plane's desired state lives: an abstract :class:`Store` and the in-memory one.

The interface is shaped like the Kubernetes API as an informer sees it, so that a store backed by the real API
can implement it later without changing the control plane:

* every object has a ``resource_version`` (the revision of the commit that last wrote it); the store as a
  whole has a ``revision`` that only grows;
* :meth:`Store.state` is a consistent, immutable view at one revision (the informer's cache);
* :meth:`Store.watch` yields :class:`WatchEvent` s (ADDED / MODIFIED / DELETED) after a revision; a revision
  too old to replay raises :class:`RevisionExpired` (the API's ``410 Gone``): the watcher re-reads ``state()``
  and resumes;
* :meth:`Store.commit` applies a batch of puts and deletes **atomically** (one revision for the whole batch)
  if the store is still at ``expect_revision`` (optimistic concurrency, like ``resourceVersion``
  preconditions); otherwise it raises :class:`Conflict` and changes nothing.

Validation is not the store's job: :mod:`reference_mesh.control.admission` decides what may be committed. (The
real Kubernetes API has no multi-object transaction; a store backed by it would validate the whole batch
first, as here, and then write object by object.)
"""

from __future__ import annotations

import abc
import asyncio
import collections
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from reference_mesh.control.resources import ObjectKey, key_of
from reference_mesh.control.state import StoredObject, StoreState

__all__ = [
    "Conflict",
    "Delete",
    "MemoryStore",
    "Put",
    "RevisionExpired",
    "Store",
    "StoreState",
    "StoredObject",
    "WatchEvent",
]


class Conflict(Exception):
    """The store moved on since the revision the caller validated against; nothing was committed."""


class RevisionExpired(Exception):
    """A watch asked for events older than the store keeps; re-read :meth:`Store.state` and watch from
    there."""


@dataclass(frozen=True)
class Put:
    obj: Any


@dataclass(frozen=True)
class Delete:
    key: ObjectKey


Change = Put | Delete


@dataclass(frozen=True)
class WatchEvent:
    type: Literal["ADDED", "MODIFIED", "DELETED"]
    key: ObjectKey
    #: The object after the change (for DELETED: as it was before).
    object: StoredObject
    revision: int


class Store(abc.ABC):
    """The control plane's view of desired state (see the module docstring for the contract)."""

    @abc.abstractmethod
    def state(self) -> StoreState:
        """The current state (a consistent snapshot)."""

    @abc.abstractmethod
    async def commit(self, changes: Sequence[Change], *, expect_revision: int | None = None) -> int:
        """Apply every change or none; returns the new revision. Deleting an absent key is a no-op."""

    @abc.abstractmethod
    def watch(self, since: int) -> AsyncIterator[WatchEvent]:
        """Events with revision > ``since``, in order, forever (until the consumer stops iterating)."""

    def get(self, kind: str, namespace: str, name: str) -> StoredObject | None:
        return self.state().get(kind, namespace, name)

    def list(self, kind: str | None = None, namespace: str | None = None) -> list[StoredObject]:
        state = self.state()
        if kind is not None:
            return state.of_kind(kind, namespace)
        return [o for k, o in sorted(state.objects.items()) if namespace is None or k.namespace == namespace]

    async def apply(self, objects: Iterable[Any], *, expect_revision: int | None = None) -> int:
        return await self.commit([Put(o) for o in objects], expect_revision=expect_revision)

    async def delete(self, keys: Iterable[ObjectKey], *, expect_revision: int | None = None) -> int:
        return await self.commit([Delete(k) for k in keys], expect_revision=expect_revision)


class MemoryStore(Store):
    """The embedded runtime's store: a dict, a revision counter, and a bounded event history for watches."""

    def __init__(self, history: int = 10_000):
        self._objects: dict[ObjectKey, StoredObject] = {}
        self._revision = 0
        self._state = StoreState({}, 0)
        self._history: collections.deque[WatchEvent] = collections.deque(maxlen=history)
        self._changed = asyncio.Condition()
        self._lock = asyncio.Lock()

    def state(self) -> StoreState:
        return self._state

    async def commit(self, changes: Sequence[Change], *, expect_revision: int | None = None) -> int:
        async with self._lock:
            if expect_revision is not None and expect_revision != self._revision:
                raise Conflict(f"store is at revision {self._revision}, not {expect_revision}")
            revision = self._revision + 1
            objects = dict(self._objects)
            events: list[WatchEvent] = []
            for change in changes:  # build the new state aside; nothing is visible until the swap below
                if isinstance(change, Put):
                    key = key_of(change.obj)
                    old = objects.get(key)
                    stored = StoredObject(
                        key, _with_version(change.obj, revision), revision, old.created if old else revision
                    )
                    objects[key] = stored
                    events.append(WatchEvent("MODIFIED" if old else "ADDED", key, stored, revision))
                else:
                    gone = objects.pop(change.key, None)
                    if gone is not None:
                        events.append(WatchEvent("DELETED", change.key, gone, revision))
            if not events:
                return self._revision
            self._objects, self._revision = objects, revision
            self._state = StoreState(objects, revision)
            self._history.extend(events)
        async with self._changed:
            self._changed.notify_all()
        return revision

    async def watch(self, since: int) -> AsyncIterator[WatchEvent]:
        seen = since
        while True:
            after = seen
            async with self._changed:
                await self._changed.wait_for(lambda: self._revision > after)  # noqa: B023 - awaited here
            if self._history and self._history[0].revision > seen + 1:
                raise RevisionExpired(
                    f"revision {seen} is older than the oldest kept ({self._history[0].revision - 1})"
                )
            for event in [e for e in self._history if e.revision > seen]:
                yield event
                seen = event.revision


def _with_version(obj: Any, revision: int) -> Any:
    """The object with ``metadata.resourceVersion`` set (as the API server does)."""
    meta = obj.metadata.model_copy(update={"resource_version": str(revision)})
    return obj.model_copy(update={"metadata": meta})
