"""How CLI commands reach a running ``reference-mesh up``: its state file and its two HTTP APIs."""

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

__all__ = ["EXIT_UNREACHABLE", "MeshClient", "mesh_option"]

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
