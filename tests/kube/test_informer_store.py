"""The informer (list, watch, relist after 410 Gone) and the Kubernetes-backed store, against a stand-in API
server over real HTTP (tests/kube/fake_api.py); the real API server: tests/kind/test_reference_mesh.py."""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from typing import Any

import pytest

from reference_mesh.control.resources import ObjectKey
from reference_mesh.kube import names
from reference_mesh.kube.client import Resource
from reference_mesh.kube.informer import Event, Informer
from reference_mesh.kube.store import KubeStore

from .fake_api import fake_api

PODS = Resource("Pod", "pods")


def _pod(name: str, ip: str = "10.0.0.5", ns: str = "shop", **labels: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": ns, "labels": {names.PROXY_LABEL: "injected", **labels}},
        "spec": {
            "serviceAccountName": "web",
            "containers": [{"name": "app", "ports": [{"containerPort": 8080}]}],
        },
        "status": {"podIP": ip, "phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


class Recorder:
    def __init__(self) -> None:
        self.events: queue.Queue[Event] = queue.Queue()

    def __call__(self, resource: Resource, event: Event) -> None:
        self.events.put(event)

    def next(self, timeout: float = 10) -> Event:
        return self.events.get(timeout=timeout)


def test_informer_lists_in_pages_then_watches_from_the_list_version() -> None:
    with fake_api() as (server, api):
        for i in range(5):
            server.add(PODS.path(), _pod(f"web-{i}"))
        listed_version = server.collection(PODS.path()).version
        rec = Recorder()
        informer = Informer(api, PODS, rec, page_size=2)
        informer.start()
        try:
            kind, items = rec.next()
            assert kind == "SYNC" and [i["metadata"]["name"] for i in items] == [f"web-{i}" for i in range(5)]
            assert all(i["kind"] == "Pod" and i["apiVersion"] == "v1" for i in items)  # lists omit them
            server.add(PODS.path(), _pod("web-5"))
            kind, obj = rec.next()
            assert (kind, obj["metadata"]["name"]) == ("ADDED", "web-5")
            # a bookmark moves the version on without an event
            server.send(PODS.path(), {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "99"}}})
            server.add(PODS.path(), _pod("web-0"), "DELETED")
            kind, obj = rec.next()
            assert (kind, obj["metadata"]["name"]) == ("DELETED", "web-0")
            assert server.collection(PODS.path()).watches == [str(listed_version)]
            assert informer.lists == 1
        finally:
            informer.stop()


@pytest.mark.parametrize("how", ["error event", "status"])
def test_informer_relists_after_410_gone(how: str) -> None:
    with fake_api() as (server, api):
        server.add(PODS.path(), _pod("web-0"))
        rec = Recorder()
        informer = Informer(api, PODS, rec, backoff_base_s=0.01)
        collection = server.collection(PODS.path())
        informer.start()
        try:
            assert rec.next()[0] == "SYNC"
            server.add(PODS.path(), _pod("web-1"))  # seen by the watch
            assert rec.next()[0] == "ADDED"
            # while the informer is away, web-0 goes; then its version is too old to watch from
            with server.lock:
                collection.items = [i for i in collection.items if i["metadata"]["name"] != "web-0"]
                collection.version += 5
            if how == "status":
                collection.refuse_next_watch = 410
                server.send(PODS.path(), None)  # end the current watch: the next one is refused
            else:
                server.send(PODS.path(), {"type": "ERROR", "object": {"code": 410, "message": "too old"}})
            kind, items = rec.next()
            assert kind == "SYNC"  # relisted: the whole set again, without what went meanwhile
            assert [i["metadata"]["name"] for i in items] == ["web-1"]
            assert informer.lists == 2
        finally:
            informer.stop()


def test_stopping_an_informer_ends_its_open_watch_at_once() -> None:
    with fake_api() as (_server, api):
        rec = Recorder()
        informer = Informer(api, PODS, rec, watch_timeout_s=300)
        informer.start()
        assert rec.next()[0] == "SYNC"
        time.sleep(0.2)  # the watch is open, waiting for events
        informer.stop(timeout=60)  # a fifth of the watch's 300 s: a thread still alive waits for the watch
        assert not informer._thread.is_alive()


# ------------------------------------------------------------------------------------------------- store
def _smi(kind: str, version: str, name: str, spec: dict[str, Any], ns: str = "shop") -> dict[str, Any]:
    group = {"TrafficSplit": "split", "TrafficTarget": "access", "HTTPRouteGroup": "specs"}[kind]
    return {
        "apiVersion": f"{group}.smi-spec.io/{version}",
        "kind": kind,
        "metadata": {"name": name, "namespace": ns, "uid": "x", "managedFields": [{"manager": "kubectl"}]},
        "spec": spec,
    }


def test_store_follows_the_api_and_converts_what_it_reads() -> None:
    async def scenario() -> None:
        with fake_api() as (server, api):
            service = {
                "metadata": {"name": "web", "namespace": "shop"},
                "spec": {
                    "selector": {"app": "web"},
                    "clusterIP": "10.96.0.9",
                    "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
                },
            }
            server.add("/api/v1/services", service)
            server.add("/api/v1/pods", _pod("web-0", app="web"))
            server.add("/api/v1/serviceaccounts", {"metadata": {"name": "web", "namespace": "shop"}})
            store = KubeStore(api)
            await store.start()
            try:
                await store.wait_synced(20)
                state = store.state()
                pod = state.get("Pod", "shop", "web-0")
                assert pod is not None and pod.obj.status.pod_ip == "10.0.0.5" and pod.obj.status.ready
                # the pod's port is HTTP because the Service targeting it says so
                assert [(p.container_port, p.protocol) for p in pod.obj.spec.ports] == [(8080, "http")]
                svc = state.get("Service", "shop", "web")
                assert svc is not None and svc.obj.spec.cluster_ips == ("10.96.0.9",)
                assert state.get("ServiceAccount", "shop", "web") is not None

                seen = asyncio.ensure_future(_next_event(store, state.revision))
                split = _smi(
                    "TrafficSplit",
                    "v1alpha4",
                    "canary",
                    {"service": "web", "backends": [{"service": "web", "weight": 1}]},
                )
                server.add("/apis/split.smi-spec.io/v1alpha4/trafficsplits", split)
                event = await asyncio.wait_for(seen, 10)
                assert event.key == ObjectKey("TrafficSplit", "shop", "canary") and event.type == "ADDED"
                assert store.state().get("TrafficSplit", "shop", "canary") is not None

                # an object the models refuse (one that got in without the webhook) is not stored, and said so
                broken = _smi("TrafficTarget", "v1alpha3", "broken", {"destination": {"kind": "Nope"}})
                server.add("/apis/access.smi-spec.io/v1alpha3/traffictargets", broken)
                await _until(lambda: ObjectKey("TrafficTarget", "shop", "broken") in store.unreadable)
                assert store.state().get("TrafficTarget", "shop", "broken") is None

                # readiness follows the pod; deletion removes it (and it is no longer an endpoint)
                terminating = _pod("web-0", app="web")
                terminating["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
                server.add("/api/v1/pods", terminating, "MODIFIED")
                await _until(lambda: not store.state().get("Pod", "shop", "web-0").obj.status.ready)  # type: ignore[union-attr]
                server.add("/api/v1/pods", terminating, "DELETED")
                await _until(lambda: store.state().get("Pod", "shop", "web-0") is None)
                with pytest.raises(NotImplementedError, match="kubectl"):
                    await store.commit([])
            finally:
                await store.stop()

    asyncio.run(scenario())


async def _next_event(store: KubeStore, since: int) -> Any:
    async for event in store.watch(since):
        return event
    return None


async def _until(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def test_threads_end_with_the_store() -> None:
    before = {t.name for t in threading.enumerate()}

    async def scenario() -> None:
        with fake_api() as (_server, api):
            store = KubeStore(api)
            await store.start()
            await store.wait_synced(20)
            await store.stop()

    asyncio.run(scenario())
    left = {t.name for t in threading.enumerate() if t.name.startswith("informer-")} - before
    assert not left
