"""The reference mesh on a real cluster: installed with ``reference-mesh install``, pods meshed by the webhook
and by ``reference-mesh inject``, traffic intercepted and carried over mTLS between sidecars, TrafficTargets,
TrafficSplits and admission enforced, identities issued only after TokenReview, the Traffic Metrics API
answering through the API server, the CLI reading the installation, and ``uninstall`` leaving nothing.

One installation for the module (fixture ``reference_mesh``); its tests run in one process, in file order
(tests/conftest.py: ONE_WORKER_MODULES), the last ones uninstall. Each test has its own namespace.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from reference_mesh.kube import names
from reference_mesh.kube.client import ApiError
from reference_mesh.kube.install import leftovers

from .mesh import (
    InstalledMesh,
    client_deployment,
    deploy,
    echo_deployment,
    echo_reply,
    exec_python,
    http_service,
    meshed_namespace,
    pod_of,
    requests_from,
    service_account,
)
from .workloads import NotYet, wait_for

pytestmark = pytest.mark.kind

TRUST = "cluster.local"
ALLOW_ALL = {"name": "everything", "pathRegex": ".*"}


def cli(
    mesh: InstalledMesh, *args: str, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``reference-mesh ARGS --kubeconfig ...``, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "reference_mesh.cli", *args, "--kubeconfig", str(mesh.kubeconfig)],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def smi(api_client: client.ApiClient, namespace: str, doc: dict[str, Any]) -> dict[str, Any]:
    group, _, version = doc["apiVersion"].partition("/")
    plural = {
        "HTTPRouteGroup": "httproutegroups",
        "TrafficTarget": "traffictargets",
        "TrafficSplit": "trafficsplits",
    }
    created: dict[str, Any] = client.CustomObjectsApi(api_client).create_namespaced_custom_object(
        group, version, namespace, plural[doc["kind"]], doc
    )
    return created


def routes(name: str, *matches: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "specs.smi-spec.io/v1alpha4",
        "kind": "HTTPRouteGroup",
        "metadata": {"name": name},
        "spec": {"matches": list(matches)},
    }


def target(
    name: str, namespace: str, destination: str, source: str, group: str, matches: list[str]
) -> dict[str, Any]:
    return {
        "apiVersion": "access.smi-spec.io/v1alpha3",
        "kind": "TrafficTarget",
        "metadata": {"name": name},
        "spec": {
            "destination": {"kind": "ServiceAccount", "name": destination, "namespace": namespace},
            "sources": [{"kind": "ServiceAccount", "name": source, "namespace": namespace}],
            "rules": [{"kind": "HTTPRouteGroup", "name": group, "matches": matches}],
        },
    }


def web_and_client(api_client: client.ApiClient, namespace: str, image: str) -> str:
    """web (echo, service account web) and client (service account client) in a meshed namespace; the
    client pod's name."""
    meshed_namespace(client.CoreV1Api(api_client), namespace)
    deploy(
        api_client,
        namespace,
        service_account("web"),
        service_account("client"),
        http_service("web", {"app": "web"}),
        echo_deployment("web", image, app="web", version="v1", service_account="web"),
        client_deployment("client", image, service_account="client"),
    )
    return str(pod_of(api_client, namespace, "client").metadata.name)


def test_install_is_ready_and_check_passes(reference_mesh: InstalledMesh, record_property: Any) -> None:
    record_property("install_until_ready_s", round(reference_mesh.install_s, 1))
    print(f"install until ready: {reference_mesh.install_s:.1f} s")
    checked = cli(reference_mesh, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "mesh is healthy" in checked.stdout
    assert "✓ APIService v1alpha1.metrics.smi-spec.io: Available" in checked.stdout


def test_meshed_pods_are_denied_by_default_then_allowed_over_mtls(
    reference_mesh: InstalledMesh, api_client: client.ApiClient, namespace: str
) -> None:
    client_pod = web_and_client(api_client, namespace, reference_mesh.image)
    web_pod = pod_of(api_client, namespace, "web")
    # the webhook injected both pods: the interception init container and the proxy as a native sidecar
    init = [c.name for c in web_pod.spec.init_containers]
    assert init[:2] == [names.INIT_CONTAINER, names.PROXY_CONTAINER]
    assert web_pod.metadata.labels[names.PROXY_LABEL] == "injected"
    url = f"http://web.{namespace}.svc.cluster.local:8080/hello"

    # deny by default: the server's proxy refuses a caller no TrafficTarget names
    [denied] = requests_from(api_client, namespace, client_pod, url)
    assert denied["status"] == 403 and "forbidden" in denied["body"], denied

    smi(
        api_client,
        namespace,
        routes("web-routes", {"name": "hello", "pathRegex": "/hello", "methods": ["GET"]}),
    )
    smi(api_client, namespace, target("client-to-web", namespace, "web", "client", "web-routes", ["hello"]))

    def allowed() -> dict[str, Any]:
        [response] = requests_from(api_client, namespace, client_pod, url)
        if response["status"] != 200:
            raise NotYet(str(response))
        return response

    reply = echo_reply(wait_for("the TrafficTarget to allow the client", allowed, timeout=60))
    assert reply["service"] == "web" and reply["instance"] == web_pod.metadata.name
    # the server's proxy names the caller from its verified certificate: the request crossed mTLS between
    # the two sidecars, with the identity of the client's service account
    assert reply["headers"]["x-mesh-client-id"] == f"spiffe://{TRUST}/ns/{namespace}/sa/client"
    # what the TrafficTarget does not name stays denied
    [other] = requests_from(
        api_client, namespace, client_pod, f"http://web.{namespace}.svc.cluster.local:8080/other"
    )
    assert other["status"] == 403

    # around the mesh: an unmeshed pod reaching the web pod directly gets no answer (only mTLS is spoken)
    outsider = client_deployment("outsider", reference_mesh.image, service_account="default")
    outsider["spec"]["template"]["metadata"]["labels"][names.INJECT_LABEL] = "disabled"
    deploy(api_client, namespace, outsider)
    outsider_pod = pod_of(api_client, namespace, "outsider")
    assert not [c for c in outsider_pod.spec.init_containers or [] if c.name == names.PROXY_CONTAINER]
    [plain] = requests_from(
        api_client, namespace, outsider_pod.metadata.name, f"http://{web_pod.status.pod_ip}:8080/hello"
    )
    assert plain["status"] is None, plain


def test_traffic_split_sends_requests_by_weight(
    reference_mesh: InstalledMesh, api_client: client.ApiClient, namespace: str
) -> None:
    meshed_namespace(client.CoreV1Api(api_client), namespace)
    image = reference_mesh.image
    deploy(
        api_client,
        namespace,
        service_account("web"),
        service_account("client"),
        http_service("web", {"app": "web"}),
        http_service("web-v1", {"app": "web", "version": "v1"}),
        http_service("web-v2", {"app": "web", "version": "v2"}),
        echo_deployment("web-v1", image, app="web", version="v1", service_account="web"),
        echo_deployment("web-v2", image, app="web", version="v2", service_account="web"),
        client_deployment("client", image, service_account="client"),
    )
    client_pod = pod_of(api_client, namespace, "client").metadata.name
    smi(api_client, namespace, routes("all", ALLOW_ALL))
    smi(api_client, namespace, target("client-to-web", namespace, "web", "client", "all", ["everything"]))
    split = {
        "apiVersion": "split.smi-spec.io/v1alpha4",
        "kind": "TrafficSplit",
        "metadata": {"name": "web-split"},
        "spec": {
            "service": "web",
            "backends": [{"service": "web-v1", "weight": 0}, {"service": "web-v2", "weight": 1}],
        },
    }
    smi(api_client, namespace, split)
    url = f"http://web.{namespace}.svc.cluster.local:8080/"

    def versions(expected: str) -> list[str]:
        responses = requests_from(api_client, namespace, client_pod, url, n=20)
        seen = [echo_reply(r)["version"] if r["status"] == 200 else str(r["status"]) for r in responses]
        if set(seen) != {expected}:
            raise NotYet(f"versions seen: {seen}")
        return seen

    # a zero-weight backend gets exactly nothing
    wait_for("every request to go to v2", lambda: versions("v2"), timeout=60)
    custom = client.CustomObjectsApi(api_client)
    custom.patch_namespaced_custom_object(
        "split.smi-spec.io",
        "v1alpha4",
        namespace,
        "trafficsplits",
        "web-split",
        {"spec": {"backends": [{"service": "web-v1", "weight": 1}, {"service": "web-v2", "weight": 0}]}},
    )
    wait_for("every request to go to v1 once the weights change", lambda: versions("v1"), timeout=60)


def test_metrics_api_counts_requests_exactly_through_the_api_server(
    reference_mesh: InstalledMesh, api_client: client.ApiClient, namespace: str
) -> None:
    client_pod = web_and_client(api_client, namespace, reference_mesh.image)
    smi(api_client, namespace, routes("all", ALLOW_ALL))
    smi(api_client, namespace, target("client-to-web", namespace, "web", "client", "all", ["everything"]))
    url = f"http://web.{namespace}.svc.cluster.local:8080/count"
    wait_for(
        "the client to be allowed",
        lambda: requests_from(api_client, namespace, client_pod, url)[0]["status"] == 200,
        timeout=60,
    )
    time.sleep(1.1)  # the probes above finish their second; the window below starts after it
    started = time.time()
    sent = requests_from(api_client, namespace, client_pod, url, n=7)
    assert [r["status"] for r in sent] == [200] * 7
    time.sleep(1.1)  # the current second is never in a window: let the last request's second close
    base = f"/apis/{names.METRICS_GROUP}/{names.METRICS_VERSION}/namespaces/{namespace}/deployments"

    def window() -> str:
        # the whole seconds from the burst's first second up to the current one (excluded), so the probes
        # before it (at least a second earlier) are out and the burst is in, however late it is asked
        return f"{int(time.time()) - int(started)}s"

    def seen(what: str, item: dict[str, Any]) -> dict[str, Any]:
        """The metrics of one side, once its proxy answered: a proxy the loaded machine keeps past the
        metrics API's 2 s fetch timeout is left out of that answer (nothing counted at all), so ask
        again; any other count is the verdict at once."""
        counts = {m["name"]: m["value"] for m in item["metrics"]}
        if not counts.get("success_count") and not counts.get("failure_count"):
            raise NotYet(f"nothing counted yet for {what}: {item}")
        return counts

    def client_side() -> dict[str, Any]:
        edges = reference_mesh.api.get(f"{base}/client/edges", t=window())
        assert edges["kind"] == "TrafficMetricsList"
        to_web = [
            i
            for i in edges["items"]
            if i["edge"]["direction"] == "to" and i["edge"]["resource"]["name"] == "web"
        ]
        if not to_web:
            raise NotYet(f"no edge to web yet: {edges}")
        assert len(to_web) == 1, edges
        return seen("the client's edge to web", to_web[0])

    counts = wait_for("the client's proxy to answer the metrics API", client_side, timeout=30)
    assert counts["success_count"] == 7 and counts["failure_count"] == 0, counts
    served = wait_for(
        "web's proxy to answer the metrics API",
        lambda: seen("web", reference_mesh.api.get(f"{base}/web", t=window())),
        timeout=30,
    )
    assert served["success_count"] == 7, served
    # the same through the kubectl path: an unknown deployment is a NotFound Status from the metrics API
    with pytest.raises(ApiError) as missing:
        reference_mesh.api.get(f"{base}/nobody")
    assert missing.value.status == 404


def test_admission_refuses_what_the_linter_calls_an_error(
    reference_mesh: InstalledMesh, api_client: client.ApiClient, namespace: str
) -> None:
    duplicate = {
        "apiVersion": "split.smi-spec.io/v1alpha4",
        "kind": "TrafficSplit",
        "metadata": {"name": "bad"},
        "spec": {
            "service": "web",
            "backends": [{"service": "web-v1", "weight": 5}, {"service": "web-v1", "weight": 5}],
        },
    }
    with pytest.raises(ApiException) as refused:
        smi(api_client, namespace, duplicate)
    assert refused.value.status == 422
    assert "SMI204 duplicate-backend" in refused.value.body
    custom = client.CustomObjectsApi(api_client)
    assert (
        custom.list_namespaced_custom_object("split.smi-spec.io", "v1alpha4", namespace, "trafficsplits")[
            "items"
        ]
        == []
    )
    # a cross-object rule: a TrafficTarget naming a match its HTTPRouteGroup lacks (SMI302) is refused...
    smi(api_client, namespace, routes("web-routes", {"name": "hello", "pathRegex": "/hello"}))
    with pytest.raises(ApiException) as typo:
        smi(api_client, namespace, target("t", namespace, "web", "client", "web-routes", ["helo"]))
    assert "SMI302" in typo.value.body
    # ...while a group created a moment before the target that names it is seen, even if the control plane's
    # cache has not caught up yet (admission reads the API again before refusing on another object)
    smi(api_client, namespace, routes("new-routes", {"name": "fresh", "pathRegex": "/fresh"}))
    smi(api_client, namespace, target("t2", namespace, "web", "client", "new-routes", ["fresh"]))


def test_identity_is_issued_only_for_a_verified_token(
    reference_mesh: InstalledMesh, api_client: client.ApiClient, namespace: str
) -> None:
    client_pod = web_and_client(api_client, namespace, reference_mesh.image)
    core = client.CoreV1Api(api_client)
    pod = core.read_namespaced_pod(client_pod, namespace)

    def token(audience: str | None, bound: bool) -> str:
        spec: dict[str, Any] = {"expirationSeconds": 600}
        if audience:
            spec["audiences"] = [audience]
        if bound:
            spec["boundObjectRef"] = {
                "kind": "Pod",
                "apiVersion": "v1",
                "name": pod.metadata.name,
                "uid": pod.metadata.uid,
            }
        return str(
            core.create_namespaced_service_account_token("client", namespace, {"spec": spec}).status.token
        )

    cases = {
        "bound, mesh audience": (token(names.TOKEN_AUDIENCE, True), 200),
        "unbound, mesh audience": (token(names.TOKEN_AUDIENCE, False), 403),
        "bound, API server audience": (token(None, True), 401),
        "not a token": ("not-a-token", 401),
    }
    results = {
        what: _ask_identity(api_client, namespace, client_pod, tok) for what, (tok, _) in cases.items()
    }
    assert {what: r["status"] for what, r in results.items()} == {
        what: want for what, (_, want) in cases.items()
    }
    issued = results["bound, mesh audience"]
    # the certificate names the token's service account, not what the request claimed
    assert issued["spiffe_id"] == f"spiffe://{TRUST}/ns/{namespace}/sa/client"
    assert "not bound to a pod" in results["unbound, mesh audience"]["error"]

    # and every running proxy holds the identity of its pod's service account (the control plane's view;
    # eventually: a proxy that started a moment ago, here or in another test's namespace, may not hold it yet)
    def healthy() -> dict[str, Any]:
        status: dict[str, Any] = json.loads(cli(reference_mesh, "check", "-o", "json").stdout)
        if not status["healthy"]:
            raise NotYet(f"reference-mesh check: {[c for c in status['checks'] if not c['ok']]}")
        return status

    wait_for("reference-mesh check to report healthy", healthy, timeout=60)


# run inside the client pod's application container: the control plane's identity endpoint with a token
_ASK = """
import json, ssl, sys, urllib.request, urllib.error
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
url, token, anchors = sys.argv[1], sys.argv[2], sys.argv[3]
key = ec.generate_private_key(ec.SECP256R1())
claimed = x509.UniformResourceIdentifier(sys.argv[4])
csr = (x509.CertificateSigningRequestBuilder()
       .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone else")]))
       .add_extension(x509.SubjectAlternativeName([claimed]), critical=False).sign(key, hashes.SHA256()))
body = json.dumps({"csr": csr.public_bytes(serialization.Encoding.PEM).decode()}).encode()
headers = {"authorization": "Bearer " + token, "content-type": "application/json"}
req = urllib.request.Request(url, body, headers)
ctx = ssl.create_default_context(cadata=anchors)
try:
    with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
        cert = x509.load_pem_x509_certificate(json.loads(r.read())["certificate"].encode())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uri = san.get_values_for_type(x509.UniformResourceIdentifier)[0]
        print(json.dumps({"status": r.status, "spiffe_id": uri}))
except urllib.error.HTTPError as e:
    print(json.dumps({"status": e.code, "error": json.loads(e.read()).get("error")}))
"""


def _ask_identity(api_client: client.ApiClient, namespace: str, pod: str, token: str) -> dict[str, Any]:
    core = client.CoreV1Api(api_client)
    config = json.loads(
        core.read_namespaced_config_map(names.CONFIG_MAP, names.NAMESPACE).data["config.json"]
    )
    url = f"https://{names.service_dns()}/v1/identity"
    claimed = f"spiffe://{TRUST}/ns/{names.NAMESPACE}/sa/{names.CONTROL_PLANE}"
    out = exec_python(api_client, namespace, pod, _ASK, url, token, config["trust_anchors"], claimed)
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    assert lines, out
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def test_inject_cli_meshes_pods_of_an_unlabelled_namespace(
    reference_mesh: InstalledMesh, api_client: client.ApiClient, namespace: str
) -> None:
    image = reference_mesh.image
    manifests = [
        service_account("web"),
        service_account("client"),
        http_service("web", {"app": "web"}),
        echo_deployment("web", image, app="web", version="v1", service_account="web"),
        client_deployment("client", image, service_account="client"),
    ]
    injected = cli(reference_mesh, "inject", input=yaml.safe_dump_all(manifests))
    assert injected.returncode == 0, injected.stderr
    assert "2 pod template(s) injected" in injected.stderr
    deploy(api_client, namespace, *yaml.safe_load_all(injected.stdout))
    client_pod = pod_of(api_client, namespace, "client")
    assert [c.name for c in client_pod.spec.init_containers][:2] == [
        names.INIT_CONTAINER,
        names.PROXY_CONTAINER,
    ]
    # meshed: denied by default, no TrafficTarget allows the client
    [denied] = requests_from(
        api_client, namespace, client_pod.metadata.name, f"http://web.{namespace}.svc.cluster.local:8080/"
    )
    assert denied["status"] == 403, denied


def test_top_routes_and_tap_read_the_installation(
    reference_mesh: InstalledMesh, api_client: client.ApiClient, namespace: str
) -> None:
    client_pod = web_and_client(api_client, namespace, reference_mesh.image)
    smi(api_client, namespace, routes("web-routes", {"name": "hello", "pathRegex": "/hello"}))
    smi(api_client, namespace, target("client-to-web", namespace, "web", "client", "web-routes", ["hello"]))
    url = f"http://web.{namespace}.svc.cluster.local:8080/hello"
    wait_for(
        "the client to be allowed",
        lambda: requests_from(api_client, namespace, client_pod, url)[0]["status"] == 200,
        timeout=60,
    )
    tap = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reference_mesh.cli",
            "tap",
            "-n",
            namespace,
            "--direction",
            "inbound",
            "--max",
            "1",
            "-o",
            "json",
            "--kubeconfig",
            str(reference_mesh.kubeconfig),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while tap.poll() is None and time.monotonic() < deadline:
            requests_from(api_client, namespace, client_pod, url, n=3)
        out, err = tap.communicate(timeout=30)
    finally:
        tap.kill()
    assert tap.returncode == 0, err
    event = json.loads(out.splitlines()[0])
    assert event["direction"] == "inbound" and event["path"] == "/hello" and event["status"] == 200
    assert event["source"] == f"spiffe://{TRUST}/ns/{namespace}/sa/client"

    def top_edge() -> bool:
        # a proxy the loaded machine keeps past the metrics API's fetch timeout is left out of one answer
        # (and named on stderr): ask again rather than read that as "no traffic"
        top = cli(reference_mesh, "top", "-n", namespace, "-t", "60s", "-o", "json")
        assert top.returncode == 0, top.stderr
        edges = json.loads(top.stdout)
        if not any(
            r["source"].startswith(f"{namespace}/client-")
            and r["destination"].startswith(f"{namespace}/web-")
            for r in edges
        ):
            raise NotYet(f"no client -> web edge in {edges}; stderr: {top.stderr.strip()!r}")
        return True

    wait_for("top to show the client -> web edge", top_edge, timeout=30)

    def hello_row() -> dict[str, Any]:
        listed = cli(reference_mesh, "routes", "--to", f"web.{namespace}", "-t", "60s", "-o", "json")
        assert listed.returncode == 0, listed.stderr
        rows = {r["route"]: r for r in json.loads(listed.stdout)}
        if rows.get("web-routes/hello", {}).get("success", 0) < 4:
            raise NotYet(f"rows {rows}; stderr: {listed.stderr.strip()!r}")
        return rows["web-routes/hello"]

    wait_for("routes to count the client's requests to /hello", hello_row, timeout=30)


def test_uninstall_leaves_nothing(reference_mesh: InstalledMesh) -> None:
    removed = cli(reference_mesh, "uninstall", timeout=320)
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert leftovers(reference_mesh.api) == []
    api = reference_mesh.api
    crds = api.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")["items"]
    assert not [c["metadata"]["name"] for c in crds if c["spec"]["group"].endswith("smi-spec.io")]
    hooks = api.get("/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations")["items"]
    hooks += api.get("/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations")["items"]
    assert not [h["metadata"]["name"] for h in hooks if h["metadata"]["name"].startswith(names.PREFIX)]
    services = api.get("/apis/apiregistration.k8s.io/v1/apiservices")["items"]
    assert not [s["metadata"]["name"] for s in services if s["spec"].get("group") == names.METRICS_GROUP]
    roles = api.get("/apis/rbac.authorization.k8s.io/v1/clusterroles")["items"]
    assert not [r["metadata"]["name"] for r in roles if r["metadata"]["name"].startswith(names.PREFIX)]
    namespaces = [n["metadata"]["name"] for n in api.get("/api/v1/namespaces")["items"]]
    assert names.NAMESPACE not in namespaces


def test_smi_crds_someone_else_installed_are_neither_taken_over_nor_deleted(
    reference_mesh: InstalledMesh,
) -> None:
    from reference_mesh.kube.install import InstallError, install, uninstall
    from reference_mesh.kube.manifests import InstallOptions, smi_crds

    api = reference_mesh.api
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    foreign = next(c for c in smi_crds() if c["metadata"]["name"].startswith("trafficsplits."))
    foreign["metadata"]["labels"] = {"app.kubernetes.io/part-of": "another-mesh"}
    uninstall(api, timeout_s=120)  # the module's installation, unless an earlier test removed it
    api.request("POST", crds, body=foreign)
    name = foreign["metadata"]["name"]
    try:
        with pytest.raises(InstallError, match=name):
            install(api, InstallOptions(reference_mesh.image), timeout_s=60)
        assert leftovers(api) == []  # refused before anything was applied
        uninstall(api, timeout_s=60)
        assert api.get(f"{crds}/{name}")["metadata"]["labels"] == foreign["metadata"]["labels"]
    finally:
        api.request("DELETE", f"{crds}/{name}")
        wait_for(
            f"CRD {name} to go",
            lambda: not [c for c in api.get(crds)["items"] if c["metadata"]["name"] == name],
        )


def test_install_waits_for_smi_crds_still_being_deleted(reference_mesh: InstalledMesh) -> None:
    """Another mesh uninstalled a moment ago leaves its SMI CRDs terminating while the API server removes
    their objects: install waits for them to go (as for a previous installation's namespace) instead of
    refusing them as someone else's. A finalizer holds one CRD terminating until the wait is seen."""
    import contextlib
    import threading

    from reference_mesh.kube.install import install, uninstall
    from reference_mesh.kube.manifests import InstallOptions, smi_crds

    api = reference_mesh.api
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    held = next(c for c in smi_crds() if c["metadata"]["name"].startswith("trafficsplits."))
    held["metadata"]["labels"] = {"app.kubernetes.io/part-of": "another-mesh"}
    held["metadata"]["finalizers"] = ["smi-conformance.test/hold"]
    name = held["metadata"]["name"]
    uninstall(api, timeout_s=120)
    api.request("POST", crds, body=held)
    api.request("DELETE", f"{crds}/{name}")
    release = [{"op": "remove", "path": "/metadata/finalizers"}]
    logged: list[str] = []
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            install(api, InstallOptions(reference_mesh.image), timeout_s=240, log=logged.append)
            outcome.append(None)
        except BaseException as exc:  # reported by the test below
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    try:
        worker.start()

        def waiting() -> bool:
            assert not outcome, f"install ended while a CRD was still terminating: {outcome}"
            return any("being deleted" in m for m in logged)

        wait_for("install to wait for the terminating CRD", waiting)
        api.request("PATCH", f"{crds}/{name}", body=release, content_type="application/json-patch+json")
        worker.join(timeout=300)
        assert outcome == [None], f"install failed: {outcome}; log: {logged}"
        labels = api.get(f"{crds}/{name}")["metadata"]["labels"]
        assert labels[names.PART_OF[0]] == names.PART_OF[1]  # ours now, applied once the other one went
    finally:
        with contextlib.suppress(ApiError):  # released above, or gone
            api.request("PATCH", f"{crds}/{name}", body=release, content_type="application/json-patch+json")
        worker.join(timeout=300)
        uninstall(api, timeout_s=300)
