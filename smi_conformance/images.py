"""Container images built on this machine, without a registry: ``smi-conformance images build|load``.

One image holds every entry point the project runs in a cluster: the reference mesh's control plane, its
sidecar proxy and the init step that sets up traffic interception (``reference-mesh`` and ``python -m
reference_mesh.kube...``), and the conformance suite's workloads (``python -m smi_conformance.workload.echo``,
the traffic driver). Why one: Python and the project's dependencies are 95% of every image, and ``docker
import`` images have a single layer that nothing shares, so separate images would copy the same 150 MB into
every node once per image; one image is built once and loaded once.

How it is built (every step cached, so an unchanged tree costs one ``docker image inspect``):

1. a Debian root filesystem with Python and iptables, from Debian packages (``ci/kind/build-rootfs.sh``,
   debootstrap, as the kind node image), imported as the base image ``smi-conformance/python-base:<key>``;
2. the project and its dependencies as wheels built on the host (``pip wheel``; the dependencies' wheels are
   cached by the dependency list, the project's own wheel is rebuilt when its sources change);
3. a container of the base image installs the wheels into a virtual environment (``/opt/smi``, with no index:
   only the wheels given), and is committed as ``smi-conformance/mesh:<hash of every input>``.

The tag is the hash of the inputs (package list, build scripts, ``pyproject.toml``, every file of the two
packages), so the same tree always names the same image, and a user with a registry can push it under that
name (``docker tag`` / ``docker push``) and point ``reference-mesh install --image`` at it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from smi_conformance.cluster.kind import DEFAULT_NAME, KindError, cache_dir, load_image

__all__ = [
    "BASE_PACKAGES",
    "IMAGE_REPOSITORY",
    "ImageBuildError",
    "ImageSource",
    "build_image",
    "find_source",
    "image_name",
    "images",
    "inputs_hash",
]

IMAGE_REPOSITORY = "smi-conformance/mesh"
BASE_REPOSITORY = "smi-conformance/python-base"
#: Debian packages of the base: Python (with venv, for an isolated install), iptables for the interception
#: init step (iptables-nft and iptables-legacy both come with it), CA certificates.
BASE_PACKAGES = ("python3", "python3-venv", "iptables", "ca-certificates", "netbase")
#: Where the project is installed in the image (its bin/ is first on PATH).
VENV = "/opt/smi"
PACKAGES = ("smi_conformance", "reference_mesh")
_SKIP_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}


class ImageBuildError(RuntimeError):
    """A build step failed; the message names the step and ends with what it printed."""


@dataclass(frozen=True)
class ImageSource:
    """A source tree of the project: what an image is built from."""

    root: Path

    @property
    def rootfs_script(self) -> Path:
        return self.root / "ci" / "kind" / "build-rootfs.sh"

    def input_files(self) -> list[Path]:
        """Every file whose content goes into the image, in a stable order."""
        files = [self.root / "pyproject.toml", self.root / "README.md", Path(__file__).resolve()]
        files += [self.rootfs_script, self.root / "ci" / "kind" / "lib.sh"]
        for package in PACKAGES:
            for dirpath, dirnames, filenames in os.walk(self.root / package):
                dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
                files += [Path(dirpath) / f for f in sorted(filenames) if not f.endswith((".pyc", ".pyo"))]
        return files


def find_source(start: Path | None = None) -> ImageSource:
    """The project tree this module belongs to (an editable install or a checkout), or the one holding
    ``start``; images are built from a source tree, not from an installed wheel."""
    candidates = [start] if start is not None else [Path(__file__).resolve().parents[1], Path.cwd()]
    for candidate in candidates:
        for root in (candidate, *candidate.parents):
            if (root / "pyproject.toml").is_file() and (root / "ci" / "kind" / "build-rootfs.sh").is_file():
                return ImageSource(root)
    raise ImageBuildError(
        "no smi-conformance source tree found (images are built from a checkout: run this from one)"
    )


def _digest(parts: Iterable[bytes]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()[:12]


def inputs_hash(source: ImageSource, packages: Sequence[str] = BASE_PACKAGES) -> str:
    """The hash that tags the image: the base's package list and every input file, by path and content."""
    parts = [" ".join(sorted(packages)).encode()]
    for path in source.input_files():
        relative = path.relative_to(source.root) if path.is_relative_to(source.root) else Path(path.name)
        parts += [str(relative).encode(), path.read_bytes()]
    return _digest(parts)


def image_name(source: ImageSource | None = None) -> str:
    """The name of the image for this source tree (built or not)."""
    return f"{IMAGE_REPOSITORY}:{inputs_hash(source or find_source())}"


# ---------------------------------------------------------------------------------------------------- steps
def _run(step: str, args: Sequence[str], *, timeout: float, **kwargs: object) -> str:
    """Run a build command; on failure raise ImageBuildError with the tail of its output."""
    try:
        proc = subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **kwargs,  # type: ignore[call-overload]
        )
    except subprocess.TimeoutExpired as exc:
        raise ImageBuildError(f"{step}: did not finish within {timeout:.0f} s") from exc
    except OSError as exc:
        raise ImageBuildError(f"{step}: cannot run {args[0]}: {exc}") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
        raise ImageBuildError(f"{step} failed (exit {proc.returncode}):\n{tail}")
    return str(proc.stdout)


def _docker() -> str:
    docker = shutil.which("docker")
    if docker is None:
        raise ImageBuildError("docker not found: images are built and loaded with a local Docker engine")
    return docker


def _image_exists(docker: str, name: str) -> bool:
    return (
        subprocess.run(
            [docker, "image", "inspect", name], capture_output=True, timeout=60, check=False
        ).returncode
        == 0
    )


def _base_image(source: ImageSource, docker: str, packages: Sequence[str], log: _Log) -> str:
    """The Debian + Python base, imported from the cached root filesystem tarball."""
    tarball = Path(
        _run(
            "debootstrap of the base root filesystem",
            ["bash", str(source.rootfs_script), "python", *packages],
            timeout=1800,
        )
        .strip()
        .splitlines()[-1]
    )
    name = f"{BASE_REPOSITORY}:{tarball.stem.rsplit('-', 1)[-1]}"
    if not _image_exists(docker, name):
        log(f"importing {tarball.name} as {name}")
        with tarball.open("rb") as data:
            _run("docker import of the base", [docker, "import", "-", name], timeout=600, stdin=data)
    return name


def _dependencies(source: ImageSource) -> list[str]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
    with (source.root / "pyproject.toml").open("rb") as fh:
        project = tomllib.load(fh)["project"]
    return [str(d) for d in project.get("dependencies", [])]


def _dependency_wheels(source: ImageSource, log: _Log) -> Path:
    """Wheels of every runtime dependency, cached by the dependency list and the host's Python version."""
    deps = _dependencies(source)
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    key = _digest([tag.encode(), *(d.encode() for d in sorted(deps))])
    wheels = cache_dir() / "wheels" / f"deps-{tag}-{key}"
    if (wheels / "complete").is_file():
        return wheels
    log(f"building dependency wheels ({len(deps)} requirements) into {wheels}")
    shutil.rmtree(wheels, ignore_errors=True)
    wheels.mkdir(parents=True)
    _run(
        "pip wheel (dependencies)",
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(wheels), *deps],
        timeout=1800,
    )
    (wheels / "complete").write_text("\n".join(deps) + "\n")
    return wheels


def _project_wheel(source: ImageSource, into: Path) -> Path:
    _run(
        "pip wheel (the project)",
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", str(into), str(source.root)],
        timeout=600,
    )
    built = sorted(into.glob("smi_conformance-*.whl"))
    if not built:
        raise ImageBuildError(f"pip wheel wrote no smi_conformance wheel into {into}")
    return built[-1]


class _Log:
    def __init__(self, quiet: bool) -> None:
        self.quiet, self.started = quiet, time.monotonic()

    def __call__(self, message: str) -> None:
        if not self.quiet:
            click.echo(f"[{time.monotonic() - self.started:6.1f} s] {message}", err=True)


def build_image(
    source: ImageSource | None = None,
    *,
    packages: Sequence[str] = BASE_PACKAGES,
    quiet: bool = False,
) -> str:
    """Build the image for ``source`` unless an image of that name exists; return its name."""
    source = source or find_source()
    docker = _docker()
    name = f"{IMAGE_REPOSITORY}:{inputs_hash(source, packages)}"
    log = _Log(quiet)
    if _image_exists(docker, name):
        log(f"{name} is already built")
        return name
    base = _base_image(source, docker, packages, log)
    deps = _dependency_wheels(source, log)
    container = f"smi-image-build-{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="smi-image-") as tmp:
        log("building the project wheel")
        wheel = _project_wheel(source, Path(tmp))
        os.chmod(tmp, 0o755)
        install = (
            f"set -e; python3 -m venv {VENV}; "
            f"{VENV}/bin/pip install -q --no-index --no-cache-dir --find-links /deps /wheels/{wheel.name}; "
            f"{VENV}/bin/reference-mesh --help >/dev/null; {VENV}/bin/smi --version >/dev/null; "
            f"{VENV}/bin/python -m pip uninstall -q -y pip setuptools; rm -rf /root/.cache"
        )
        log(f"installing {wheel.name} and its dependencies into {base}")
        try:
            _run(
                "installing the wheels in the image",
                [
                    docker,
                    "run",
                    "--name",
                    container,
                    "-v",
                    f"{tmp}:/wheels:ro",
                    "-v",
                    f"{deps}:/deps:ro",
                    base,
                    "/bin/sh",
                    "-c",
                    install,
                ],
                timeout=900,
            )
            _run(
                "docker commit",
                [
                    docker,
                    "commit",
                    "--change",
                    f"ENV PATH={VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "--change",
                    "ENV PYTHONUNBUFFERED=1",
                    "--change",
                    'CMD ["reference-mesh", "--help"]',
                    container,
                    name,
                ],
                timeout=600,
            )
        finally:
            subprocess.run([docker, "rm", "-f", container], capture_output=True, timeout=120, check=False)
    _prune(docker, name)
    size = _run("docker image inspect", [docker, "image", "inspect", "-f", "{{.Size}}", name], timeout=60)
    log(f"built {name} ({int(size) / 1e6:.0f} MB)")
    return name


def _prune(docker: str, keep: str) -> None:
    """Older builds of the image go (unless a container uses them), so the disk stays bounded."""
    listed = subprocess.run(
        [docker, "image", "ls", IMAGE_REPOSITORY, "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    ).stdout.split()
    old = [n for n in listed if n != keep]
    if old:
        subprocess.run([docker, "rmi", *old], capture_output=True, timeout=300, check=False)


# ------------------------------------------------------------------------------------------------------ CLI
@click.group()
def images() -> None:
    """Build the project's container image here (no registry) and load it into kind clusters."""


@images.command()
@click.option("--name-only", is_flag=True, help="Print the image name for this tree; build nothing.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the image name.")
def build(name_only: bool, quiet: bool) -> None:
    """Build the image (skipped when one with this tree's tag exists) and print its name."""
    try:
        click.echo(image_name() if name_only else build_image(quiet=quiet))
    except ImageBuildError as exc:
        raise click.ClickException(str(exc)) from exc


@images.command()
@click.option("--cluster", default=DEFAULT_NAME, show_default=True, help="The kind cluster's name.")
@click.option("--image", default=None, help="Image to load (default: this tree's, built first if needed).")
def load(cluster: str, image: str | None) -> None:
    """Load the image into every node of a kind cluster (pods then use it with imagePullPolicy: Never)."""
    try:
        image = image or build_image(quiet=True)
        load_image(image, cluster)
    except (ImageBuildError, KindError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(image)
