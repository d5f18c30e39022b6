"""Your own application behind a sidecar: a topology deployment with a ``command`` gets its pod's variables,
serves through its sidecar (mTLS, TrafficTargets, telemetry as for the echo workload) and is stopped with the
mesh, children included."""

from __future__ import annotations

import sys
from pathlib import Path

import aiohttp
import psutil
import pytest

from reference_mesh.runtime.mesh import MeshStartError
from reference_mesh.runtime.sync import running_mesh
from reference_mesh.runtime.topology import parse_topology

#: A minimal HTTP app: answers with the variables the runtime gave it, and starts a child (a sleeping
#: process) so the test can check the whole process group is stopped with the mesh.
APP = """
import http.server, json, os, subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        keys = ("POD_NAME", "POD_NAMESPACE", "SERVICE_ACCOUNT", "APP_ADDRESS", "PORT", "APP_PORT_8080",
                "MESH_OUTBOUND_HTTP", "GREETING")
        body = json.dumps({k: os.environ.get(k) for k in keys} | {"cwd": os.getcwd()}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args): pass
http.server.HTTPServer((os.environ["APP_ADDRESS"], int(os.environ["PORT"])), H).serve_forever()
"""


def topology(tmp_path: Path, command: list[str]) -> str:
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "access.yaml").write_text("""
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: all}
spec: {matches: [{name: everything, pathRegex: ".*", methods: ["*"]}]}
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: client-to-app}
spec:
  destination: {kind: ServiceAccount, name: app, namespace: default}
  sources: [{kind: ServiceAccount, name: client, namespace: default}]
  rules: [{kind: HTTPRouteGroup, name: all}]
""")
    argv = ", ".join(f'"{a}"' for a in command)
    return f"""
name: custom
serviceAccounts: [{{name: app}}, {{name: client}}]
services:
- {{name: app, selector: {{app: app}}, ports: [{{port: 8080, protocol: http}}]}}
deployments:
- name: app
  serviceAccount: app
  labels: {{app: app}}
  ports: [{{port: 8080, protocol: http}}]
  command: [{argv}]
  env: {{GREETING: hello}}
- {{name: client, serviceAccount: client, labels: {{app: client}}}}
manifests: [access.yaml]
"""


def test_a_command_app_serves_through_its_sidecar_and_stops_with_the_mesh(tmp_path: Path) -> None:
    topo = parse_topology(topology(tmp_path, [sys.executable, "app.py"]), "custom.yaml")
    with running_mesh(topo, base_dir=tmp_path, home=tmp_path / "home") as mesh:
        m = mesh.mesh
        app = m.pod("app-0").app
        assert app is not None and app.pid is not None
        leader = psutil.Process(app.pid)
        group = [leader, *leader.children(recursive=True)]

        async def call(pod: str) -> tuple[int, dict[str, str] | str]:
            url = f"http://{m.pod_address(pod)}:15001/"
            timeout = aiohttp.ClientTimeout(total=10)
            async with (
                aiohttp.ClientSession(timeout=timeout) as s,
                s.get(url, headers={"Host": "app"}) as resp,
            ):
                ok = resp.status == 200
                return resp.status, (await resp.json()) if ok else await resp.text()

        status, seen = mesh.run(call("client-0"))
        address = m.pod_address("app-0")
        assert status == 200 and seen == {
            "POD_NAME": "app-0",
            "POD_NAMESPACE": "default",
            "SERVICE_ACCOUNT": "app",
            "APP_ADDRESS": address,
            "PORT": "18080",
            "APP_PORT_8080": "18080",
            "MESH_OUTBOUND_HTTP": f"{address}:15001",
            "GREETING": "hello",
            "cwd": str(tmp_path),
        }
        assert mesh.run(call("app-0"))[0] == 403  # deny by default: app may not call itself
    assert len(group) == 2  # the app and its child...
    _, alive = psutil.wait_procs(group, timeout=5)
    assert not alive, f"the app's process group outlived the mesh: {alive}"


def test_a_command_that_cannot_start_is_a_clear_error(tmp_path: Path) -> None:
    topo = parse_topology(topology(tmp_path, ["./no-such-program"]), "custom.yaml")
    with (
        pytest.raises(
            MeshStartError, match=r"deployment default/app: cannot start its command './no-such-program'"
        ),
        running_mesh(topo, base_dir=tmp_path, home=tmp_path / "home"),
    ):
        pass


def test_echo_limits_do_not_apply_to_commands_and_clients_have_no_command() -> None:
    two_http = "ports: [{port: 8080}, {port: 8081}]"
    text = f"deployments:\n- name: a\n  {two_http}\n  command: [app]\n"
    assert parse_topology(text, "t.yaml").deployments[0].command == ("app",)
    with pytest.raises(
        Exception,
        match=r"t.yaml:3:25: deployments\[0\].ports\[1\].protocol: the echo workload serves one http",
    ):
        parse_topology(f"deployments:\n- name: a\n  {two_http}\n", "t.yaml")
    with pytest.raises(Exception, match=r"command: a command needs ports"):
        parse_topology("deployments:\n- name: a\n  command: [app]\n", "t.yaml")
