"""The control plane on Kubernetes (the ``control-plane`` Deployment):
``python -m reference_mesh.kube.controller``.

It is the embedded runtime's control plane, fed and served differently:

* **state**: a :class:`~reference_mesh.kube.store.KubeStore` (informers on the API) instead of the
  in-memory store; the :class:`~reference_mesh.control.controlplane.ControlPlane` compiles and pushes
  snapshots as it does on loopback, with transparent interception switched on in every snapshot;
* **identity**: the mesh CA (a Secret) signs the control plane's own certificates at start-up and again at 70%
  of their lifetime: its SPIFFE id for the snapshot stream, and a serving certificate (DNS names of its
  Service) for the HTTPS port; proxies get theirs through :mod:`.identity` (TokenReview);
* **HTTPS** (``:8443``, the Service's port 443): ``/validate-smi`` and ``/mutate-pod`` (admission webhooks),
  ``/convert-smi`` (the SMI CRDs' conversion webhook: every released version is served),
  ``/v1/identity``, and the Traffic Metrics API under ``/apis/metrics.smi-spec.io/v1alpha1`` for the
  aggregator, which must present its front-proxy client certificate (verified against the CA and names of
  ``kube-system/extension-apiserver-authentication``, as extension API servers do);
* **admin** (``:15080``, plain HTTP, read-only): ``/healthz``, ``/readyz``, ``/api/status``,
  ``/api/objects``, and the metrics server's ``/stats``, ``/tap``, ``/metrics``: what ``reference-mesh
  check|top|routes|tap --context`` read through the API server's service proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import secrets
import signal
import ssl
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

import click
from aiohttp import web

from reference_mesh.control.admission import AdmissionResult
from reference_mesh.control.api import AdminApi
from reference_mesh.control.compiler import MeshSettings
from reference_mesh.control.controlplane import ControlPlane
from reference_mesh.control.resources import ObjectKey
from reference_mesh.control.store import StoredObject, StoreState
from reference_mesh.faults import parse_faults
from reference_mesh.identity import CertificateAuthority, SpiffeId, WorkloadCredentials
from reference_mesh.kube import names, webhooks
from reference_mesh.kube.client import ApiError, KubeApi, connect
from reference_mesh.kube.convert import smi_object
from reference_mesh.kube.identity import IdentityService, kube_token_reviewer
from reference_mesh.kube.inject import InjectionConfig
from reference_mesh.kube.store import KubeStore, smi_resources
from reference_mesh.metrics.server import PREFIX, MetricsApi
from reference_mesh.proxy.config import Interception
from smi_conformance import models

__all__ = ["Controller", "main"]

log = logging.getLogger(__name__)
CERT_TTL = dt.timedelta(hours=24)
RENEW_AT = 0.7


def _problem(status: int, message: str) -> web.Response:
    reason = {401: "Unauthorized", 404: "NotFound"}.get(status, "InternalError")
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason}
    return web.json_response({**body, "code": status}, status=status)


class Controller:
    def __init__(
        self,
        api: KubeApi,
        ca: CertificateAuthority,
        injection: InjectionConfig,
        *,
        namespace: str = names.NAMESPACE,
        https_port: int = names.HTTPS_PORT,
        snapshot_port: int = names.SNAPSHOT_PORT,
        admin_port: int = names.ADMIN_PORT,
        address: str = "0.0.0.0",
        sync_timeout_s: float = 300.0,
        split_algorithm: Literal["weighted_random", "smooth_round_robin"] = "weighted_random",
        faults: frozenset[str] = frozenset(),
    ):
        self.api, self.ca, self.injection, self.namespace = api, ca, injection, namespace
        self.ports = {"https": https_port, "snapshot": snapshot_port, "admin": admin_port}
        self.address, self.sync_timeout_s = address, sync_timeout_s
        self.settings = MeshSettings(
            trust_domain=ca.trust_domain,
            interception=Interception(),
            split_algorithm=split_algorithm,
            faults=faults,
        )
        self.store = KubeStore(api)
        self.identity = IdentityService(ca, kube_token_reviewer(api))
        self.metrics = MetricsApi(self.store, settings=self.settings)
        self.credentials = self._workload_credentials()
        self.control_plane = ControlPlane(
            self.store, self.credentials, self.settings, address=address, port=snapshot_port
        )
        self.admin_api = AdminApi(self.control_plane, secrets.token_hex(16))
        self.https_ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.https_ssl.minimum_version = ssl.TLSVersion.TLSv1_2
        self.serving_not_after: dt.datetime | None = None
        self.front_proxy_names: list[str] = []
        self._runners: list[web.AppRunner] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self.started = time.monotonic()

    # --------------------------------------------------------------------------------------- credentials
    def _workload_credentials(self) -> WorkloadCredentials:
        sid = SpiffeId(self.ca.trust_domain, self.namespace, names.CONTROL_PLANE)
        return self.ca.issue(sid, ttl=CERT_TTL)

    def _load_serving_certificate(self) -> None:
        dns = names.service_dns(self.namespace)
        cert, key = self.ca.issue_serving(
            [dns, f"{dns}.cluster.local", f"{names.CONTROL_PLANE}.{self.namespace}", names.CONTROL_PLANE],
            ttl=CERT_TTL,
        )
        from cryptography.hazmat.primitives import serialization

        with tempfile.TemporaryDirectory(prefix="serving-") as tmp:
            cert_path, key_path = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
            cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + self.ca.bundle.pem())
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(
                    key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    )
                )
            self.https_ssl.load_cert_chain(cert_path, key_path)  # the same context: new handshakes get it
        self.serving_not_after = cert.not_valid_after_utc

    def _load_front_proxy_ca(self) -> None:
        """The aggregator's client CA and allowed names, where every extension API server reads them."""
        data = self.api.get("/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication")[
            "data"
        ]
        self.https_ssl.verify_mode = ssl.CERT_OPTIONAL  # webhooks and proxies present no client certificate
        self.https_ssl.load_verify_locations(cadata=data["requestheader-client-ca-file"])
        self.front_proxy_names = json.loads(data.get("requestheader-allowed-names") or "[]")

    async def _rotate(self) -> None:
        while True:
            await asyncio.sleep(CERT_TTL.total_seconds() * RENEW_AT)
            self.credentials = self._workload_credentials()
            self.control_plane.rotate_credentials(self.credentials)
            self._load_serving_certificate()
            log.info("certificates renewed")

    # --------------------------------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Serve at once (liveness, readiness false until synced), then follow the cluster."""
        self._load_serving_certificate()
        await asyncio.to_thread(self._load_front_proxy_ca)
        await self._serve(self._https_app(), self.ports["https"], self.https_ssl)
        await self._serve(self._admin_app(), self.ports["admin"], None)
        await self.store.start()
        await self.store.wait_synced(self.sync_timeout_s)
        await self.control_plane.start()
        self._tasks.append(asyncio.ensure_future(self._rotate()))
        log.info(
            "control plane ready: %d objects, revision %d",
            len(self.store.state()),
            self.store.state().revision,
        )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.control_plane.stop()
        await self.store.stop()
        for runner in self._runners:
            await runner.cleanup()

    async def _serve(self, app: web.Application, port: int, context: ssl.SSLContext | None) -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, self.address, port, ssl_context=context, backlog=1024).start()
        self._runners.append(runner)

    @property
    def ready(self) -> bool:
        return self.store.synced.is_set() and self.control_plane.running

    # --------------------------------------------------------------------------------------- HTTPS
    def _https_app(self) -> web.Application:
        app = web.Application(middlewares=[self._front_proxy_only], client_max_size=8 * 1024 * 1024)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_post("/validate-smi", self._validate_smi)
        app.router.add_post("/mutate-pod", self._mutate_pod)
        app.router.add_post("/convert-smi", self._convert_smi)
        app.router.add_post("/v1/identity", self.identity.handle)
        app.router.add_get("/apis", self._api_groups)
        app.router.add_get(f"/apis/{names.METRICS_GROUP}", self._api_group)
        for route in self.metrics.app.router.routes():
            path = route.resource.canonical if route.resource is not None else ""
            if route.method == "GET" and path.startswith(PREFIX):
                app.router.add_get(path, route.handler)
        return app

    @web.middleware
    async def _front_proxy_only(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """The aggregated API answers only the aggregator: a verified client certificate with an allowed
        name (any name when the cluster allows any)."""
        if request.path.startswith("/apis"):
            peer = request.transport.get_extra_info("peercert") if request.transport else None
            if not peer:
                return _problem(401, "the Traffic Metrics API is served through the Kubernetes API server")
            subject = dict(item for rdn in peer.get("subject", ()) for item in rdn)
            if self.front_proxy_names and subject.get("commonName") not in self.front_proxy_names:
                return _problem(401, f"client {subject.get('commonName')!r} is not an allowed front proxy")
        response: web.StreamResponse = await handler(request)
        return response

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _api_groups(self, request: web.Request) -> web.Response:
        return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": [self._group()]})

    async def _api_group(self, request: web.Request) -> web.Response:
        return web.json_response({"kind": "APIGroup", "apiVersion": "v1", **self._group()})

    def _group(self) -> dict[str, Any]:
        version = {
            "groupVersion": f"{names.METRICS_GROUP}/{names.METRICS_VERSION}",
            "version": names.METRICS_VERSION,
        }
        return {"name": names.METRICS_GROUP, "versions": [version], "preferredVersion": version}

    async def _review(self, request: web.Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            return None

    async def _convert_smi(self, request: web.Request) -> web.Response:
        review = await self._review(request)
        try:
            answer = await asyncio.to_thread(webhooks.convert_smi, review)
        except webhooks.ReviewError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(answer)

    async def _validate_smi(self, request: web.Request) -> web.Response:
        review = await self._review(request)
        try:
            if not self.store.synced.is_set():
                asked = review.get("request") if isinstance(review, dict) else None
                uid = str(asked.get("uid", "")) if isinstance(asked, dict) else ""
                message = "the reference mesh's control plane is starting; try again in a moment"
                return web.json_response(webhooks.response(uid, allowed=False, message=message, code=503))
            result = await self._judge_fresh(review)
            return web.json_response(webhooks.admit_smi(review, result))
        except webhooks.ReviewError as exc:
            return web.json_response({"error": str(exc)}, status=400)

    async def _judge_fresh(self, review: Any) -> AdmissionResult:
        """Judge against the SMI objects as the API holds them now (consistent lists), not the cache: an
        HTTPRouteGroup created a moment ago changes a TrafficTarget's verdict (a missing group is a warning, a
        misnamed match an error), and the informers may not have delivered it yet. Services, accounts and
        pods come from the cache (they only change warnings and the compilation check)."""
        cached = self.store.state()
        kinds = {r.kind for r in smi_resources()}
        objects: dict[ObjectKey, StoredObject] = {
            k: v for k, v in cached.objects.items() if k.kind not in kinds
        }
        for resource in smi_resources():
            listed = await asyncio.to_thread(self.api.get, resource.path())
            for item in listed.get("items") or []:
                item.setdefault("kind", resource.kind)
                item.setdefault("apiVersion", resource.api_version)
                try:
                    model = smi_object(item)
                except models.SMIValidationError:
                    continue
                key = ObjectKey(resource.kind, model.metadata.namespace or "default", model.metadata.name)
                old = cached.objects.get(key)
                objects[key] = StoredObject(key, model, 0, old.created if old else cached.revision + 1)
        return webhooks.judge_smi(review, StoreState(objects, cached.revision), self.settings)

    async def _mutate_pod(self, request: web.Request) -> web.Response:
        try:
            return web.json_response(webhooks.admit_pod(await self._review(request), self.injection))
        except webhooks.ReviewError as exc:
            return web.json_response({"error": str(exc)}, status=400)

    # --------------------------------------------------------------------------------------- admin
    def _admin_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/api/status", self._status)
        app.router.add_get("/api/objects", self.admin_api.objects)
        app.router.add_get("/stats", self.metrics.stats)
        app.router.add_get("/tap", self.metrics.tap)
        app.router.add_get("/metrics", self.metrics.prometheus)
        return app

    async def _readyz(self, request: web.Request) -> web.Response:
        if self.ready:
            return web.Response(text="ready\n")
        return web.Response(text="syncing with the API server\n", status=503)

    def status_json(self) -> dict[str, Any]:
        body = self.admin_api.status_json()
        body["kubernetes"] = {
            "synced": self.store.synced.is_set(),
            "ready": self.ready,
            "informers": [
                {
                    "resource": i.resource.path(),
                    "lists": i.lists,
                    "resource_version": i.resource_version,
                    "last_error": i.last_error,
                }
                for i in self.store.informers
            ],
            "unreadable": {str(k): why for k, why in self.store.unreadable.items()},
            "identity": {"issued": self.identity.issued, "refused": self.identity.refused},
            "serving_certificate_not_after": self.serving_not_after.isoformat()
            if self.serving_not_after
            else None,
            "ca_not_after": self.ca.certificate.not_valid_after_utc.isoformat(),
        }
        return body

    async def _status(self, request: web.Request) -> web.Response:
        body = self.status_json()
        body["certificates"] = await self._certificates()
        return web.json_response(body)

    async def _certificates(self) -> dict[str, Any]:
        """Every proxy's current certificate, from its admin endpoint (the snapshot stream's handshake saw the
        one it had when it connected; renewals since are not in it)."""

        async def one(pod: Any) -> tuple[str, Any]:
            name = f"{pod.metadata.namespace}/{pod.metadata.name}"
            try:
                async with self.metrics.session.get(f"http://{pod.status.admin}/ready") as resp:
                    return name, (await resp.json())["certificate"]
            except Exception as exc:  # an unreachable or odd answer is what check reports
                return name, {"error": f"{type(exc).__name__}: {exc}"}

        pods = list(self.store.state().models("Pod"))
        return dict(await asyncio.gather(*(one(p) for p in pods)))


def _load_ca(ca_dir: Path, trust_domain: str) -> CertificateAuthority:
    try:
        return CertificateAuthority.from_pem(
            trust_domain, (ca_dir / "tls.crt").read_bytes(), (ca_dir / "tls.key").read_bytes()
        )
    except OSError as exc:
        raise click.ClickException(f"cannot read the mesh CA from {ca_dir}: {exc}") from exc


@click.command()
@click.option("--trust-domain", default="cluster.local", show_default=True)
@click.option(
    "--ca-dir", type=click.Path(path_type=Path), required=True, help="tls.crt and tls.key of the CA"
)
@click.option(
    "--config", "config_path", type=click.Path(path_type=Path), required=True, help="mesh-config JSON"
)
@click.option("--kubeconfig", type=click.Path(path_type=Path), default=None, help="(outside a cluster)")
@click.option("--context", default=None, help="kubeconfig context (outside a cluster)")
@click.option("--log-level", default="INFO", show_default=True)
@click.option(
    "--split-algorithm",
    type=click.Choice(["weighted_random", "smooth_round_robin"]),
    default="weighted_random",
    show_default=True,
)
@click.option("--faults", default="", help="Deliberate bugs, NAME[,NAME...] (reference_mesh/faults.py).")
def main(
    trust_domain: str,
    ca_dir: Path,
    config_path: Path,
    kubeconfig: Path | None,
    context: str | None,
    log_level: str,
    split_algorithm: Literal["weighted_random", "smooth_round_robin"],
    faults: str,
) -> None:
    """Run the reference mesh's control plane against the Kubernetes API until SIGTERM."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        fault_set = parse_faults(faults)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--faults") from None
    if fault_set:
        log.warning("deliberate faults switched on: %s", ", ".join(sorted(fault_set)))
    ca = _load_ca(ca_dir, trust_domain)
    injection = InjectionConfig.from_json(config_path.read_text())
    try:
        api = KubeApi(connect(kubeconfig, context))
    except ApiError as exc:
        raise click.ClickException(str(exc)) from exc

    async def run() -> None:
        controller = Controller(
            api,
            ca,
            injection,
            namespace=os.environ.get("POD_NAMESPACE", names.NAMESPACE),
            split_algorithm=split_algorithm,
            faults=fault_set,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        starting = asyncio.ensure_future(controller.start())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait([starting, stopping], return_when=asyncio.FIRST_COMPLETED)
        if starting.done() and starting.exception() is not None:
            stopping.cancel()
            await controller.stop()
            raise starting.exception()  # type: ignore[misc]
        await stopping
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        await controller.stop()

    import uvloop

    uvloop.run(run())


if __name__ == "__main__":
    main()
