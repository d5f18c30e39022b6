"""``make run``, the README's main job: ``smi lint examples/`` then ``reference-mesh demo`` on the example
topology, as a user runs them (real processes), ending with the verdict and exit code 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]


def test_the_demo_tours_the_mesh_and_passes(tmp_path: Path) -> None:
    env = {**os.environ, "REFERENCE_MESH_HOME": str(tmp_path), "COLUMNS": "200"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "reference_mesh.cli",
            "demo",
            str(REPO / "examples/mesh/bookstore-topology.yaml"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "demo passed" in out and "Traceback" not in out + result.stderr
    assert "bookthief -> bookstore /books-bought x20: {'403': 20}" in out  # deny by default
    assert "hello over tcp" in out and "hello over udp" in out
    for section in (
        "reference-mesh check",
        "reference-mesh top",
        "reference-mesh routes",
        "Traffic Metrics API",
    ):
        assert section in out, section
    assert "bookstore-service-routes/books-bought" in out and "[default]" in out
    assert "kind: TrafficMetricsList" in out and "stopped cleanly" in out


def test_the_examples_lint_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "smi_conformance", "lint", str(REPO / "examples")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ctrl_c_during_the_demo_stops_everything_quietly(tmp_path: Path) -> None:
    env = {**os.environ, "REFERENCE_MESH_HOME": str(tmp_path)}
    argv = [
        sys.executable,
        "-m",
        "reference_mesh.cli",
        "demo",
        str(REPO / "examples/mesh/bookstore-topology.yaml"),
    ]
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        deadline = time.monotonic() + 30
        children: list[psutil.Process] = []
        while len(children) < 2 and time.monotonic() < deadline:  # starting: some pods are up
            time.sleep(0.05)
            children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=60)
        finally:
            proc.kill()
    assert proc.returncode == 1 and "Aborted!" in out, out  # click's answer to Ctrl-C
    assert "Traceback" not in out and "destroyed but it is pending" not in out, out
    _, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, alive
