"""``reference-mesh apply -f`` / ``delete -f``: send manifests to the running mesh's control plane.

Everything named is sent as one batch: it is admitted whole or not at all. Findings print as ``smi lint``
prints them (``file:line:col: CODE severity message (name) [object]``, its text reporter), errors on stderr;
the exit code is 1 when the batch was rejected.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from reference_mesh.cli.client import MeshClient, mesh_option
from smi_conformance.lint.reporters.text import finding_line
from smi_conformance.lint.rule import Severity

__all__ = ["apply", "delete"]

SUFFIXES = (".yaml", ".yml", ".json")


def read_inputs(files: tuple[str, ...]) -> list[dict[str, str]]:
    out = []
    for name in files:
        if name == "-":
            out.append({"name": "<stdin>", "text": sys.stdin.read()})
            continue
        path = Path(name)
        paths = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES) if path.is_dir() else [path]
        for p in paths:
            try:
                out.append({"name": str(p), "text": p.read_text()})
            except (OSError, UnicodeDecodeError) as exc:
                raise click.UsageError(f"{p}: {getattr(exc, 'strerror', None) or exc}") from None
    if not out:
        raise click.UsageError("no manifest files given (use -f FILE, -f DIR or -f -)")
    return out


def report(status: int, body: Any, verb: str) -> None:
    if not isinstance(body, dict) or "findings" not in body:
        raise click.ClickException(f"the control plane answered {status}: {body}")
    for f in body["findings"]:
        severity = Severity.parse(f["severity"])
        name, where, about = f.get("name") or "", f.get("location"), f.get("object")
        line = finding_line(f["code"], name, severity, f["message"], where, about, color=True)
        click.echo(line, err=severity == Severity.ERROR)  # click drops the colours when not on a terminal
    if not body["ok"]:
        click.echo(f"rejected: nothing was {verb} (fix the errors above)", err=True)
        sys.exit(1)
    done = body.get("applied" if verb == "applied" else "deleted") or []
    suffix = " (dry run)" if body.get("dry_run") else f" at revision {body.get('revision')}"
    for name in done:
        click.echo(f"{name} {verb}{suffix}")
    for name in body.get("unchanged") or []:
        click.echo(f"{name} unchanged")
    if not done and not body.get("unchanged"):
        click.echo(f"nothing {verb}")


def _files(f: Any) -> Any:
    return click.option(
        "-f",
        "--filename",
        "files",
        multiple=True,
        required=True,
        metavar="FILE|DIR|-",
        help="manifest file, directory (recursive) or - for stdin; repeatable",
    )(f)


@click.command()
@_files
@click.option("--dry-run", is_flag=True, help="check only; change nothing")
@mesh_option
def apply(files: tuple[str, ...], dry_run: bool, mesh: str | None) -> None:
    """Apply SMI manifests (all or nothing)."""
    client = MeshClient.from_context(mesh)
    status, body = client.call("/api/apply", {"manifests": read_inputs(files), "dryRun": dry_run})
    report(status, body, "applied")


@click.command()
@_files
@click.option("--ignore-not-found", is_flag=True, help="objects that do not exist are not an error")
@click.option("--dry-run", is_flag=True, help="check only; change nothing")
@mesh_option
def delete(files: tuple[str, ...], ignore_not_found: bool, dry_run: bool, mesh: str | None) -> None:
    """Delete the objects the manifests name (all or nothing)."""
    client = MeshClient.from_context(mesh)
    status, body = client.call(
        "/api/delete",
        {"manifests": read_inputs(files), "dryRun": dry_run, "ignoreNotFound": ignore_not_found},
    )
    report(status, body, "deleted")
