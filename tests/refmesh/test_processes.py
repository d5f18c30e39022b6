"""The proxy and the echo workload as processes of their own, as the runtime and the benchmark run them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from loopback import OUTBOUND_HTTP_PORT, LoopbackMesh

from reference_mesh.proxy.config import AuthorizationPolicy, AuthorizationRule, HttpMatch
from reference_mesh.proxy.process import ProxyProcess, spawn_proxy

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _get(url: str, host: str | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_proxy_and_echo_processes(tmp_path: Path) -> None:
    mesh = LoopbackMesh()
    client = mesh.add("client-0", "client")
    server = mesh.add("echo-0", "echo", ["echo"])
    allow = AuthorizationPolicy(
        rules=(AuthorizationRule(name="default/a", sources=(client.identity.uri,), http=(HttpMatch(),)),)
    )
    app = f"{server.address}:{server.app_port(8080)}"
    echo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smi_conformance.workload.echo",
            "--service",
            "echo",
            "--version",
            "v3",
            "--instance",
            "echo-0",
            "--http",
            app,
        ],
        env=ENV,
        stderr=subprocess.PIPE,
    )
    proxies: dict[str, ProxyProcess] = {}
    try:
        assert json.loads(echo.stderr.readline())["http"] == server.app_port(8080)  # type: ignore[union-attr]
        for inst, kw in ((server, {"authorization": allow}), (client, {})):
            config = mesh.config(inst, **kw)  # type: ignore[arg-type]
            proxies[inst.name] = spawn_proxy(tmp_path / inst.name, inst.credentials, config, env=ENV)
        for proxy in proxies.values():
            proxy.wait_ready()
        outbound = f"http://{client.address}:{OUTBOUND_HTTP_PORT}/hi"
        status, body = _get(outbound, host="echo")
        assert status == 200 and json.loads(body)["version"] == "v3"
        assert json.loads(body)["headers"]["x-mesh-client-id"] == client.identity.uri
        # push a new snapshot: the proxy follows its file
        new = mesh.config(client)
        proxies[client.name].push(new)
        _wait(lambda: proxies[client.name].status()["version"] == new.version)
        # an invalid file is reported and ignored
        proxies[client.name].config_path.write_text("{not json")
        _wait(lambda: proxies[client.name].status()["source_error"] is not None)
        assert _get(outbound, host="echo")[0] == 200
    finally:
        codes = [proxy.stop() for proxy in proxies.values()]
        echo.send_signal(signal.SIGTERM)
        codes.append(echo.wait(10))
        echo.stderr.close()  # type: ignore[union-attr]
    assert codes == [0, 0, 0]


def test_proxy_process_reports_missing_credentials(tmp_path: Path) -> None:
    (tmp_path / "creds").mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "reference_mesh.proxy",
            "--credentials",
            str(tmp_path / "creds"),
            "--config",
            str(tmp_path / "c.json"),
        ],
        env=ENV,
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert b"cannot read credentials" in result.stderr and b"Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--http", "127.0.0.1:notaport"], 2, "'127.0.0.1:notaport' is not HOST:PORT"),
        (["--udp", "127.0.0.1:70000"], 2, "'127.0.0.1:70000' is not HOST:PORT"),
        ([], 2, "give at least one of --http, --tcp, --udp"),
        (["--http", "127.0.0.1:0", "--tcp", "BUSY"], 1, "cannot listen on 127.0.0.1:BUSY (tcp)"),
    ],
)
def test_echo_process_reports_bad_addresses(args: list[str], code: int, message: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        argv = [a.replace("BUSY", port) for a in args]
        result = subprocess.run(
            [sys.executable, "-m", "smi_conformance.workload.echo", "--service", "echo", *argv],
            env=ENV,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == code and message.replace("BUSY", port) in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("control_plane", "code", "message"),
    [
        ("127.0.0.1:1", 1, "cannot read credentials from"),
        ("nowhere", 2, "Invalid value for '--control-plane': 'nowhere' is not HOST:PORT"),
    ],
)
def test_sidecar_process_reports_bad_input(
    tmp_path: Path, control_plane: str, code: int, message: str
) -> None:
    args = ["--credentials", str(tmp_path), "--instance", "x-0", "--control-plane", control_plane]
    args += ["--control-plane-id", "spiffe://td/ns/mesh-system/sa/control-plane", "--admin", "127.0.0.1:0"]
    result = subprocess.run(
        [sys.executable, "-m", "reference_mesh.runtime.sidecar", *args],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == code and message in result.stderr and "Traceback" not in result.stderr


def test_a_ready_pod_turns_not_ready_only_after_three_failed_probes_in_a_row(tmp_path: Path) -> None:
    """One probe that times out on a busy machine must not take a healthy pod out of every Service (a full
    test run saw 503 "no endpoints" that way); three in a row do, as the kubelet's failureThreshold."""
    import asyncio

    from reference_mesh.runtime import mesh as runtime
    from reference_mesh.runtime.topology import parse_topology

    topology = parse_topology(
        "deployments: [{name: web, ports: [{port: 8080, protocol: http}]}]\nservices: []\n", "probe.yaml"
    )
    em = runtime.EmbeddedMesh(topology, home=tmp_path)
    em.prefix = "127.99.99"
    em._core_objects()
    rt = next(iter(em.pods.values()))
    answers = iter([True, False, True, False, False, True, False, False, False])
    seen: list[bool] = []

    async def app_ready(_: object) -> bool:
        return True

    async def sidecar_ready(_: object) -> bool:
        return next(answers)

    async def set_ready(pod: object, ready: bool) -> None:
        seen.append(ready)
        rt.pod = rt.pod.model_copy(update={"status": rt.pod.status.model_copy(update={"ready": ready})})

    async def no_wait(_: float) -> None:
        if len(seen) >= 4:
            raise asyncio.CancelledError

    em._app_ready = app_ready  # type: ignore[method-assign]
    em._sidecar_ready = sidecar_ready  # type: ignore[method-assign]
    em._set_ready = set_ready  # type: ignore[method-assign]
    real_sleep = runtime.asyncio.sleep
    runtime.asyncio.sleep = no_wait  # type: ignore[assignment]
    try:
        with pytest.raises(asyncio.CancelledError):
            asyncio.run(em._probe(rt))
    finally:
        runtime.asyncio.sleep = real_sleep
    # ready; one failure: nothing changes; ready; two failures: nothing; ready; the third failure in a row
    assert seen == [True, True, True, False]
