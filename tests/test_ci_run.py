""".ci/run deletes the kind cluster however it ends, a creation that fails halfway included (issue 14).

The real script runs in a copy of the repository's layout where ``make``, ``ci/kind/up.sh`` and
``ci/kind/down.sh`` are stand-ins that log what they are asked to do: the shared cluster is never touched.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO_ROOT

UP = """\
#!/usr/bin/env bash
echo up >> "$CI_LOG"
echo half-created >> "$CI_LOG"
if [[ "${UP:-}" == fail ]]; then exit 1; fi
if [[ "${UP:-}" == hang ]]; then sleep 60; fi
echo /tmp/kubeconfig
"""
DOWN = """\
#!/usr/bin/env bash
echo down >> "$CI_LOG"
"""
TRAEFIK = """\
#!/usr/bin/env bash
echo "traefik $*" >> "$CI_LOG.traefik"
if [[ "${TRAEFIK:-}" == fail ]]; then echo "no toolchain"; exit 1; fi
if [[ "${TRAEFIK:-}" == hang ]]; then sleep 60; fi
"""
MAKE = """\
#!/usr/bin/env bash
echo "make $* CI=${CI:-} SMI_KIND=${SMI_KIND:-} SMI_KIND_KUBECONFIG=${SMI_KIND_KUBECONFIG:-}" >> "$CI_LOG"
if [[ "$1" == "${MAKE_FAILS:-}" ]]; then exit 2; fi
"""


def _layout(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    (tmp_path / ".ci").mkdir()
    shutil.copy2(REPO_ROOT / ".ci" / "run", tmp_path / ".ci" / "run")
    stand_ins = (("ci/kind/up.sh", UP), ("ci/kind/down.sh", DOWN), ("ci/traefik-mesh/build.sh", TRAEFIK))
    for path, text in (*stand_ins, ("bin/make", MAKE)):
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(0o755)
    log = tmp_path / "ci.log"
    # the run's own environment only: a CI job runs this file with SMI_KIND set for the real cluster, and
    # with CI=true, which .ci/run must set itself (tests that CI must run fail instead of skipping under it)
    outer = {k: v for k, v in os.environ.items() if not k.startswith("SMI_") and k != "CI"}
    env = {**outer, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "CI_LOG": str(log)}
    return log, env


def _run(tmp_path: Path, **extra: str) -> tuple[int, list[str]]:
    log, env = _layout(tmp_path)
    done = subprocess.run([str(tmp_path / ".ci" / "run")], env={**env, **extra}, timeout=60, check=False)
    return done.returncode, log.read_text().splitlines()


def test_a_passing_run_tests_on_the_cluster_then_deletes_it(tmp_path: Path) -> None:
    code, log = _run(tmp_path)
    assert code == 0
    assert log == [
        "make setup CI=true SMI_KIND= SMI_KIND_KUBECONFIG=",
        "up",
        "half-created",
        "make test CI=true SMI_KIND=1 SMI_KIND_KUBECONFIG=/tmp/kubeconfig",
        "make lint CI=true SMI_KIND= SMI_KIND_KUBECONFIG=",
        "down",
    ]


def test_a_cluster_creation_that_fails_halfway_is_deleted(tmp_path: Path) -> None:
    code, log = _run(tmp_path, UP="fail")
    assert code == 1
    assert log == ["make setup CI=true SMI_KIND= SMI_KIND_KUBECONFIG=", "up", "half-created", "down"]


def test_failing_tests_fail_the_run_and_still_delete_the_cluster(tmp_path: Path) -> None:
    code, log = _run(tmp_path, MAKE_FAILS="test")
    assert code == 2  # make's own status, not the clean-up's
    assert log[-2:] == ["make test CI=true SMI_KIND=1 SMI_KIND_KUBECONFIG=/tmp/kubeconfig", "down"]


@pytest.mark.timeout(60)
def test_a_run_stopped_while_the_cluster_is_being_created_deletes_it(tmp_path: Path) -> None:
    """A CI time-out sends SIGTERM to the job's process group while up.sh is still at work."""
    log, env = _layout(tmp_path)
    run = [str(tmp_path / ".ci" / "run")]
    proc = subprocess.Popen(run, env={**env, "UP": "hang", "TRAEFIK": "hang"}, start_new_session=True)
    try:
        for _ in range(500):  # until the cluster is half there (bounded: 50 s at most)
            if log.exists() and "half-created" in log.read_text():
                break
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) != 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert log.read_text().splitlines()[-2:] == ["half-created", "down"]
    left = [
        p
        for p in psutil.process_iter(["cmdline", "cwd"])
        if "ci/traefik-mesh/build.sh" in (p.info["cmdline"] or []) and p.info["cwd"] == str(tmp_path)
    ]
    assert left == [], "the Traefik Mesh build (its own process group) outlived the run"


def test_traefik_mesh_binaries_build_beside_the_cluster_and_a_failure_fails_the_run(tmp_path: Path) -> None:
    code, log = _run(tmp_path)
    assert code == 0
    assert (tmp_path / "ci.log.traefik").read_text().splitlines() == ["traefik --binaries"]
    (tmp_path / "failing").mkdir()
    code, log = _run(tmp_path / "failing", TRAEFIK="fail")
    assert code == 1
    assert (
        "make test SMI_KIND=1 SMI_KIND_KUBECONFIG=/tmp/kubeconfig" not in log
    )  # no tests without Traefik Mesh
    assert log[-1] == "down"
