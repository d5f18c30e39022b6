"""The Traffic Metrics API server (aiohttp): the spec's paths, a mesh-wide ``/metrics`` and a merged ``/tap``.

    P = /apis/metrics.smi-spec.io/v1alpha1
    GET P                                        APIResourceList (discovery)
    GET P/{kind}                                 TrafficMetricsList, every namespace
    GET P/namespaces/{name}[/edges]              one namespace (its edges)
    GET P/namespaces/{ns}/{kind}                 TrafficMetricsList in a namespace
    GET P/namespaces/{ns}/{kind}/{name}          TrafficMetrics (TrafficSplit: a list, one item per backend)
    GET P/namespaces/{ns}/{kind}/{name}/edges    TrafficMetricsList of edges
        ?t=30s (window, see window.py)   ?labelSelector=app=foo,version=v1 (list forms)
    GET /metrics          every proxy's Prometheus samples, labelled with namespace and pod
    GET /stats?by=edge|route&t=30s   client-side success rate, RPS, p50/p95/p99 (for `top` / `routes`; see
                          stats.py): by=route takes to=SERVICE (name or name.namespace) and backends=true
    GET /tap              newline-delimited JSON from every proxy, merged (filters: namespace, pod, direction,
                          protocol, source, service)

Each request reads the window's buckets from every proxy's admin endpoint (``/telemetry?since=&until=``) at
that moment; a proxy that does not answer within 2 s is left out and named in the ``x-mesh-missing`` header.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from reference_mesh import faults
from reference_mesh.control.compiler import MeshSettings, route_table
from reference_mesh.control.resources import ObjectKey, Pod
from reference_mesh.control.smi import read_split
from reference_mesh.control.store import Store
from reference_mesh.metrics import aggregate
from reference_mesh.metrics.aggregate import KINDS, UNSUPPORTED, MeshView, Row
from reference_mesh.metrics.stats import edge_stats, route_stats
from reference_mesh.metrics.window import Window, WindowError
from reference_mesh.proxy import prometheus
from reference_mesh.proxy.config import service_key

__all__ = ["MetricsApi"]

PREFIX = "/apis/metrics.smi-spec.io/v1alpha1"
FETCH_TIMEOUT_S = 2.0


def _problem(status: int, message: str) -> web.Response:
    """A Kubernetes Status object, as an aggregated API answers errors."""
    reason = {400: "BadRequest", 404: "NotFound"}.get(status, "InternalError")
    return web.json_response(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": status,
        },
        status=status,
    )


def _selector(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    out = {}
    for part in text.split(","):
        key, eq, value = part.partition("=")
        if not eq or not key:
            raise WindowError(f"labelSelector {text!r}: use key=value[,key=value] (equality only)")
        out[key.strip()] = value.strip().lstrip("=")
    return out


def _resolve_service(services: list[str], text: str) -> tuple[str | None, web.Response | None]:
    """``name.namespace``, or a ``name`` that only one namespace has -> its service key; else a problem."""
    found = [k for k in services if k == text or k.split(".", 1)[0] == text]
    if len(found) == 1:
        return found[0], None
    if not found:
        return None, _problem(404, f"no service {text!r} (services: {', '.join(services) or 'none'})")
    return None, _problem(400, f"service {text!r} is in several namespaces: name one of {', '.join(found)}")


class MetricsApi:
    def __init__(
        self, store: Store, clock: Callable[[], float] = time.time, settings: MeshSettings | None = None
    ):
        """``settings``: the control plane's, so route names are those the proxies' snapshots hold."""
        self.store, self.clock, self.settings = store, clock, settings or MeshSettings()
        self.app = web.Application()
        self._session: aiohttp.ClientSession | None = None
        #: (store revision, route names per service): derived once per revision, not per query
        self._routes: tuple[int, dict[str, tuple[str, ...]]] = (-1, {})
        r = self.app.router
        r.add_get(PREFIX, self.discovery)
        r.add_get(PREFIX + "/namespaces/{name}", self.namespace)
        r.add_get(PREFIX + "/namespaces/{name}/edges", self.namespace_edges)
        r.add_get(PREFIX + "/namespaces/{ns}/{kind}", self.list_in_namespace)
        r.add_get(PREFIX + "/namespaces/{ns}/{kind}/{name}", self.single)
        r.add_get(PREFIX + "/namespaces/{ns}/{kind}/{name}/edges", self.single_edges)
        r.add_get(PREFIX + "/{kind}", self.list_all)
        r.add_get("/metrics", self.prometheus)
        r.add_get("/tap", self.tap)
        r.add_get("/stats", self.stats)
        self.app.on_cleanup.append(self._close)

    async def _close(self, _app: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S))
        return self._session

    # ------------------------------------------------------------------------------------------------ data
    def view(self) -> MeshView:
        state = self.store.state()
        pods = {o.key: o.obj for o in state.of_kind("Pod")}
        splits = {(o.key.namespace, o.key.name): read_split(o.obj) for o in state.of_kind("TrafficSplit")}
        return MeshView(pods, splits)

    async def _fetch(self, key: ObjectKey, pod: Pod, window: Window) -> tuple[ObjectKey, list[Any] | None]:
        url = f"http://{pod.status.admin}/telemetry?since={window.start}&until={window.end}"
        try:
            async with self.session.get(url) as resp:
                data = await resp.json()
            return key, data["edges"]
        except (aiohttp.ClientError, asyncio.TimeoutError, TimeoutError, ValueError, KeyError):
            return key, None

    async def collect(self, view: MeshView, window: Window) -> tuple[list[Row], list[str]]:
        """Rows of the window from every proxy, and the pods that did not answer."""
        if window.end >= self.clock():  # pragma: no cover - Window.ending_now never ends in the future
            await asyncio.sleep(window.end - self.clock())
        results = await asyncio.gather(
            *(self._fetch(k, p, window) for k, p in view.pods.items() if p.status.admin)
        )
        samples = {k: entries for k, entries in results if entries is not None}
        if self.settings.faults:
            for entries in samples.values():
                for entry in entries:
                    entry["seconds"] = {
                        s: faults.metrics_bucket(b, self.settings.faults) for s, b in entry["seconds"].items()
                    }
        missing = [f"{k.namespace}/{k.name}" for k, entries in results if entries is None]
        return aggregate.rows_from(samples, window), missing

    def _window(self, request: web.Request) -> Window:
        return faults.metrics_window(
            Window.ending_now(self.clock(), request.query.get("t")), self.settings.faults
        )

    @staticmethod
    def _kind(segment: str) -> str:
        if segment in UNSUPPORTED:
            message = (
                f"the embedded runtime has no {UNSUPPORTED[segment]}s (served kinds: {', '.join(KINDS)})"
            )
        elif segment not in KINDS:
            message = f"unknown resource {segment!r} (served: {', '.join(KINDS)})"
        else:
            return KINDS[segment]
        raise web.HTTPNotFound(text=_problem(404, message).text, content_type="application/json")

    def _reply(self, body: dict[str, Any], missing: list[str]) -> web.Response:
        headers = {"x-mesh-missing": ",".join(missing)} if missing else None
        return web.json_response(body, headers=headers)

    async def _list(self, request: web.Request, kind: str, namespace: str | None) -> web.Response:
        try:
            window, selector = self._window(request), _selector(request.query.get("labelSelector"))
        except WindowError as exc:
            return _problem(400, str(exc))
        view = self.view()
        rows, missing = await self.collect(view, window)
        items: list[dict[str, Any]] = []
        if kind == "TrafficSplit":
            for (ns, _name), split in sorted(view.splits.items()):
                if namespace is None or ns == namespace:
                    items.extend(aggregate.split_items(view, rows, window, split))
        else:
            for resource in view.resources(kind, namespace):
                labels = view.labels_of(kind, resource)
                if selector and not all(labels.get(k) == v for k, v in selector.items()):
                    continue
                items.append(aggregate.resource_item(view, rows, window, kind, resource))
        body: dict[str, Any] = {
            "apiVersion": aggregate.API_VERSION,
            "kind": "TrafficMetricsList",
            "resource": {"kind": kind, **({"namespace": namespace} if namespace else {})},
            "items": items,
        }
        if selector:
            body["selector"] = {"matchLabels": selector}
        return self._reply(body, missing)

    # ------------------------------------------------------------------------------------------------ routes
    async def discovery(self, request: web.Request) -> web.Response:
        resources = [
            {
                "name": seg,
                "namespaced": seg != "namespaces",
                "kind": "TrafficMetrics",
                "verbs": ["get", "list"],
            }
            for seg in KINDS
        ]
        return web.json_response(
            {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": "metrics.smi-spec.io/v1alpha1",
                "resources": resources,
            }
        )

    async def list_all(self, request: web.Request) -> web.Response:
        kind = self._kind(request.match_info["kind"])
        return await self._list(request, kind, None)

    async def list_in_namespace(self, request: web.Request) -> web.Response:
        kind = self._kind(request.match_info["kind"])
        if kind == "Namespace":
            return _problem(404, "namespaces are not namespaced")
        return await self._list(request, kind, request.match_info["ns"])

    async def _single(
        self, request: web.Request, kind: str, resource: tuple[str, str], edges: bool
    ) -> web.Response:
        try:
            window = self._window(request)
        except WindowError as exc:
            return _problem(400, str(exc))
        view = self.view()
        if kind == "TrafficSplit":
            split = view.splits.get(resource)
            if split is None:
                return _problem(404, f"no TrafficSplit {resource[0]}/{resource[1]}")
            rows, missing = await self.collect(view, window)
            ref = {"kind": kind, "namespace": resource[0], "name": resource[1]}
            return self._reply(
                {
                    "apiVersion": aggregate.API_VERSION,
                    "kind": "TrafficMetricsList",
                    "resource": ref,
                    "items": aggregate.split_items(view, rows, window, split),
                },
                missing,
            )
        if resource not in view.resources(kind, resource[0] or None):
            return _problem(404, f"no {kind} {'/'.join(p for p in resource if p)} with mesh traffic sources")
        rows, missing = await self.collect(view, window)
        if not edges:
            return self._reply(aggregate.resource_item(view, rows, window, kind, resource), missing)
        ref = {"kind": kind, "name": resource[1], **({"namespace": resource[0]} if resource[0] else {})}
        return self._reply(
            {
                "apiVersion": aggregate.API_VERSION,
                "kind": "TrafficMetricsList",
                "resource": ref,
                "items": aggregate.edges(view, rows, window, kind, resource),
            },
            missing,
        )

    async def namespace(self, request: web.Request) -> web.Response:
        return await self._single(request, "Namespace", ("", request.match_info["name"]), edges=False)

    async def namespace_edges(self, request: web.Request) -> web.Response:
        return await self._single(request, "Namespace", ("", request.match_info["name"]), edges=True)

    async def single(self, request: web.Request) -> web.Response:
        kind = self._kind(request.match_info["kind"])
        return await self._single(
            request, kind, (request.match_info["ns"], request.match_info["name"]), False
        )

    async def single_edges(self, request: web.Request) -> web.Response:
        kind = self._kind(request.match_info["kind"])
        return await self._single(request, kind, (request.match_info["ns"], request.match_info["name"]), True)

    async def stats(self, request: web.Request) -> web.Response:
        """Client-side statistics for ``top`` (``?by=edge``) and ``routes`` (``?by=route``, optionally
        ``&to=SERVICE&backends=true``) over the window ``?t=``."""
        query = request.query
        by = query.get("by", "edge")
        if by not in ("route", "edge"):
            return _problem(400, "by must be route or edge")
        backends = query.get("backends", "false")
        if backends not in ("true", "false"):
            return _problem(400, "backends must be true or false")
        try:
            window = self._window(request)
        except WindowError as exc:
            return _problem(400, str(exc))
        table: dict[str, tuple[str, ...]] = {}
        to = None
        if by == "route":
            state = self.store.state()
            if self._routes[0] != state.revision:
                self._routes = (state.revision, route_table(state, self.settings))
            table = self._routes[1]
            if "to" in query:
                services = sorted(
                    service_key(s.metadata.name, s.metadata.namespace) for s in state.models("Service")
                )
                to, problem = _resolve_service(services, query["to"])
                if problem is not None:
                    return problem
        rows, missing = await self.collect(self.view(), window)
        body = {
            "window": window.duration,
            "timestamp": window.timestamp,
            "rows": (
                route_stats(rows, window, table, to=to, by_backend=backends == "true")
                if by == "route"
                else edge_stats(rows, window)
            ),
            # also in the body, so `top` and `routes` can say whose traffic is left out (the CLI's
            # clients, local and through the API server's service proxy, read bodies only)
            "missing": missing,
        }
        return self._reply(body, missing)

    async def prometheus(self, request: web.Request) -> web.Response:
        """Every proxy's page merged (``reference_mesh/proxy/prometheus.py``), labelled with its pod."""
        view = self.view()

        async def one(key: ObjectKey, pod: Pod) -> tuple[dict[str, str], str]:
            labels = {"namespace": key.namespace, "pod": key.name}
            try:
                async with self.session.get(f"http://{pod.status.admin}/metrics") as resp:
                    return labels, await resp.text()
            except (aiohttp.ClientError, asyncio.TimeoutError, TimeoutError):
                return labels, ""

        pages = await asyncio.gather(*(one(k, p) for k, p in view.pods.items() if p.status.admin))
        return web.Response(
            text=prometheus.merge(pages),
            content_type="text/plain",
            charset="utf-8",
            headers={"x-prometheus-format": "0.0.4"},
        )

    async def tap(self, request: web.Request) -> web.StreamResponse:
        view = self.view()
        query = request.query
        pass_through = {k: v for k, v in query.items() if k in ("direction", "protocol", "source", "service")}
        pods = {
            k: p
            for k, p in view.pods.items()
            if p.status.admin
            and query.get("namespace", k.namespace) == k.namespace
            and query.get("pod", k.name) == k.name
        }
        response = web.StreamResponse(headers={"content-type": "application/x-ndjson"})
        await response.prepare(request)
        queue: asyncio.Queue[bytes] = asyncio.Queue(10_000)
        session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=FETCH_TIMEOUT_S)
        )

        async def follow(key: ObjectKey, pod: Pod) -> None:
            try:
                async with session.get(f"http://{pod.status.admin}/tap", params=pass_through) as resp:
                    async for line in resp.content:
                        if line.strip():
                            event = json.loads(line)
                            event["pod"] = f"{key.namespace}/{key.name}"
                            queue.put_nowait(json.dumps(event).encode() + b"\n")
            except (aiohttp.ClientError, asyncio.QueueFull, ValueError):
                return

        tasks = [asyncio.ensure_future(follow(k, p)) for k, p in pods.items()]
        try:
            while request.transport is not None and not request.transport.is_closing():
                try:
                    line = await asyncio.wait_for(queue.get(), 1.0)
                except (asyncio.TimeoutError, TimeoutError):
                    continue  # look again whether the client is still there
                await response.write(line)
        except (ConnectionError, RuntimeError):  # the client went away (or the server is closing)
            pass
        finally:  # also on cancellation (server shutdown): stop following the proxies
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await session.close()
        return response
