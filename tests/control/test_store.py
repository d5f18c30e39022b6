"""The in-memory store: atomic batches, optimistic concurrency, watch events and their resumption."""

from __future__ import annotations

import asyncio

import pytest
from builders import account, service, smi

from reference_mesh.control.resources import ObjectKey
from reference_mesh.control.store import Conflict, Delete, MemoryStore, Put, RevisionExpired, WatchEvent


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_a_batch_is_one_revision_and_objects_carry_it() -> None:
    async def go() -> None:
        store = MemoryStore()
        rev = await store.apply([account("a"), account("b")])
        assert rev == 1 and store.state().revision == 1
        assert [o.resource_version for o in store.list("ServiceAccount")] == [1, 1]
        assert store.get("ServiceAccount", "default", "a").obj.metadata.resource_version == "1"  # type: ignore[union-attr]
        rev = await store.apply([account("a")])
        assert rev == 2
        stored = store.get("ServiceAccount", "default", "a")
        assert stored is not None and stored.resource_version == 2 and stored.created == 1

    run(go())


def test_conflict_changes_nothing() -> None:
    async def go() -> None:
        store = MemoryStore()
        await store.apply([account("a")])
        before = store.state()
        with pytest.raises(Conflict):
            await store.commit(
                [Put(account("b")), Delete(ObjectKey("ServiceAccount", "default", "a"))], expect_revision=0
            )
        assert store.state() is before and len(store.state()) == 1

    run(go())


def test_states_are_immutable_snapshots() -> None:
    async def go() -> None:
        store = MemoryStore()
        await store.apply([account("a")])
        old = store.state()
        await store.apply([account("b")])
        assert len(old) == 1 and len(store.state()) == 2
        with pytest.raises(TypeError):
            old.objects[ObjectKey("X", "y", "z")] = None  # type: ignore[index]

    run(go())


def test_versions_of_one_kind_share_a_key() -> None:
    async def go() -> None:
        store = MemoryStore()
        (v1,) = smi("""
apiVersion: split.smi-spec.io/v1alpha1
kind: TrafficSplit
metadata: {name: s}
spec: {service: a, backends: [{service: b, weight: "1"}]}
""")
        (v4,) = smi("""
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: s}
spec: {service: a, backends: [{service: b, weight: 1}]}
""")
        await store.apply([v1])
        await store.apply([v4])
        (only,) = store.list("TrafficSplit")
        assert only.api_version == "split.smi-spec.io/v1alpha4"

    run(go())


def test_watch_yields_every_event_in_order_and_resumes() -> None:
    async def go() -> None:
        store = MemoryStore()
        seen: list[WatchEvent] = []

        async def consume() -> None:
            async for event in store.watch(0):
                seen.append(event)
                await asyncio.sleep(0)  # a slow consumer must not miss events committed meanwhile
                if len(seen) == 4:
                    return

        task = asyncio.ensure_future(consume())
        await asyncio.sleep(0)
        await store.apply([account("a"), service("s", {"app": "s"})])
        await store.apply([account("a")])
        await store.delete([ObjectKey("ServiceAccount", "default", "a")])
        await asyncio.wait_for(task, 2)
        assert [(e.type, e.key.name, e.revision) for e in seen] == [
            ("ADDED", "a", 1),
            ("ADDED", "s", 1),
            ("MODIFIED", "a", 2),
            ("DELETED", "a", 3),
        ]
        resumed = store.watch(2)
        first = await asyncio.wait_for(resumed.__anext__(), 1)
        assert (first.type, first.revision) == ("DELETED", 3)

    run(go())


def test_too_old_a_revision_expires() -> None:
    async def go() -> None:
        store = MemoryStore(history=2)
        for name in "abcd":
            await store.apply([account(name)])
        with pytest.raises(RevisionExpired):
            await asyncio.wait_for(store.watch(0).__anext__(), 1)

    run(go())
