"""The control plane's admin API (HTTP/JSON on loopback, bearer token): what the CLI talks to.

    GET  /healthz                          ok
    GET  /api/status                       store, control plane, proxies, and the runtime's components
    GET  /api/objects[?kind=&namespace=]   what the store holds (each object as applied, with resourceVersion)
    POST /api/apply    {"manifests": [{"name": "file.yaml", "text": "..."}], "dryRun": false}
    POST /api/delete   {"manifests": [...], "ignoreNotFound": false}
         -> 200 {"ok": true, "revision": N, "applied"/"deleted": [...], "findings": [...]}
         -> 422 {"ok": false, "findings": [{"code", "name", "severity", "message",
                                             "location": "file:line:col", "object"}]}
    POST /api/control-plane/restart {"downSeconds": 2}
         stop the control plane, wait, start it (chaos testing)

Every request needs ``Authorization: Bearer <token>``; the token is in the mesh's state file (mode 0600).
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from reference_mesh.control.controlplane import ApplyOutcome, ControlPlane
from reference_mesh.control.store import Conflict
from smi_conformance.manifests import LoadResult, load_text

__all__ = ["AdminApi", "merge"]

StatusProvider = Callable[[], dict[str, Any]]


def _dump(obj: Any) -> dict[str, Any]:
    if hasattr(obj, "VERSIONS"):  # an SMI model
        from smi_conformance import models

        return models.dump(obj)
    return obj.model_dump(mode="json", by_alias=True, exclude_defaults=False)  # type: ignore[no-any-return]


def merge(results: list[LoadResult]) -> LoadResult:
    """Several inputs as one batch."""
    out = LoadResult()
    for r in results:
        out.documents += r.documents
        out.issues += r.issues
        out.sources += r.sources
    return out


class AdminApi:
    def __init__(
        self,
        control_plane: ControlPlane,
        token: str,
        runtime_status: StatusProvider | None = None,
        restart: Callable[[float], Awaitable[None]] | None = None,
    ):
        self.cp, self.token = control_plane, token
        self.runtime_status = runtime_status
        self.restart = restart
        self._restarting: asyncio.Future[None] | None = None
        self.app = web.Application(middlewares=[self._auth], client_max_size=64 * 1024 * 1024)
        r = self.app.router
        r.add_get("/healthz", self.healthz)
        r.add_get("/api/status", self.status)
        r.add_get("/api/objects", self.objects)
        r.add_post("/api/apply", self.apply)
        r.add_post("/api/delete", self.delete)
        r.add_post("/api/control-plane/restart", self.restart_cp)

    @web.middleware
    async def _auth(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path != "/healthz":
            given = request.headers.get("authorization", "").removeprefix("Bearer ")
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return web.json_response({"error": "missing or wrong bearer token"}, status=401)
        return await handler(request)

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    def status_json(self) -> dict[str, Any]:
        state = self.cp.store.state()
        dist = self.cp.distributor
        body: dict[str, Any] = {
            "store": {"revision": state.revision, "objects": len(state)},
            "control_plane": {
                "running": self.cp.running,
                "port": self.cp.port,
                "compiled_revision": self.cp.compiled_revision,
                "last_compile_ms": self.cp.last_compile_ms,
                "certificate_not_after": self.cp.credentials.not_after.isoformat(),
            },
            "proxies": [p.to_json() for p in dist.status()] if dist is not None else [],
        }
        if self.runtime_status is not None:
            body["runtime"] = self.runtime_status()
        return body

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response(self.status_json())

    async def objects(self, request: web.Request) -> web.Response:
        kind, namespace = request.query.get("kind"), request.query.get("namespace")
        items = self.cp.store.list(kind or None, namespace or None)
        return web.json_response(
            {
                "revision": self.cp.store.state().revision,
                "items": [
                    {
                        "kind": o.key.kind,
                        "apiVersion": o.api_version,
                        "namespace": o.key.namespace,
                        "name": o.key.name,
                        "resourceVersion": o.resource_version,
                        "object": _dump(o.obj),
                    }
                    for o in items
                ],
            }
        )

    async def _documents(self, request: web.Request) -> tuple[LoadResult, dict[str, Any]] | web.Response:
        """The request's manifests, loaded with locations (``{"manifests": [{"name", "text"}]}``)."""
        try:
            body = await request.json()
        except ValueError:
            body = None
        manifests = body.get("manifests") if isinstance(body, dict) else None
        if not isinstance(manifests, list) or not all(
            isinstance(m, dict) and isinstance(m.get("name"), str) and isinstance(m.get("text"), str)
            for m in manifests
        ):
            return web.json_response(
                {"error": 'body must be {"manifests": [{"name": "...", "text": "..."}, ...]}'}, status=400
            )
        loaded = merge([load_text(m["text"], m["name"]) for m in manifests])
        return loaded, body

    def _outcome(self, outcome: ApplyOutcome) -> web.Response:
        return web.json_response(outcome.to_json(), status=200 if outcome.admission.ok else 422)

    async def apply(self, request: web.Request) -> web.Response:
        got = await self._documents(request)
        if isinstance(got, web.Response):
            return got
        docs, body = got
        try:
            return self._outcome(await self.cp.apply(docs, dry_run=bool(body.get("dryRun"))))
        except Conflict as exc:
            return web.json_response({"error": str(exc)}, status=409)

    async def delete(self, request: web.Request) -> web.Response:
        got = await self._documents(request)
        if isinstance(got, web.Response):
            return got
        docs, body = got
        try:
            return self._outcome(
                await self.cp.delete(
                    docs, dry_run=bool(body.get("dryRun")), ignore_not_found=bool(body.get("ignoreNotFound"))
                )
            )
        except Conflict as exc:
            return web.json_response({"error": str(exc)}, status=409)

    async def restart_cp(self, request: web.Request) -> web.Response:
        if self.restart is None:
            return web.json_response({"error": "restart is not available"}, status=501)
        try:
            down = float((await request.json()).get("downSeconds", 1.0))
        except (ValueError, AttributeError):
            down = 1.0
        self._restarting = asyncio.ensure_future(self.restart(min(max(down, 0.0), 60.0)))
        return web.json_response({"restarting": True, "downSeconds": down})
