"""The parts of the kind set-up that run without a cluster: the kind helper's logic (against a stand-in
kind CLI; the real one is exercised by tests/kind) and the runc wrapper that makes `docker run --privileged`
work on hosts with a short capability bounding set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from smi_conformance.cluster import kind

REPO_ROOT = Path(__file__).resolve().parent.parent
RUNC_CAPS = REPO_ROOT / "ci" / "kind" / "docker" / "runc-caps"


def test_cluster_config_has_one_control_plane_and_the_workers() -> None:
    config = yaml.load(kind.cluster_config(workers=2), Loader=yaml.CSafeLoader)
    assert config["kind"] == "Cluster" and config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert [n["role"] for n in config["nodes"]] == ["control-plane", "worker", "worker"]
    with pytest.raises(ValueError, match="workers"):
        kind.cluster_config(workers=-1)


@pytest.fixture
def fake_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in kind CLI that logs its arguments; `get clusters` lists $FAKE_KIND_CLUSTERS."""
    log = tmp_path / "calls.log"
    script = tmp_path / "kind"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {log}\n'
        'case "$1 $2" in\n'
        '  "get clusters") printf "%s\\n" $FAKE_KIND_CLUSTERS ;;\n'
        '  "get kubeconfig") echo "apiVersion: v1" ;;\n'
        '  "create cluster") cat > /dev/null\n'
        '    [ -z "$FAKE_KIND_FAIL" ] || { echo "ERROR: boom" >&2; exit 1; } ;;\n'
        "esac\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("SMI_KIND_BIN", str(script))
    monkeypatch.setenv("FAKE_KIND_CLUSTERS", "")
    monkeypatch.delenv("SMI_KIND_IMAGE", raising=False)
    return log


def test_create_passes_image_and_config_and_returns_kubeconfig(fake_kind: Path, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc" / "x.kubeconfig"
    cluster = kind.create_cluster("x", image="smi-kind/node:v1", kubeconfig=kubeconfig)
    assert cluster == kind.KindCluster("x", kubeconfig)
    create = [c for c in fake_kind.read_text().splitlines() if c.startswith("create")]
    assert create == [
        f"create cluster --name x --kubeconfig {kubeconfig} --wait 300s --config - --image smi-kind/node:v1"
    ]


def test_existing_cluster_is_reused_not_recreated(
    fake_kind: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_KIND_CLUSTERS", "other x")
    kubeconfig = tmp_path / "x.kubeconfig"
    kind.create_cluster("x", kubeconfig=kubeconfig)
    calls = fake_kind.read_text().splitlines()
    assert not any(c.startswith("create") for c in calls)
    assert kubeconfig.read_text().strip() == "apiVersion: v1"


def test_failed_create_raises_with_output_and_log_hint(
    fake_kind: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_KIND_FAIL", "1")
    with pytest.raises(kind.KindError, match=r"(?s)exit 1.*ERROR: boom.*export logs --name x"):
        kind.create_cluster("x", kubeconfig=tmp_path / "x.kubeconfig")


def test_missing_kind_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SMI_KIND_BIN", str(tmp_path / "no-such-kind"))
    with pytest.raises(kind.KindError, match="cannot run"):
        kind.clusters()


ALL_CAPS = [
    "CAP_CHOWN",
    "CAP_NET_ADMIN",
    "CAP_SYS_ADMIN",
    "CAP_SYS_RESOURCE",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
]


def _bounding_set() -> set[str]:
    status = Path("/proc/self/status").read_text().splitlines()
    mask = int(next(line for line in status if line.startswith("CapBnd:")).split()[1], 16)
    bits = {
        "CAP_CHOWN": 0,
        "CAP_NET_ADMIN": 12,
        "CAP_SYS_ADMIN": 21,
        "CAP_SYS_RESOURCE": 24,
        "CAP_BPF": 39,
        "CAP_CHECKPOINT_RESTORE": 40,
    }
    return {name for name, bit in bits.items() if mask >> bit & 1}


def _run_wrapper(tmp_path: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    fake_runc = tmp_path / "runc"
    fake_runc.write_text('#!/bin/sh\necho "runc $*"\n')
    fake_runc.chmod(0o755)
    env = {**os.environ, "SMI_REAL_RUNC": str(fake_runc)}
    return subprocess.run(
        [sys.executable, str(RUNC_CAPS), *args], env=env, capture_output=True, text=True, check=True
    )


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_runc_caps_drops_capabilities_outside_the_bounding_set_on_create(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    caps = {k: list(ALL_CAPS) for k in ("bounding", "effective", "permitted")}
    (bundle / "config.json").write_text(
        json.dumps({"ociVersion": "1.0.2", "process": {"capabilities": caps}})
    )
    args = ["--root", "/run/x", "--log-format", "json", "create", "--bundle", str(bundle), "ctr-id"]
    proc = _run_wrapper(tmp_path, args)
    assert proc.stdout.strip() == "runc " + " ".join(args)  # arguments pass through unchanged
    spec = json.loads((bundle / "config.json").read_text())
    expected = [c for c in ALL_CAPS if c in _bounding_set()]
    assert spec["process"]["capabilities"] == {k: expected for k in caps}
    assert spec["ociVersion"] == "1.0.2"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_runc_caps_filters_the_exec_process_file(tmp_path: Path) -> None:
    process = tmp_path / "process.json"
    process.write_text(json.dumps({"args": ["sh"], "capabilities": {"bounding": list(ALL_CAPS)}}))
    _run_wrapper(tmp_path, ["exec", "--process", str(process), "--detach", "ctr-id"])
    filtered = json.loads(process.read_text())
    assert filtered["capabilities"]["bounding"] == [c for c in ALL_CAPS if c in _bounding_set()]
    assert filtered["args"] == ["sh"]
