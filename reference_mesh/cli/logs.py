"""``reference-mesh logs POD``: what a pod's application or sidecar wrote (``kubectl logs`` for the embedded
runtime). The log files live in the mesh's run directory; the admin API says which file is whose."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from reference_mesh.cli.client import MeshClient, mesh_option

__all__ = ["logs"]


def _process(client: MeshClient, namespace: str, pod: str, container: str | None) -> dict[str, Any]:
    status, body = client.call("/api/status")
    if status != 200 or not isinstance(body, dict):
        raise click.ClickException(f"the admin API answered {status}: {body}")
    pods = body.get("runtime", {}).get("pods", [])
    found = [p for p in pods if p["pod"] == f"{namespace}/{pod}"]
    if not found:
        names = ", ".join(p["pod"] for p in pods) or "none"
        raise click.ClickException(f"no pod {namespace}/{pod} (pods: {names})")
    wanted = container or ("app" if found[0].get("app") else "sidecar")
    process = found[0].get(wanted)
    if not process:
        raise click.ClickException(
            f"pod {namespace}/{pod} has no {wanted} (a client-only deployment has no app)"
        )
    return dict(process)


def _tail(path: Path, lines: int) -> tuple[str, int]:
    """The last ``lines`` lines of the file (all when negative) and the offset its end is at."""
    data = path.read_bytes() if path.exists() else b""
    text = data.decode("utf-8", "replace")
    if lines >= 0:
        kept = text.splitlines(keepends=True)
        text = "".join(kept[len(kept) - lines :] if lines else [])
    return text, len(data)


@click.command()
@click.argument("pod")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option(
    "-c",
    "--container",
    type=click.Choice(["app", "sidecar"]),
    default=None,
    help="whose log (default: the app, or the sidecar of a client-only pod)",
)
@click.option("--tail", "lines", type=int, default=-1, help="only the last N lines (default: all)")
@click.option("-f", "--follow", is_flag=True, help="keep printing what is appended, until Ctrl-C")
@mesh_option
def logs(pod: str, namespace: str, container: str | None, lines: int, follow: bool, mesh: str | None) -> None:
    """Print the log of a pod's application or sidecar."""
    process = _process(MeshClient.from_context(mesh), namespace, pod, container)
    path = Path(process["log"])
    text, offset = _tail(path, lines)
    sys.stdout.write(text)
    sys.stdout.flush()
    try:
        while follow:
            time.sleep(0.2)
            size = path.stat().st_size if path.exists() else 0
            if size < offset:  # truncated or replaced: start over
                offset = 0
            if size > offset:
                with path.open("rb") as f:
                    f.seek(offset)
                    chunk = f.read(size - offset)
                offset = size
                sys.stdout.write(chunk.decode("utf-8", "replace"))
                sys.stdout.flush()
    except KeyboardInterrupt:
        pass
