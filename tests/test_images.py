"""The project's image (smi_conformance/images.py) without building one: its tag follows its inputs, a built
tag is reused, and failures are clear. Building and loading for real: tests/kind (fixture ``mesh_image``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from smi_conformance import images

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def tree(tmp_path: Path) -> images.ImageSource:
    """A copy of the inputs of the image: pyproject, README, the two packages, the rootfs script."""
    root = tmp_path / "src"
    root.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, root / name)
    (root / "ci" / "kind").mkdir(parents=True)
    for name in ("build-rootfs.sh", "lib.sh"):
        shutil.copy2(REPO_ROOT / "ci" / "kind" / name, root / "ci" / "kind" / name)
    for package in images.PACKAGES:
        shutil.copytree(REPO_ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    return images.ImageSource(root)


def test_the_tag_changes_with_any_input_and_only_then(tree: images.ImageSource) -> None:
    first = images.inputs_hash(tree)
    assert images.inputs_hash(tree) == first
    cache = tree.root / "reference_mesh" / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "x.cpython-311.pyc").write_bytes(b"compiled")
    assert images.inputs_hash(tree) == first  # byte code is not an input
    module = tree.root / "reference_mesh" / "kube" / "names.py"
    module.write_text(module.read_text() + "\n# changed\n")
    changed = images.inputs_hash(tree)
    assert changed != first
    (tree.root / "smi_conformance" / "new_module.py").write_text("X = 1\n")
    assert images.inputs_hash(tree) not in (first, changed)  # a new file too
    assert images.inputs_hash(tree, packages=("python3",)) != images.inputs_hash(
        tree
    )  # and the base's packages


def test_the_source_tree_is_found_from_inside_it(tree: images.ImageSource) -> None:
    assert images.find_source(tree.root / "reference_mesh" / "kube") == tree
    with pytest.raises(images.ImageBuildError, match="source tree"):
        images.find_source(tree.root.parent)
    assert (
        images.image_name(images.find_source())
        == f"{images.IMAGE_REPOSITORY}:{images.inputs_hash(images.find_source())}"
    )


def _fake_docker(directory: Path, inspect_exit: int) -> Path:
    """A docker stand-in that logs its arguments; ``image inspect`` exits with ``inspect_exit``."""
    log = directory / "docker.log"
    script = directory / "docker"
    script.write_text(
        f'#!/bin/sh\necho "$*" >> {log}\n[ "$1 $2" = "image inspect" ] && exit {inspect_exit}\nexit 0\n'
    )
    script.chmod(0o755)
    return log


def test_an_image_already_built_is_reused_without_building(
    tree: images.ImageSource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _fake_docker(tmp_path, 0)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    name = images.build_image(tree, quiet=True)
    assert name == f"{images.IMAGE_REPOSITORY}:{images.inputs_hash(tree)}"
    assert log.read_text().splitlines() == [f"image inspect {name}"]


def test_without_docker_the_error_says_so(
    tree: images.ImageSource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(images.ImageBuildError, match="docker not found"):
        images.build_image(tree, quiet=True)


def test_the_command_line_prints_the_name_and_reports_failures(tmp_path: Path) -> None:
    named = subprocess.run(
        [sys.executable, "-m", "smi_conformance.cli_conformance", "images", "build", "--name-only"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert named.returncode == 0 and named.stdout.strip() == images.image_name()
    no_docker = subprocess.run(
        [sys.executable, "-m", "smi_conformance.cli_conformance", "images", "build"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": str(tmp_path)},
    )
    assert (
        no_docker.returncode == 1
        and "docker not found" in no_docker.stderr
        and "Traceback" not in no_docker.stderr
    )
