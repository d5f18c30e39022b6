"""How CLI commands reach a running mesh: a ``reference-mesh up`` through its state file and its two HTTP
APIs, or an installation on Kubernetes (``--context``/``--kubeconfig``) through the API server's service proxy
to the control plane's read-only admin port."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from reference_mesh.runtime.home import default_home

__all__ = ["EXIT_UNREACHABLE", "KubeMeshClient", "MeshClient", "cluster_target", "mesh_option"]

EXIT_UNREACHABLE = 3


class Unreachable(click.ClickException):
    exit_code = EXIT_UNREACHABLE


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def find_state(name: str | None, home: Path | None = None) -> dict[str, Any]:
    """The state of the named running mesh, or of the only one running."""
    home = home or default_home()
    candidates = [home / name / "state.json"] if name else sorted(home.glob("*/state.json"))
    running: list[dict[str, Any]] = []
    for path in candidates:
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if _alive(int(state.get("pid", 0))):
            running.append(state)
    if not running:
        where = f"mesh {name!r}" if name else "mesh"
        raise Unreachable(
            f"no running {where} found under {home} (start one with: reference-mesh up TOPOLOGY)"
        )
    if len(running) > 1:
        names = ", ".join(s["name"] for s in running)
        raise click.UsageError(f"several meshes are running ({names}): choose one with --mesh NAME")
    return running[0]


class MeshClient:
    def __init__(self, state: dict[str, Any]):
        self.state = state
        self.admin, self.metrics, self.token = state["admin"], state["metrics"], state["token"]

    @classmethod
    def from_context(cls, mesh: str | None) -> MeshClient:
        """The mesh the command line names: a cluster (``--context``/``--kubeconfig``) or a running ``up``."""
        ctx = click.get_current_context(silent=True)
        target = ctx.meta.get(_CLUSTER) if ctx is not None else None
        if target and any(target.values()):
            from reference_mesh.cli.cluster import connect_cluster

            return KubeMeshClient(connect_cluster(target["kube_context"], target["kubeconfig"]))
        return cls(find_state(mesh))

    def _open(self, url: str, body: Any = None, timeout: float = 30.0) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            url,
            data=data,
            method="POST" if data is not None else "GET",
            headers={"authorization": f"Bearer {self.token}", "content-type": "application/json"},
        )
        try:
            return urllib.request.urlopen(req, timeout=timeout)
        except urllib.error.HTTPError as exc:
            return exc
        except (urllib.error.URLError, OSError) as exc:
            raise Unreachable(f"cannot reach the mesh at {url}: {getattr(exc, 'reason', exc)}") from None

    def call(self, path: str, body: Any = None, *, base: str | None = None) -> tuple[int, Any]:
        resp = self._open((base or self.admin) + path, body)
        with resp:
            raw = resp.read()
            status = resp.status if hasattr(resp, "status") else resp.code
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def lines(self, url: str) -> Iterator[bytes]:
        resp = self._open(url, timeout=3600)
        with resp:
            while line := resp.readline():
                yield line


def mesh_option(f: Any) -> Any:
    return click.option(
        "--mesh",
        envvar="REFERENCE_MESH",
        metavar="NAME",
        help="which running mesh (default: the only one running)",
    )(f)


class KubeMeshClient(MeshClient):
    """The reference mesh installed on a cluster: the control plane's admin port (status, stats, tap) through
    the API server's service proxy, so the kubeconfig's credentials and RBAC apply."""

    def __init__(self, api: Any):
        from reference_mesh.kube import names

        self.api = api
        base = f"/api/v1/namespaces/{names.NAMESPACE}/services/http:{names.CONTROL_PLANE}:admin/proxy"
        super().__init__({"name": "kubernetes", "admin": base, "metrics": base, "token": ""})

    @staticmethod
    def _split(url: str) -> tuple[str, list[tuple[str, str]]]:
        from urllib.parse import parse_qsl

        path, _, query = url.partition("?")
        return path, parse_qsl(query)

    def call(self, path: str, body: Any = None, *, base: str | None = None) -> tuple[int, Any]:
        from reference_mesh.kube.client import ApiError

        target, query = self._split((base or self.admin) + path)
        try:
            return 200, self.api.request(
                "POST" if body is not None else "GET", target, query=query, body=body
            )
        except ApiError as exc:
            if exc.status == 0:
                raise Unreachable(f"cannot reach the cluster: {exc.message}") from None
            return exc.status, {"message": exc.message}

    def lines(self, url: str) -> Iterator[bytes]:
        from reference_mesh.kube.client import ApiError

        target, query = self._split(url)
        try:
            response = self.api.open_stream(target, query, timeout=(10, 3600))
        except ApiError as exc:
            raise Unreachable(f"the control plane answered {exc.status}: {exc.message}") from None
        try:
            pending = b""
            for chunk in response.stream(amt=None):
                pending += chunk
                *done, pending = pending.split(b"\n")
                for line in done:
                    yield line + b"\n"
        finally:
            response.release_conn()


_CLUSTER = "reference_mesh.cluster"


def cluster_target(f: Any) -> Any:
    """``--context`` / ``--kubeconfig``: run the command against the mesh installed on that cluster."""

    def remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        ctx.meta.setdefault(_CLUSTER, {"kube_context": None, "kubeconfig": None})[param.name or ""] = value
        return value

    f = click.option(
        "--kubeconfig",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        expose_value=False,
        callback=remember,
        help="the mesh installed on this kubeconfig's cluster (its current context unless --context)",
    )(f)
    return click.option(
        "--context",
        "kube_context",
        default=None,
        expose_value=False,
        callback=remember,
        help="the mesh installed on the cluster of this kubeconfig context",
    )(f)
