"""Transparent interception for real, without a cluster: network namespaces joined by a bridge stand for
two pods, each with the rules the init container installs (``python -m reference_mesh.kube.interception``) and
a sidecar proxy process in transparent mode. The client application dials a "cluster IP" and never knows about
the mesh; what it reaches, with which identity, and what is refused, proves the rules, ``SO_ORIGINAL_DST`` and
the transparent listeners together. A third, unmeshed namespace checks that other traffic passes untouched.

Needs root (network namespaces, iptables); skipped otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reference_mesh.identity import CertificateAuthority, SpiffeId, write_credentials
from reference_mesh.kube.interception import InterceptionRules
from reference_mesh.proxy.config import (
    AuthorizationPolicy,
    AuthorizationRule,
    Endpoint,
    HttpMatch,
    InboundConfig,
    InboundListener,
    Interception,
    OutboundConfig,
    OutboundService,
    ProxyConfig,
    ServicePort,
    WorkloadInfo,
)

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("iptables") is None,
    reason="needs root and iproute2 (network namespaces, iptables)",
)

CLIENT_IP, SERVER_IP, OUTSIDE_IP = "10.250.7.2", "10.250.7.3", "10.250.7.4"
CLUSTER_IP = "10.96.7.20"  # the "Service" web: only the client proxy's snapshot knows it
# the client application switches to nobody once started (the interpreter may live where nobody cannot read);
# the proxies run as root, the user their rules exclude
APP_UID = 65534
PROXY_UID = 0
TRUST = "cluster.local"


def sh(*args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=check, input=input, timeout=60)


@dataclass
class Pods:
    tag: str
    namespaces: dict[str, str]
    processes: list[subprocess.Popen[bytes]]
    workdir: Path

    def ns(self, pod: str) -> list[str]:
        return ["ip", "netns", "exec", self.namespaces[pod]]


@pytest.fixture
def pods(tmp_path: Path) -> Iterator[Pods]:
    tag = uuid.uuid4().hex[:6]
    # the pods, and a switch: a bridge in a namespace of its own, away from the host's firewall (Docker's
    # FORWARD policy would drop bridged frames on the host)
    names = {pod: f"smi-{pod}-{tag}" for pod in ("client", "server", "outside", "switch")}
    env = Pods(tag, names, [], tmp_path)
    try:
        sh("ip", "netns", "add", names["switch"])
        sh(*env.ns("switch"), "ip", "link", "add", "br0", "type", "bridge")
        sh(*env.ns("switch"), "ip", "link", "set", "br0", "up")
        for i, (pod, address) in enumerate(
            (("client", CLIENT_IP), ("server", SERVER_IP), ("outside", OUTSIDE_IP))
        ):
            ns, switch_end, pod_end = names[pod], f"smis{i}{tag}", f"smip{i}{tag}"
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "add", switch_end, "type", "veth", "peer", "name", pod_end)
            sh("ip", "link", "set", pod_end, "netns", ns)
            sh("ip", "link", "set", switch_end, "netns", names["switch"])
            sh(*env.ns("switch"), "ip", "link", "set", switch_end, "master", "br0", "up")
            sh(*env.ns(pod), "ip", "link", "set", "lo", "up")
            sh(*env.ns(pod), "ip", "addr", "add", f"{address}/24", "dev", pod_end)
            sh(*env.ns(pod), "ip", "link", "set", pod_end, "up")
            # cluster IPs need a route to be dialled at all (kube-proxy's job on a node)
            sh(*env.ns(pod), "ip", "route", "add", "10.96.0.0/16", "dev", pod_end)
        yield env
    finally:
        for proc in env.processes:
            proc.terminate()
        for proc in env.processes:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for ns in names.values():  # deleting a namespace deletes its interfaces, and their veth peers
            sh("ip", "netns", "del", ns, check=False)


def _workload(name: str, address: str, sa: str) -> WorkloadInfo:
    return WorkloadInfo(namespace="default", service_account=sa, instance=name, address=address, services=())


def _configs(allow: bool, version: str) -> tuple[ProxyConfig, ProxyConfig]:
    client_id = SpiffeId(TRUST, "default", "client").uri
    web = OutboundService(
        name="web",
        namespace="default",
        addresses=(CLUSTER_IP,),
        ports=(
            ServicePort(
                port=8080,
                protocol="http",
                endpoints=(
                    Endpoint(
                        address=SERVER_IP,
                        port=8080,
                        identity=SpiffeId(TRUST, "default", "web").uri,
                        instance="web-0",
                    ),
                ),
            ),
        ),
    )
    interception = Interception()
    client = ProxyConfig(
        version=version,
        workload=_workload("client-0", CLIENT_IP, "client"),
        outbound=OutboundConfig(services={web.key: web}),
        interception=interception,
    )
    # an HTTP match without conditions admits every request
    allow_all = AuthorizationRule(name="default/allow-client", sources=(client_id,), http=(HttpMatch(),))
    rules = (allow_all,) if allow else ()
    server = ProxyConfig(
        version=version,
        workload=_workload("web-0", SERVER_IP, "web"),
        inbound=InboundConfig(
            listeners=(InboundListener(port=8080, protocol="http", app_port=8080, app_address=SERVER_IP),),
            authorization=AuthorizationPolicy(rules=rules),
        ),
        outbound=OutboundConfig(services={web.key: web}),
        interception=interception,
    )
    return client, server


def _start_proxy(pods: Pods, pod: str, ca: CertificateAuthority, sa: str, config: ProxyConfig) -> Path:
    workdir = pods.workdir / pod
    creds = workdir / "credentials"
    write_credentials(creds, ca.issue(SpiffeId(TRUST, "default", sa)))
    config_path = workdir / "config.json"
    config_path.write_text(config.model_dump_json())
    log = workdir / "proxy.log"
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            [
                *pods.ns(pod),
                *(sys.executable, "-m", "reference_mesh.proxy", "--credentials", str(creds)),
                *("--config", str(config_path), "--admin", f"{config.workload.address}:15000"),
                "--log-level=INFO",
            ],
            stderr=stderr,
        )
    pods.processes.append(proc)
    deadline = time.monotonic() + 20
    while b'"admin"' not in log.read_bytes():
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    return config_path


def _wait_version(pods: Pods, pod: str, address: str, version: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        out = sh(
            *pods.ns(pod), "python3", "-c", _FETCH.format(url=f"http://{address}:15000/ready"), check=False
        )
        if out.returncode == 0 and json.loads(out.stdout).get("version") == version:
            return
        time.sleep(0.2)
    raise AssertionError(f"{pod}'s proxy never applied snapshot {version}")


_FETCH = "import urllib.request; print(urllib.request.urlopen({url!r}, timeout=3).read().decode())"

# what the client application runs: as an unprivileged user, an HTTP GET to the address the test names; the
# status and body (or the error) as one JSON line
_CLIENT = textwrap.dedent(
    """
    import encodings.idna, email.parser, http.client, json, os, sys, urllib.request, urllib.error
    os.setgid({uid}); os.setuid({uid})
    try:
        with urllib.request.urlopen("http://{address}:{port}{path}", timeout=5) as r:
            print(json.dumps({{"status": r.status, "body": r.read().decode()}}))
    except urllib.error.HTTPError as e:
        print(json.dumps({{"status": e.code, "body": e.read().decode()}}))
    except Exception as e:
        print(json.dumps({{"status": None, "error": repr(e)}}))
    """
)


def _client_get(pods: Pods, address: str, port: int, path: str = "/hello") -> dict[str, object]:
    script = _CLIENT.format(uid=APP_UID, address=address, port=port, path=path)
    out = sh(*pods.ns("client"), sys.executable, "-c", script)
    result: dict[str, object] = json.loads(out.stdout)
    return result


def _start_app(pods: Pods, pod: str, args: list[str]) -> None:
    """A server application (its user does not matter: only outbound connections are told apart by user)."""
    pods.processes.append(subprocess.Popen([*pods.ns(pod), sys.executable, *args]))


def _wait_listening(pods: Pods, pod: str, address: str, port: int) -> None:
    probe = f"import socket; socket.create_connection(({address!r}, {port}), timeout=1).close()"
    deadline = time.monotonic() + 20
    while sh(*pods.ns(pod), sys.executable, "-c", probe, check=False).returncode != 0:
        assert time.monotonic() < deadline, f"nothing listens on {address}:{port} in {pod}"
        time.sleep(0.1)


def test_redirected_traffic_goes_through_both_sidecars_with_mtls_identity(pods: Pods) -> None:
    rules = InterceptionRules(proxy_uid=PROXY_UID).restore_input()
    for pod in ("client", "server"):
        out = sh(
            *pods.ns(pod),
            sys.executable,
            "-m",
            "reference_mesh.kube.interception",
            f"--proxy-uid={PROXY_UID}",
        )
        assert out.stdout == rules  # what it installs is what it prints
        assert "MESH_INBOUND" in sh(*pods.ns(pod), "iptables", "-t", "nat", "-S").stdout
    ca = CertificateAuthority.create(TRUST)
    client_cfg, server_cfg = _configs(allow=False, version="1")
    _start_app(
        pods, "server", ["-m", "smi_conformance.workload.echo", "--service", "web", "--http", "0.0.0.0:8080"]
    )
    _start_app(
        pods, "outside", ["-m", "smi_conformance.workload.echo", "--service", "ext", "--http", "0.0.0.0:7000"]
    )
    _start_proxy(pods, "client", ca, "client", client_cfg)
    server_path = _start_proxy(pods, "server", ca, "web", server_cfg)
    _wait_listening(pods, "server", SERVER_IP, 8080)
    _wait_listening(pods, "outside", OUTSIDE_IP, 7000)

    # deny by default: the request reached the server's proxy (through the client's) and was refused there
    denied = _client_get(pods, CLUSTER_IP, 8080)
    assert denied["status"] == 403, denied
    assert "forbidden" in str(denied["body"])

    # allow the client's identity: the same request reaches the application, which sees the caller's SPIFFE id
    # from the verified certificate (set by the server's proxy, so it crossed mTLS from the client's proxy)
    _, server_allow = _configs(allow=True, version="2")
    server_path.write_text(server_allow.model_dump_json())
    _wait_version(pods, "server", SERVER_IP, "2")
    allowed = _client_get(pods, CLUSTER_IP, 8080, "/hello?x=1")
    assert allowed["status"] == 200, allowed
    reply = json.loads(str(allowed["body"]))
    assert reply["service"] == "web" and reply["path"] == "/hello"
    headers = (
        {k.lower(): v for k, v in reply["headers"].items()}
        if isinstance(reply["headers"], dict)
        else {k.lower(): v for k, v in reply["headers"]}
    )
    assert headers["x-mesh-client-id"] == SpiffeId(TRUST, "default", "client").uri

    # the server pod's port is not reachable around the mesh: a plain connection from an unmeshed pod is
    # redirected to the inbound port, which speaks only mTLS
    plain = sh(
        *pods.ns("outside"),
        sys.executable,
        "-c",
        _CLIENT.format(uid=APP_UID, address=SERVER_IP, port=8080, path="/"),
    )
    assert json.loads(plain.stdout)["status"] is None

    # traffic to anything that is not a mesh service passes through untouched
    outside = _client_get(pods, OUTSIDE_IP, 7000)
    assert outside["status"] == 200 and json.loads(str(outside["body"]))["service"] == "ext"


def test_rules_leave_the_proxy_loopback_and_skipped_ports_alone() -> None:
    rules = InterceptionRules(skip_inbound_ports=(15000, 9999), skip_outbound_ports=(5432,)).restore_input()
    lines = rules.splitlines()
    assert lines[0] == "*nat" and lines[-1] == "COMMIT"
    # exclusions come before the redirects in each chain
    inbound = [ln for ln in lines if ln.startswith("-A MESH_INBOUND")]
    assert inbound[-1] == "-A MESH_INBOUND -p tcp -j REDIRECT --to-ports 15006"
    assert {"--dport 15000", "--dport 9999"} <= {" ".join(ln.split()[4:6]) for ln in inbound[:-1]}
    outbound = [ln for ln in lines if ln.startswith("-A MESH_OUTBOUND")]
    assert outbound[0] == "-A MESH_OUTBOUND -m owner --uid-owner 2102 -j RETURN"
    assert "-A MESH_OUTBOUND -o lo -j RETURN" in outbound
    assert "-A MESH_OUTBOUND -p tcp --dport 5432 -j RETURN" in outbound
    assert outbound[-1] == "-A MESH_OUTBOUND -p tcp -j REDIRECT --to-ports 15001"
