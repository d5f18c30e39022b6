"""The embedded mesh: one topology -> CA, control plane, admin and metrics APIs, workloads and sidecars.

    async with EmbeddedMesh(load_topology(path), base_dir=path.parent) as mesh:
        mesh.pod_address("bookbuyer-0")        # where that pod's sidecar takes outbound traffic (:15001)
        await mesh.apply_text(yaml_text)       # same admission as `reference-mesh apply`

Process model: this process hosts the identity service (the CA; it writes each pod's credentials to ``<run
dir>/pods/<ns>/<pod>/credentials`` and re-issues them at 70% of their lifetime), the store, the control plane,
the admin API and the metrics API. Every pod is two OS processes, its application (the echo workload) and its
sidecar, supervised like a kubelet would (:mod:`.processes`): a crashed one is restarted with backoff and its
Pod is not ready (so not an endpoint of any Service) until both answer again.

Addresses: the mesh takes a /24 of 127.0.0.0/8; the control plane's listeners are on ``.1``, pods on ``.2``
on. On a pod address: the sidecar's admin on 15000, its outbound HTTP listener on 15001, its inbound listeners
on the pod's ports; the application on port + 10000; TCP/UDP clients reach a service port through their
sidecar's ``localPort`` (see topology.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import json
import logging
import os
import random
import secrets
import shutil
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from reference_mesh.control.api import AdminApi, merge
from reference_mesh.control.compiler import MeshSettings
from reference_mesh.control.controlplane import ApplyOutcome, ControlPlane
from reference_mesh.control.resources import (
    ContainerPort,
    ObjectKey,
    Pod,
    PodSpec,
    PodStatus,
    Service,
    ServiceAccount,
    ServicePortSpec,
    ServiceSpec,
    SimpleMeta,
)
from reference_mesh.control.store import MemoryStore, Put
from reference_mesh.identity import CertificateAuthority, SpiffeId, write_credentials
from reference_mesh.metrics.aggregate import DEPLOYMENT_LABEL
from reference_mesh.metrics.server import MetricsApi
from reference_mesh.runtime.home import default_home
from reference_mesh.runtime.processes import ChildProcess
from reference_mesh.runtime.topology import (
    ADMIN_PORT,
    APP_PORT_OFFSET,
    OUTBOUND_HTTP_PORT,
    Deployment,
    Topology,
)
from smi_conformance.manifests import load_text

__all__ = ["CONTROL_PLANE_NAMESPACE", "EmbeddedMesh", "MeshStartError", "default_home"]

log = logging.getLogger(__name__)
CONTROL_PLANE_NAMESPACE, CONTROL_PLANE_ACCOUNT = "mesh-system", "control-plane"
#: Failed readiness probes in a row that make a ready pod not ready (the kubelet's default failureThreshold).
PROBE_FAILURES = 3


class MeshStartError(Exception):
    """The mesh could not start; everything it had started is stopped again."""


def _pick_subnet(topology: Topology) -> str:
    if topology.subnet != "auto":
        return topology.subnet.rsplit(".", 1)[0]
    rng = random.SystemRandom()
    for _ in range(50):
        prefix = f"127.{rng.randrange(16, 255)}.{rng.randrange(0, 256)}"
        with socket.socket() as s, contextlib.suppress(OSError):
            s.bind((f"{prefix}.1", topology.control_plane.admin_port))
            return prefix
    raise MeshStartError("no free 127.x.y.0/24 found for the mesh")


@dataclass
class PodRuntime:
    key: ObjectKey
    deployment: Deployment
    pod: Pod
    credentials: Path
    app: ChildProcess | None = None
    sidecar: ChildProcess | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    @property
    def address(self) -> str:
        return self.pod.status.pod_ip

    def to_json(self) -> dict[str, Any]:
        return {
            "pod": f"{self.key.namespace}/{self.key.name}",
            "address": self.address,
            "ready": self.pod.status.ready,
            "admin": self.pod.status.admin,
            "service_account": self.pod.spec.service_account_name,
            "app": self.app.to_json() if self.app else None,
            "sidecar": self.sidecar.to_json() if self.sidecar else None,
        }


class EmbeddedMesh:
    def __init__(
        self,
        topology: Topology,
        *,
        base_dir: Path | None = None,
        home: Path | None = None,
        log_level: str = "WARNING",
        ready_timeout_s: float = 60.0,
    ):
        self.topology = topology
        self.base_dir = base_dir or Path.cwd()
        self.home = home or default_home()
        self.run_dir = self.home / topology.name
        self.log_level = log_level
        self.ready_timeout_s = ready_timeout_s
        self.store = MemoryStore()
        self.settings = MeshSettings(
            trust_domain=topology.trust_domain,
            outbound_http_port=OUTBOUND_HTTP_PORT,
            split_algorithm=topology.split_algorithm,
            permissive=topology.permissive,
            faults=frozenset(topology.faults),
        )
        self.pods: dict[ObjectKey, PodRuntime] = {}
        self.token = secrets.token_urlsafe(24)
        self.prefix = ""
        self.started_at: float | None = None
        self.startup_s: float | None = None
        self._runners: list[web.AppRunner] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._http: aiohttp.ClientSession | None = None
        self.ca: CertificateAuthority
        self.control_plane: ControlPlane
        self.admin: AdminApi

    # ----------------------------------------------------------------------------------------------- names
    @property
    def cp_address(self) -> str:
        return f"{self.prefix}.1"

    @property
    def admin_url(self) -> str:
        return f"http://{self.cp_address}:{self.topology.control_plane.admin_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.cp_address}:{self.topology.control_plane.metrics_port}"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "state.json"

    @property
    def control_plane_id(self) -> str:
        return SpiffeId(self.topology.trust_domain, CONTROL_PLANE_NAMESPACE, CONTROL_PLANE_ACCOUNT).uri

    def pod(self, name: str, namespace: str = "default") -> PodRuntime:
        return self.pods[ObjectKey("Pod", namespace, name)]

    def pod_address(self, name: str, namespace: str = "default") -> str:
        return self.pod(name, namespace).address

    def local_port(self, service: str, port: int, namespace: str = "default") -> int:
        return self.topology.local_ports()[(namespace, service, port)]

    # ----------------------------------------------------------------------------------------------- start
    async def __aenter__(self) -> EmbeddedMesh:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        started = time.monotonic()
        self._check_not_running()
        self.prefix = _pick_subnet(self.topology)
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise
        self.startup_s = round(time.monotonic() - started, 3)
        self.started_at = time.time()

    def _check_not_running(self) -> None:
        try:
            state = json.loads(self.state_file.read_text())
            os.kill(int(state["pid"]), 0)
        except (OSError, ValueError, KeyError):
            return
        raise MeshStartError(
            f"mesh {self.topology.name!r} is already running (pid {state['pid']}, state in "
            f"{self.state_file}); stop it first or give this topology another name"
        )

    async def _start(self) -> None:
        topo = self.topology
        shutil.rmtree(self.run_dir / "pods", ignore_errors=True)
        self.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2))
        ttl = dt.timedelta(seconds=topo.certificates.ttl_s)
        self.ca = CertificateAuthority.create(topo.trust_domain)
        cp_id = SpiffeId(topo.trust_domain, CONTROL_PLANE_NAMESPACE, CONTROL_PLANE_ACCOUNT)
        self.control_plane = ControlPlane(
            self.store,
            self.ca.issue(cp_id, ttl=ttl),
            self.settings,
            address=self.cp_address,
            port=topo.control_plane.snapshot_port,
        )
        self._tasks.append(
            asyncio.ensure_future(
                self._rotate(cp_id, lambda c: self.control_plane.rotate_credentials(c), first=False)
            )
        )
        await self.store.commit([Put(o) for o in self._core_objects()])
        await self.control_plane.start()
        self.admin = AdminApi(self.control_plane, self.token, self.status_json, self.restart_control_plane)
        await self._serve(self.admin.app, topo.control_plane.admin_port)
        await self._serve(MetricsApi(self.store, settings=self.settings).app, topo.control_plane.metrics_port)
        for runtime in self.pods.values():
            await self._start_pod(runtime)
        await self.wait_ready(self.ready_timeout_s)
        if topo.manifests:
            outcome = await self.apply_files([self.base_dir / m for m in topo.manifests])
            if not outcome.admission.ok:
                raise MeshStartError(
                    "the topology's manifests were rejected:\n"
                    + "\n".join(f"  {f}" for f in outcome.admission.findings if f.severity == "error")
                )
            await self.wait_converged(self.ready_timeout_s)
        self._write_state()

    def _core_objects(self) -> list[Any]:
        topo = self.topology
        objs: list[Any] = [
            ServiceAccount(metadata=SimpleMeta(name=a.name, namespace=a.namespace))
            for a in topo.service_accounts
        ]
        namespaces = {d.namespace for d in topo.deployments}
        objs += [
            ServiceAccount(metadata=SimpleMeta(name="default", namespace=ns)) for ns in sorted(namespaces)
        ]
        local = topo.local_ports()
        for s in topo.services:
            ports = tuple(
                ServicePortSpec(
                    port=p.port,
                    target_port=p.target_port,
                    protocol=p.protocol,
                    name=p.name,
                    local_port=local.get((s.namespace, s.name, p.port)),
                )
                for p in s.ports
            )
            objs.append(
                Service(
                    metadata=SimpleMeta(name=s.name, namespace=s.namespace),
                    spec=ServiceSpec(selector=s.selector, ports=ports, resilience=s.resilience),
                )
            )
        host = 2
        for d in topo.deployments:
            for name in d.instance_names():
                ip = f"{self.prefix}.{host}"
                host += 1
                pod = Pod(
                    metadata=SimpleMeta(
                        name=name, namespace=d.namespace, labels={**d.labels, DEPLOYMENT_LABEL: d.name}
                    ),
                    spec=PodSpec(
                        service_account_name=d.service_account,
                        ports=tuple(
                            ContainerPort(
                                container_port=p.port,
                                protocol=p.protocol,
                                name=p.name,
                                app_port=p.port + APP_PORT_OFFSET,
                            )
                            for p in d.ports
                        ),
                    ),
                    status=PodStatus(pod_ip=ip, ready=False, admin=f"{ip}:{ADMIN_PORT}"),
                )
                key = ObjectKey("Pod", d.namespace, name)
                creds = self.run_dir / "pods" / d.namespace / name / "credentials"
                self.pods[key] = PodRuntime(key, d, pod, creds)
                objs.append(pod)
        return objs

    async def _serve(self, app: web.Application, port: int) -> None:
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0, handler_cancellation=True
        )
        await runner.setup()
        self._runners.append(runner)
        try:
            await web.TCPSite(runner, self.cp_address, port).start()
        except OSError as exc:
            raise MeshStartError(f"cannot listen on {self.cp_address}:{port}: {exc.strerror}") from None

    async def _rotate(self, sid: SpiffeId, sink: Any, *, first: bool = True) -> None:
        """Issue credentials now (``first``) and again at ``renew_at`` of every lifetime."""
        certs = self.topology.certificates
        ttl = dt.timedelta(seconds=certs.ttl_s)
        if first:
            sink(self.ca.issue(sid, ttl=ttl))
        while True:
            await asyncio.sleep(certs.ttl_s * certs.renew_at)
            sink(self.ca.issue(sid, ttl=ttl))

    async def _start_pod(self, rt: PodRuntime) -> None:
        d, pod = rt.deployment, rt.pod
        sid = SpiffeId(self.topology.trust_domain, d.namespace, d.service_account)
        write_credentials(
            rt.credentials, self.ca.issue(sid, ttl=dt.timedelta(seconds=self.topology.certificates.ttl_s))
        )
        rt.tasks.append(
            asyncio.ensure_future(
                self._rotate(sid, functools.partial(write_credentials, rt.credentials), first=False)
            )
        )
        if d.command:
            env = {**os.environ, **d.app_env(rt.key.name, rt.address)}
            try:
                rt.app = await self._child(rt, "app", list(d.command), env=env, cwd=self.base_dir)
            except OSError as exc:
                raise MeshStartError(
                    f"deployment {d.namespace}/{d.name}: cannot start its command {d.command[0]!r} "
                    f"(in {self.base_dir}): {exc.strerror or exc}"
                ) from None
        elif d.ports:
            argv = [
                sys.executable,
                "-m",
                "smi_conformance.workload.echo",
                "--service",
                d.labels.get("app", d.name),
                "--version",
                d.labels.get("version", "v1"),
                "--instance",
                rt.key.name,
                "--namespace",
                d.namespace,
            ]
            for p in d.ports:
                argv += [f"--{p.protocol}", f"{rt.address}:{p.port + APP_PORT_OFFSET}"]
            rt.app = await self._child(rt, "app", argv)
        argv = [
            sys.executable,
            "-m",
            "reference_mesh.runtime.sidecar",
            "--credentials",
            str(rt.credentials),
            "--instance",
            rt.key.name,
            "--control-plane",
            f"{self.cp_address}:{self.control_plane.port}",
            "--control-plane-id",
            self.control_plane_id,
            "--admin",
            pod.status.admin,
            "--log-level",
            self.log_level,
        ]
        rt.sidecar = await self._child(rt, "sidecar", argv)
        rt.tasks.append(asyncio.ensure_future(self._probe(rt)))

    async def _child(
        self,
        rt: PodRuntime,
        role: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> ChildProcess:
        """Start one of a pod's processes; its exit marks the pod not ready."""
        log_path = self.run_dir / "logs" / f"{rt.key.namespace}_{rt.key.name}.{role}.log"
        child = ChildProcess(
            f"{rt.key.namespace}/{rt.key.name}/{role}",
            argv,
            log_path,
            env=env,
            cwd=cwd,
            on_exit=functools.partial(self._crashed, rt),
        )
        await child.start()
        return child

    # ------------------------------------------------------------------------------------------- readiness
    async def _set_ready(self, rt: PodRuntime, ready: bool) -> None:
        if rt.pod.status.ready == ready:
            return
        rt.pod = rt.pod.model_copy(update={"status": rt.pod.status.model_copy(update={"ready": ready})})
        await self.store.commit([Put(rt.pod)])

    async def _crashed(self, rt: PodRuntime, child: ChildProcess) -> None:
        await self._set_ready(rt, False)

    async def _app_ready(self, rt: PodRuntime) -> bool:
        if rt.app is None:
            return True
        if rt.app.state != "running":
            return False
        for p in rt.deployment.ports:
            if p.protocol == "udp":
                continue
            try:
                _, writer = await asyncio.wait_for(
                    asyncio.open_connection(rt.address, p.port + APP_PORT_OFFSET), 1
                )
            except (OSError, asyncio.TimeoutError, TimeoutError):
                return False
            writer.close()
        return True

    async def _sidecar_ready(self, rt: PodRuntime) -> bool:
        if rt.sidecar is None or rt.sidecar.state != "running" or self._http is None:
            return False
        try:
            async with self._http.get(f"http://{rt.pod.status.admin}/ready") as resp:
                return resp.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError, TimeoutError):
            return False

    async def _probe(self, rt: PodRuntime) -> None:
        """Readiness probe: both processes answer. Fast until ready, then every second. Like the kubelet's
        (failureThreshold 3), a ready pod turns not ready only after PROBE_FAILURES failed probes in a row:
        one probe that times out on a busy machine must not take a healthy pod out of every Service (a
        crashed process still does at once, through ``_crashed``)."""
        failures = 0
        while True:
            ok = await self._app_ready(rt) and await self._sidecar_ready(rt)
            failures = 0 if ok else failures + 1
            if ok or failures >= PROBE_FAILURES or not rt.pod.status.ready:
                await self._set_ready(rt, ok)
            await asyncio.sleep(1.0 if rt.pod.status.ready else 0.1)

    async def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not all(rt.pod.status.ready for rt in self.pods.values()):
            if time.monotonic() > deadline:
                waiting = [
                    f"{k.namespace}/{k.name}" for k, rt in self.pods.items() if not rt.pod.status.ready
                ]
                raise MeshStartError(
                    f"pods not ready after {timeout}s: {', '.join(waiting)} (logs in {self.run_dir / 'logs'})"
                )
            await asyncio.sleep(0.05)
        await self.wait_converged(max(1.0, deadline - time.monotonic()))

    async def wait_converged(self, timeout: float = 10.0) -> float:
        """Until every proxy acknowledged the snapshot of the store's current revision; returns seconds
        waited."""
        started = time.monotonic()
        revision = self.store.state().revision
        while self.control_plane.compiled_revision < revision:
            await asyncio.sleep(0.005)
        dist = self.control_plane.distributor
        if dist is None:
            raise RuntimeError("the control plane is not running")
        await dist.wait_synced(timeout=max(0.1, timeout - (time.monotonic() - started)))
        return time.monotonic() - started

    # ------------------------------------------------------------------------------------------- operations
    async def apply_text(self, text: str, name: str = "<input>", *, delete: bool = False) -> ApplyOutcome:
        """Apply (or delete) the manifests in ``text``: the same admission as ``reference-mesh apply``."""
        loaded = load_text(text, name)
        if delete:
            return await self.control_plane.delete(loaded)
        return await self.control_plane.apply(loaded)

    async def apply_files(self, paths: list[Path]) -> ApplyOutcome:
        results = []
        for path in paths:
            try:
                results.append(load_text(path.read_bytes(), str(path)))
            except OSError as exc:
                raise MeshStartError(f"{path}: {exc.strerror}") from None
        return await self.control_plane.apply(merge(results))

    async def restart_control_plane(self, down_s: float = 1.0) -> None:
        """Stop the control plane (proxies lose their stream and keep serving), wait, start it again."""
        await self.control_plane.stop()
        await asyncio.sleep(down_s)
        await self.control_plane.start()

    def status_json(self) -> dict[str, Any]:
        return {
            "name": self.topology.name,
            "pid": os.getpid(),
            "started_at": self.started_at,
            "startup_s": self.startup_s,
            "ca_not_after": self.ca.certificate.not_valid_after_utc.isoformat(),
            "run_dir": str(self.run_dir),
            "pods": [rt.to_json() for rt in self.pods.values()],
        }

    def _write_state(self) -> None:
        state = {
            "name": self.topology.name,
            "pid": os.getpid(),
            "admin": self.admin_url,
            "metrics": self.metrics_url,
            "token": self.token,
            "run_dir": str(self.run_dir),
        }
        fd = os.open(self.state_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(state, f)

    # ------------------------------------------------------------------------------------------------ stop
    async def stop(self) -> None:
        """Stop everything this mesh started; safe to call more than once and after a failed start."""
        with contextlib.suppress(FileNotFoundError):
            self.state_file.unlink()
        children = [c for rt in self.pods.values() for c in (rt.sidecar, rt.app) if c is not None]
        await asyncio.gather(*(c.stop() for c in children), return_exceptions=True)
        tasks = self._tasks + [t for rt in self.pods.values() for t in rt.tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        for rt in self.pods.values():
            rt.tasks.clear()
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
        if hasattr(self, "control_plane"):
            await self.control_plane.stop()
        if self._http is not None:
            await self._http.close()
            self._http = None
        shutil.rmtree(self.run_dir / "pods", ignore_errors=True)
