"""The CLI against a real `reference-mesh up` process: apply errors with locations and exit codes, check, get,
and a clean shutdown on SIGINT and SIGTERM (no child process, no listening socket left)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
TOPOLOGY = REPO / "examples" / "mesh" / "bookstore-topology.yaml"


def cli(home: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REFERENCE_MESH_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "reference_mesh.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        input=input,
        timeout=60,
    )


def start_up(home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "REFERENCE_MESH_HOME": str(home), "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "reference_mesh.cli", "up", str(TOPOLOGY)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    state = home / "bookstore" / "state.json"
    while not state.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            out = proc.stdout.read() if proc.stdout else ""
            proc.kill()
            raise AssertionError(f"up did not start: {out}")
        time.sleep(0.05)
    return proc


def mesh_sockets(prefix: str) -> list[str]:
    return [
        f"{c.laddr.ip}:{c.laddr.port}"
        for c in psutil.net_connections("inet")
        if c.laddr and c.laddr.ip.startswith(prefix) and c.status in (psutil.CONN_LISTEN, psutil.CONN_NONE)
    ]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    home = tmp_path_factory.mktemp("cli-home")
    proc = start_up(home)
    yield home, proc
    proc.terminate()
    proc.communicate(timeout=30)


def test_apply_rejects_with_location_and_code(
    running: tuple[Path, subprocess.Popen[str]], tmp_path: Path
) -> None:
    home, _ = running
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: split.smi-spec.io/v1alpha4\nkind: TrafficSplit\nmetadata: {name: x}\n"
        "spec:\n  service: bookstore\n  backends:\n  - service: bookstore-v1\n    weight: 1.5\n"
    )
    result = cli(home, "apply", "-f", str(bad))
    assert result.returncode == 1
    assert (
        f"{bad}:8:13: SMI202 error backend weight 1.5 is not a whole number (fractional-weight) "
        "[TrafficSplit default/x]"
    ) in result.stderr.splitlines()
    # judged together with what the mesh already holds: the example's split has the same root
    assert (
        f"{bad}:5:12: SMI206 error root service 'bookstore' is also split by TrafficSplit "
        "default/bookstore-canary in the mesh; only one of them takes effect (duplicate-split-root) "
        "[TrafficSplit default/x]"
    ) in result.stderr.splitlines()
    assert "nothing was applied" in result.stderr
    assert cli(home, "get", "trafficsplits", "-o", "json").stdout.count('"name": "x"') == 0
    syntax = cli(home, "apply", "-f", "-", input="kind: [unclosed\n")
    assert syntax.returncode == 1 and "<stdin>:2:1: SMI001 error" in syntax.stderr
    scalar = cli(home, "apply", "-f", "-", input="just text\n")
    assert scalar.returncode == 1 and "<stdin>:1:1: SMI102 error not an object" in scalar.stderr
    empty = cli(home, "apply", "-f", "-", input="# nothing\n")
    assert empty.returncode == 1 and "MESH005 error no objects in the input (no-objects)" in empty.stderr


def test_apply_prints_findings_as_smi_lint_does(
    running: tuple[Path, subprocess.Popen[str]], tmp_path: Path
) -> None:
    """One formatter: a finding the mesh and the linter agree on prints the same line from both; a missing
    reference is said to be missing from the mesh, not from "the linted files"."""
    home, _ = running
    split = tmp_path / "canary.yaml"
    split.write_text(
        "apiVersion: split.smi-spec.io/v1alpha4\nkind: TrafficSplit\nmetadata: {name: canary2}\n"
        "spec:\n  service: bookstore-v1\n  backends:\n  - service: bookstore-v3\n    weight: 1\n"
        "  - service: bookstore-v1\n    weight: 0\n"
    )
    applied = cli(home, "apply", "--dry-run", "-f", str(split))
    linted = subprocess.run(
        [sys.executable, "-m", "smi_conformance", "lint", str(split)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert applied.returncode == 0, applied.stderr
    same = (
        f"{split}:9:14: SMI205 warning backend 'bookstore-v1' is the root service of this split "
        "(backend-is-root) [TrafficSplit default/canary2]"
    )
    assert same in applied.stdout.splitlines() and same in linted.stdout.splitlines()
    assert (
        f"{split}:7:14: SMI303 warning Service default/bookstore-v3 is not in the mesh (unresolved-service) "
        "[TrafficSplit default/canary2]"
    ) in applied.stdout.splitlines()
    assert "linted files" not in applied.stdout + applied.stderr
    assert "\x1b[" not in applied.stdout  # no colour when not on a terminal


def test_apply_get_delete_roundtrip(running: tuple[Path, subprocess.Popen[str]], tmp_path: Path) -> None:
    home, _ = running
    good = tmp_path / "thief.yaml"
    good.write_text(
        "apiVersion: access.smi-spec.io/v1alpha2\nkind: TrafficTarget\nmetadata: {name: t}\n"
        "spec:\n  destination: {kind: ServiceAccount, name: bookstore}\n"
        "  sources: [{kind: ServiceAccount, name: bookthief}]\n"
        "  rules: [{kind: TCPRoute, name: bookstore-tcp}]\n"
    )
    result = cli(home, "apply", "-f", str(good))
    assert result.returncode == 0, result.stderr
    assert "TrafficTarget default/t applied at revision" in result.stdout
    objects = json.loads(cli(home, "get", "tt", "-o", "json").stdout)
    assert {o["metadata"]["name"] for o in objects} == {"t", "bookbuyer-access-bookstore"}
    assert cli(home, "delete", "-f", str(good)).returncode == 0
    missing = cli(home, "delete", "-f", str(good))
    assert missing.returncode == 1 and "MESH003" in missing.stderr
    assert cli(home, "delete", "--ignore-not-found", "-f", str(good)).returncode == 0


def test_check_and_top(running: tuple[Path, subprocess.Popen[str]]) -> None:
    home, _ = running
    result = cli(home, "check", "--wait", "10", "-o", "json")
    assert result.returncode == 0, result.stdout
    report = json.loads(result.stdout)
    assert report["healthy"] and any(c["name"].startswith("certificate ") for c in report["checks"])
    top = cli(home, "top", "-o", "json")
    assert top.returncode == 0 and isinstance(json.loads(top.stdout), list)
    routes = cli(home, "routes", "--to", "bookstore", "-o", "json")
    assert routes.returncode == 0, routes.stderr
    assert [r["route"] for r in json.loads(routes.stdout) if r["protocol"] == "http"] == [
        "bookstore-service-routes/books-bought",
        "bookstore-service-routes/buy-a-book",
        "[default]",
    ]


def test_top_and_routes_show_policy_denials_in_their_own_column(
    running: tuple[Path, subprocess.Popen[str]],
) -> None:
    """bookthief has no TrafficTarget: its requests get 403, successes for Traffic Metrics, and DENIED."""
    home, _ = running
    pods = json.loads(cli(home, "get", "pods", "-o", "json").stdout)
    thief = next(p for p in pods if p["metadata"]["name"] == "bookthief-0")["status"]["podIp"]
    for _ in range(7):
        request = urllib.request.Request(f"http://{thief}:15001/books-bought", headers={"Host": "bookstore"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        refused.value.close()
        assert refused.value.code == 403 and refused.value.headers["x-mesh-denied"] == "authorization"
    rows: list[dict[str, object]] = []
    for _ in range(100):  # until the seconds they finished in are over and in the window (bounded)
        top = json.loads(cli(home, "top", "-o", "json").stdout)
        rows = [r for r in top if r["source"] == "default/bookthief-0"]
        if sum(int(str(r["denied"])) for r in rows) == 7:
            break
        time.sleep(0.1)
    assert sum(int(str(r["denied"])) for r in rows) == 7
    assert sum(int(str(r["success"])) for r in rows) == 7 and all(r["failure"] == 0 for r in rows)
    routes = json.loads(cli(home, "routes", "--to", "bookstore", "-o", "json").stdout)
    bought = next(r for r in routes if r["route"] == "bookstore-service-routes/books-bought")
    assert bought["denied"] == 7  # bookbuyer is allowed: only bookthief's requests are denials
    table = cli(home, "top")
    assert table.returncode == 0
    header = next(line for line in table.stdout.splitlines() if "SOURCE" in line)
    assert header.index("SUCCESS") < header.index("DENIED") < header.index("RPS")
    assert "DENIED: of those, refused by policy (403)" in table.stdout


def test_top_names_the_proxies_that_did_not_answer(running: tuple[Path, subprocess.Popen[str]]) -> None:
    """A stopped sidecar cannot answer the metrics API: `top` still answers with the others' traffic and
    says whose is left out, instead of an empty table that reads as 'no traffic'."""
    home, proc = running
    [thief] = [
        p
        for p in psutil.Process(proc.pid).children(recursive=True)
        if "reference_mesh.runtime.sidecar" in p.cmdline() and "bookthief-0" in p.cmdline()
    ]
    thief.suspend()
    try:
        top = cli(home, "top", "-o", "json")
    finally:
        thief.resume()
    assert top.returncode == 0, top.stderr
    assert isinstance(json.loads(top.stdout), list)
    assert "warning: the proxies of default/bookthief-0 did not answer the metrics API in time" in top.stderr
    answered = cli(home, "top", "-o", "json")
    assert answered.returncode == 0 and "warning" not in answered.stderr, answered.stderr


def test_tap_prints_requests_as_they_happen(running: tuple[Path, subprocess.Popen[str]]) -> None:
    home, _ = running
    pods = json.loads(cli(home, "get", "pods", "-o", "json").stdout)
    buyer = next(p for p in pods if p["metadata"]["name"] == "bookbuyer-0")["status"]["podIp"]
    argv = [sys.executable, "-m", "reference_mesh.cli", "tap", "--pod", "bookbuyer-0", "--max", "2"]
    env = {**os.environ, "REFERENCE_MESH_HOME": str(home)}
    with subprocess.Popen([*argv, "-o", "json"], env=env, stdout=subprocess.PIPE, text=True) as tap:
        deadline = time.monotonic() + 30
        while tap.poll() is None and time.monotonic() < deadline:  # until it has seen two
            request = urllib.request.Request(
                f"http://{buyer}:15001/books-bought", headers={"Host": "bookstore"}
            )
            with urllib.request.urlopen(request, timeout=10) as resp:
                assert resp.status == 200
            time.sleep(0.1)
        out = tap.communicate(timeout=10)[0]
        assert tap.returncode == 0
    events = [json.loads(line) for line in out.splitlines()]
    assert len(events) == 2
    assert all(e["pod"] == "default/bookbuyer-0" and e["path"] == "/books-bought" for e in events), events


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"manifests": 5}', b'{"manifests": [{"name": 1}]}', b'{"manifests": ["x"]}'],
)
def test_admin_api_refuses_malformed_bodies(running: tuple[Path, subprocess.Popen[str]], body: bytes) -> None:
    state = json.loads((running[0] / "bookstore" / "state.json").read_text())
    request = urllib.request.Request(
        state["admin"] + "/api/apply",
        data=body,
        method="POST",
        headers={"authorization": f"Bearer {state['token']}", "content-type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 400
    assert "body must be" in json.loads(info.value.read())["error"]


def test_logs_print_what_a_pod_process_wrote(running: tuple[Path, subprocess.Popen[str]]) -> None:
    home, _ = running
    state = json.loads((home / "bookstore" / "state.json").read_text())
    logs = Path(state["run_dir"]) / "logs"
    app_log = logs / "default_bookstore-v1-0.app.log"
    sidecar_log = logs / "default_bookbuyer-0.sidecar.log"
    with app_log.open("a") as f:  # marker lines, so the test knows exactly what must come back
        f.write("marker one\nmarker two\n")
    with sidecar_log.open("a") as f:
        f.write("sidecar marker\n")
    full = cli(home, "logs", "bookstore-v1-0")  # default: the app
    assert full.returncode == 0 and full.stdout.endswith("marker one\nmarker two\n")
    assert cli(home, "logs", "bookstore-v1-0", "--tail", "1").stdout == "marker two\n"
    client_only = cli(home, "logs", "bookbuyer-0")  # no app: its sidecar
    assert client_only.returncode == 0 and client_only.stdout.endswith("sidecar marker\n")
    no_app = cli(home, "logs", "bookbuyer-0", "-c", "app")
    assert no_app.returncode == 1 and "has no app" in no_app.stderr
    missing = cli(home, "logs", "nope-0")
    assert missing.returncode == 1 and "no pod default/nope-0 (pods: default/bookbuyer-0" in missing.stderr
    with subprocess.Popen(
        [sys.executable, "-m", "reference_mesh.cli", "logs", "bookstore-v1-0", "--tail", "1", "-f"],
        env={**os.environ, "REFERENCE_MESH_HOME": str(home)},
        stdout=subprocess.PIPE,
        text=True,
    ) as follow:
        try:
            assert follow.stdout is not None
            assert follow.stdout.readline() == "marker two\n"  # the tail is out: it is following now
            with app_log.open("a") as f:
                f.write("appended later\n")
            assert follow.stdout.readline() == "appended later\n"
            follow.send_signal(signal.SIGINT)
            assert follow.wait(timeout=10) == 0
        finally:
            follow.kill()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["top", "-t", "99x"], "is not a duration"),
        (["routes", "-t", "16m"], "longer than the 900s"),
        (["get", "nope"], "'nope' is not a kind the mesh stores"),
        (["routes", "--to", "nope"], "no service 'nope'"),
    ],
)
def test_bad_arguments_are_reported_plainly(
    running: tuple[Path, subprocess.Popen[str]], args: list[str], message: str
) -> None:
    result = cli(running[0], *args)
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.returncode == (1 if "--to" in args else 2)  # an unknown service is a finding, not usage


def test_no_mesh_is_exit_code_3(tmp_path: Path) -> None:
    result = cli(tmp_path, "check")
    assert result.returncode == 3 and "no running mesh" in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_up_shuts_down_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    proc = start_up(tmp_path)
    state = json.loads((tmp_path / "bookstore" / "state.json").read_text())
    prefix = state["admin"].split("//")[1].rsplit(".", 1)[0] + "."
    children = psutil.Process(proc.pid).children(recursive=True)
    assert len(children) == 8  # 3 bookstore pods x (app + sidecar) + 2 clients x sidecar
    assert mesh_sockets(prefix)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "stopped; nothing left running" in out
    _, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, alive
    assert mesh_sockets(prefix) == []
    assert not (tmp_path / "bookstore" / "state.json").exists()
    assert not (tmp_path / "bookstore" / "pods").exists()  # credentials are removed


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_starting_stops_at_once(tmp_path: Path, sig: signal.Signals) -> None:
    """A pod that never gets ready would hold `up` for --ready-timeout; Ctrl-C must not wait for it."""
    (tmp_path / "stuck.yaml").write_text(
        "name: stuck\n"
        "deployments:\n"
        "- name: never-ready\n"
        "  ports: [{port: 8080}]\n"
        f"  command: [{sys.executable}, -c, 'import time; time.sleep(600)']\n"
    )
    env = {**os.environ, "REFERENCE_MESH_HOME": str(tmp_path / "home")}
    argv = [
        sys.executable,
        "-m",
        "reference_mesh.cli",
        "up",
        str(tmp_path / "stuck.yaml"),
        "--ready-timeout",
        "3600",
    ]
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        deadline = time.monotonic() + 30
        children: list[psutil.Process] = []
        while len(children) < 2 and time.monotonic() < deadline:  # the app and its sidecar are running
            time.sleep(0.1)
            children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 2
        proc.send_signal(sig)
        try:
            # a thirtieth of the ready timeout: `up` that waited for it instead of stopping fails here
            out, _ = proc.communicate(timeout=120)
        finally:
            proc.kill()  # a regression must fail the test, not hang it for the ready timeout
    assert proc.returncode == 0, out
    assert "stopped before the mesh was up; nothing left running" in out
    _, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, alive


def test_children_exit_when_up_is_killed(tmp_path: Path) -> None:
    """SIGKILL leaves `up` no chance to clean up: the kernel tells every child (PR_SET_PDEATHSIG),
    and sidecars whose control plane is gone still stop promptly."""
    proc = start_up(tmp_path)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert len(children) == 8
    proc.kill()
    proc.communicate(timeout=10)
    _, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, [p.cmdline() for p in alive]
