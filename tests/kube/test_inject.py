"""Sidecar injection (reference_mesh/kube/inject.py), the pod webhook's verdicts, and
``reference-mesh inject`` as a manifest filter."""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from reference_mesh.kube import names
from reference_mesh.kube.inject import (
    InjectionConfig,
    InjectionError,
    inject_manifest,
    inject_pod,
    pod_templates,
)
from reference_mesh.kube.webhooks import ReviewError, admit_pod

CONFIG = InjectionConfig(image="smi-conformance/mesh:abc", trust_anchors="-----BEGIN CERTIFICATE-----\n...")


def pod_spec(**extra: Any) -> dict[str, Any]:
    return {"containers": [{"name": "app", "image": "web", "ports": [{"containerPort": 8080}]}], **extra}


def test_an_injected_pod_gets_interception_a_native_sidecar_proxy_and_its_token() -> None:
    metadata = {
        "labels": {"app": "web"},
        "annotations": {names.SKIP_INBOUND_PORTS: "9999", names.SKIP_OUTBOUND_PORTS: "5432"},
    }
    spec = pod_spec(
        initContainers=[{"name": "migrate", "image": "web"}], volumes=[{"name": "data", "emptyDir": {}}]
    )
    before = copy.deepcopy((metadata, spec))
    new_meta, new_spec = inject_pod(metadata, spec, CONFIG)
    assert (metadata, spec) == before  # the inputs are left as they were

    init, proxy, migrate = new_spec["initContainers"]
    assert (init["name"], proxy["name"], migrate["name"]) == (
        names.INIT_CONTAINER,
        names.PROXY_CONTAINER,
        "migrate",
    )
    assert init["command"][:3] == ["python3", "-m", "reference_mesh.kube.interception"]
    assert f"--proxy-uid={names.PROXY_UID}" in init["command"]
    assert (
        "--skip-inbound-ports=9999,15000" in init["command"]
        and "--skip-outbound-ports=5432" in init["command"]
    )
    assert init["securityContext"]["capabilities"] == {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]}
    # the proxy: a native sidecar (starts before the app, which waits for its startup probe), unprivileged
    assert proxy["restartPolicy"] == "Always" and proxy["startupProbe"]["httpGet"]["path"] == "/ready"
    assert (
        proxy["securityContext"]["runAsUser"] == names.PROXY_UID and proxy["securityContext"]["runAsNonRoot"]
    )
    env = {e["name"]: e.get("value") for e in proxy["env"]}
    assert env["MESH_TRUST_ANCHORS"] == CONFIG.trust_anchors
    assert new_spec["containers"] == spec["containers"]  # the application is untouched
    token = next(v for v in new_spec["volumes"] if v["name"] == names.TOKEN_VOLUME)
    source = token["projected"]["sources"][0]["serviceAccountToken"]
    assert source["audience"] == names.TOKEN_AUDIENCE and source["expirationSeconds"] == 3600
    assert new_meta["labels"] == {"app": "web", names.PROXY_LABEL: "injected"}

    # once is enough: injecting again changes nothing
    again_meta, again_spec = inject_pod(new_meta, new_spec, CONFIG)
    assert (again_meta, again_spec) == (new_meta, new_spec)


@pytest.mark.parametrize(
    ("spec", "annotations", "error"),
    [
        (pod_spec(containers=[{"name": "app", "ports": [{"containerPort": 15001}]}]), {}, "15001"),
        (pod_spec(hostNetwork=True), {}, "host network"),
        (pod_spec(), {names.SKIP_INBOUND_PORTS: "80,http"}, "'http' is not a port"),
        (pod_spec(), {names.SKIP_OUTBOUND_PORTS: "70000"}, "'70000' is not a port"),
    ],
)
def test_pods_that_cannot_be_meshed_are_refused_with_the_reason(
    spec: dict[str, Any], annotations: dict[str, str], error: str
) -> None:
    with pytest.raises(InjectionError, match=error):
        inject_pod({"annotations": annotations}, spec, CONFIG)


def test_pod_templates_are_found_in_every_workload_kind() -> None:
    template = {"metadata": {}, "spec": pod_spec()}
    docs = [
        {"kind": "Pod", **template},
        {"kind": "Deployment", "spec": {"template": template}},
        {"kind": "StatefulSet", "spec": {"template": template}},
        {"kind": "Job", "spec": {"template": template}},
        {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": template}}}},
        {
            "kind": "List",
            "items": [{"kind": "DaemonSet", "spec": {"template": template}}, {"kind": "Service"}],
        },
        {"kind": "Service", "spec": {}},
    ]
    assert [len(list(pod_templates(d))) for d in docs] == [1, 1, 1, 1, 1, 1, 0]
    deployment = {"kind": "Deployment", "spec": {"template": copy.deepcopy(template)}}
    injected, count = inject_manifest(deployment, CONFIG)
    assert (
        count == 1
        and injected["spec"]["template"]["spec"]["initContainers"][1]["name"] == names.PROXY_CONTAINER
    )
    assert inject_manifest(injected, CONFIG)[1] == 0


def test_the_injection_config_round_trips_through_json() -> None:
    assert InjectionConfig.from_json(CONFIG.to_json()) == CONFIG
    with pytest.raises(ValueError):
        InjectionConfig.from_json("[1]")


# ------------------------------------------------------------------------------------------------ webhook
def review(pod: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {"uid": "u-1", "namespace": "shop", "operation": "CREATE", "object": pod},
    }


def apply_patch(obj: dict[str, Any], patch: list[dict[str, Any]]) -> dict[str, Any]:
    """The two JSON patch operations the webhook uses (add/replace of an object member)."""
    obj = copy.deepcopy(obj)
    for op in patch:
        assert op["op"] in ("add", "replace")
        *parents, last = op["path"].strip("/").split("/")
        target = obj
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = op["value"]
    return obj


def test_the_pod_webhook_patches_in_what_inject_adds() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "web-", "labels": {"app": "web"}},
        "spec": pod_spec(),
    }
    answer = admit_pod(review(pod), CONFIG)["response"]
    assert answer["uid"] == "u-1" and answer["allowed"] and answer["patchType"] == "JSONPatch"
    patched = apply_patch(pod, json.loads(base64.b64decode(answer["patch"])))
    expected_meta, expected_spec = inject_pod(pod["metadata"], pod["spec"], CONFIG)
    assert patched["spec"] == expected_spec and patched["metadata"]["labels"] == expected_meta["labels"]


def test_the_pod_webhook_leaves_opted_out_and_injected_pods_and_refuses_unmeshable_ones() -> None:
    opted_out = {"metadata": {"labels": {names.INJECT_LABEL: "disabled"}}, "spec": pod_spec()}
    assert "patch" not in admit_pod(review(opted_out), CONFIG)["response"]
    meta, spec = inject_pod({}, pod_spec(), CONFIG)
    assert "patch" not in admit_pod(review({"metadata": meta, "spec": spec}), CONFIG)["response"]
    refused = admit_pod(review({"metadata": {}, "spec": pod_spec(hostNetwork=True)}), CONFIG)["response"]
    assert not refused["allowed"] and "host network" in refused["status"]["message"]
    with pytest.raises(ReviewError):
        admit_pod({"kind": "Pod"}, CONFIG)


# ---------------------------------------------------------------------------------------------------- CLI
def run_inject(tmp_path: Path, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "mesh-config.json"
    config.write_text(CONFIG.to_json())
    return subprocess.run(
        [sys.executable, "-m", "reference_mesh.cli", "inject", "--config", str(config), *args],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_inject_filters_manifests_from_stdin_to_stdout(tmp_path: Path) -> None:
    docs = [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"ports": [{"port": 80}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec()}},
        },
        {
            "apiVersion": "v1",
            "kind": "List",
            "items": [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": pod_spec()}],
        },
    ]
    done = run_inject(tmp_path, yaml.safe_dump_all(docs))
    assert done.returncode == 0, done.stderr
    assert "2 pod template(s) injected" in done.stderr
    out = list(yaml.safe_load_all(done.stdout))
    assert [d["kind"] for d in out] == ["Service", "Deployment", "List"]
    assert out[0] == docs[0]
    assert out[1]["spec"]["template"]["spec"]["initContainers"][1]["name"] == names.PROXY_CONTAINER
    assert out[2]["items"][0]["spec"]["initContainers"][0]["name"] == names.INIT_CONTAINER


def test_inject_reports_bad_input_with_its_location_and_writes_nothing(tmp_path: Path) -> None:
    bad = run_inject(tmp_path, "kind: Pod\nspec: [unclosed\n")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.startswith("<stdin>:") and "Traceback" not in bad.stderr
    unmeshable = run_inject(
        tmp_path,
        yaml.safe_dump({"kind": "Pod", "metadata": {"name": "p"}, "spec": pod_spec(hostNetwork=True)}),
    )
    assert unmeshable.returncode == 1 and unmeshable.stdout == "" and "host network" in unmeshable.stderr
    no_mesh = subprocess.run(
        [sys.executable, "-m", "reference_mesh.cli", "inject"],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert no_mesh.returncode == 2 and "--config" in no_mesh.stderr
