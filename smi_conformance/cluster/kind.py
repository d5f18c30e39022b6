"""Create, reuse and delete kind clusters, and hand back a kubeconfig path.

The conformance suite's kind backend and the project's own cluster tests use this module; `.ci/run` and
developers use its command line (``python -m smi_conformance.cluster.kind create``). It drives the
``kind`` CLI and never edits the user's ``~/.kube/config``: every cluster gets a kubeconfig file of its own.

The node image is the only thing that differs between machines: kind's stock ``kindest/node`` where a
container registry is reachable, or the image ``ci/kind/build-node-image.sh`` builds from Debian packages and
the Go module proxy (pass it as ``image=`` or ``$SMI_KIND_IMAGE``).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import click

DEFAULT_NAME = "smi-kind"


def cache_dir() -> Path:
    """Where ci/kind/ caches what it builds (the kind binary among it): the same rule as ci/kind/lib.sh."""
    if os.environ.get("SMI_KIND_CACHE"):
        return Path(os.environ["SMI_KIND_CACHE"])
    if os.geteuid() == 0:
        return Path("/var/cache/smi-kind")
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "smi-kind"


class KindError(RuntimeError):
    """kind is missing, or a kind command failed; the message says which and what it printed."""


@dataclass(frozen=True)
class KindCluster:
    """A running kind cluster and the kubeconfig file that reaches it."""

    name: str
    kubeconfig: Path


def kind_binary() -> str:
    """The kind CLI: ``$SMI_KIND_BIN``, else ``kind`` on PATH, else the one ci/kind/install-kind.sh built."""
    explicit = os.environ.get("SMI_KIND_BIN")
    if explicit:
        return explicit
    built = cache_dir() / "bin" / "kind"
    found = shutil.which("kind") or (str(built) if built.exists() else None)
    if not found:
        raise KindError(
            "kind not found: install it (ci/kind/install-kind.sh, or go install sigs.k8s.io/kind@v0.33.0)"
        )
    return found


def default_kubeconfig(name: str) -> Path:
    """``$XDG_CACHE_HOME/smi-conformance/kind/<name>.kubeconfig`` (``~/.cache/...`` by default)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "smi-conformance" / "kind" / f"{name}.kubeconfig"


def cluster_config(workers: int = 1) -> str:
    """The kind ``Cluster`` config: one control-plane node and ``workers`` worker nodes."""
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    nodes = "\n".join(["  - role: control-plane", *["  - role: worker"] * workers])
    return f"kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n{nodes}\n"


def _run(args: Sequence[str], *, stdin: str | None = None, timeout: float = 900) -> str:
    """Run a kind command; on failure raise KindError carrying the tail of its output."""
    cmd = [kind_binary(), *args]
    try:
        proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise KindError(f"{' '.join(cmd)} did not finish within {timeout:.0f} s") from exc
    except OSError as exc:
        raise KindError(f"cannot run {cmd[0]}: {exc}") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise KindError(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def clusters() -> list[str]:
    """Names of the kind clusters that exist on this Docker engine."""
    return [line for line in _run(["get", "clusters"], timeout=60).splitlines() if line.strip()]


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) across processes: pytest-xdist workers share
    one cluster, so creating it, deleting it or loading an image into it must happen once at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def create_cluster(
    name: str = DEFAULT_NAME,
    *,
    image: str | None = None,
    workers: int = 1,
    kubeconfig: Path | None = None,
    recreate: bool = False,
    wait: str = "300s",
) -> KindCluster:
    """Create the cluster, or reuse it if one of that name exists (unless ``recreate``).

    ``image`` defaults to ``$SMI_KIND_IMAGE``, else kind's own default node image. Returns once every node is
    Ready (kind ``--wait``). A reused cluster keeps the image and node count it was created with.
    """
    kubeconfig = kubeconfig or default_kubeconfig(name)
    image = image or os.environ.get("SMI_KIND_IMAGE") or None
    with exclusive(kubeconfig.with_suffix(".lock")):
        if name in clusters():
            if not recreate:
                kubeconfig.write_text(_run(["get", "kubeconfig", "--name", name], timeout=60))
                return KindCluster(name, kubeconfig)
            _run(["delete", "cluster", "--name", name, "--kubeconfig", str(kubeconfig)], timeout=300)
        args = [
            "create",
            "cluster",
            "--name",
            name,
            "--kubeconfig",
            str(kubeconfig),
            "--wait",
            wait,
            "--config",
            "-",
        ]
        if image:
            args += ["--image", image]
        try:
            _run(args, stdin=cluster_config(workers))
        except KindError as exc:
            raise KindError(f"{exc}\nlogs: {kind_binary()} export logs --name {name}") from exc
    return KindCluster(name, kubeconfig)


def delete_cluster(name: str = DEFAULT_NAME, *, kubeconfig: Path | None = None) -> None:
    """Delete the cluster (nothing happens if it does not exist) and its kubeconfig file."""
    kubeconfig = kubeconfig or default_kubeconfig(name)
    with exclusive(kubeconfig.with_suffix(".lock")):
        _run(["delete", "cluster", "--name", name, "--kubeconfig", str(kubeconfig)], timeout=300)
        kubeconfig.unlink(missing_ok=True)


def load_image(image: str, name: str = DEFAULT_NAME) -> None:
    """Copy a locally built Docker image into every node of the cluster (for ``imagePullPolicy: Never``)."""
    _run(["load", "docker-image", image, "--name", name], timeout=600)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Create and delete the kind clusters smi-conformance tests run on."""


@main.command()
@click.option("--name", default=DEFAULT_NAME, show_default=True, help="Cluster name.")
@click.option("--image", default=None, help="Node image (default: $SMI_KIND_IMAGE, else kind's default).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=0), help="Worker nodes.")
@click.option(
    "--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), help="Where to write the kubeconfig."
)
@click.option("--recreate", is_flag=True, help="Delete an existing cluster of that name first.")
def create(name: str, image: str | None, workers: int, kubeconfig: Path | None, recreate: bool) -> None:
    """Create (or reuse) a cluster and print its kubeconfig path."""
    try:
        cluster = create_cluster(name, image=image, workers=workers, kubeconfig=kubeconfig, recreate=recreate)
    except KindError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(str(cluster.kubeconfig))


@main.command()
@click.option("--name", default=DEFAULT_NAME, show_default=True, help="Cluster name.")
@click.option(
    "--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), help="The cluster's kubeconfig."
)
def delete(name: str, kubeconfig: Path | None) -> None:
    """Delete a cluster and its kubeconfig file."""
    try:
        delete_cluster(name, kubeconfig=kubeconfig)
    except KindError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.argument("image")
@click.option("--name", default=DEFAULT_NAME, show_default=True, help="Cluster name.")
def load(image: str, name: str) -> None:
    """Load a local Docker image into every node."""
    try:
        load_image(image, name)
    except KindError as exc:
        raise click.ClickException(str(exc)) from exc


if __name__ == "__main__":
    main()
