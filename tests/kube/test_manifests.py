"""What ``reference-mesh install`` creates (reference_mesh/kube/manifests.py) and its command line without a
cluster. Applying, waiting and uninstalling: tests/kind/test_reference_mesh.py."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import yaml

from reference_mesh.identity import CertificateAuthority
from reference_mesh.kube import names
from reference_mesh.kube.inject import InjectionConfig
from reference_mesh.kube.manifests import InstallOptions, render, resource_of

REPO = Path(__file__).resolve().parents[2]


def objects() -> tuple[CertificateAuthority, list[dict[str, object]]]:
    ca = CertificateAuthority.create("cluster.local")
    return ca, render(InstallOptions("smi-conformance/mesh:abc"), ca)


def by_kind(objs: list[dict[str, object]], kind: str) -> list[dict[str, object]]:
    return [o for o in objs if o["kind"] == kind]


def test_the_crds_are_the_checked_in_ones_and_come_before_what_uses_them() -> None:
    """The checked-in CRDs, except that every released version is served, through the control plane's
    conversion webhook (the checked-in set serves only versions with the storage version's schema)."""
    ca, objs = objects()
    crds = by_kind(objs, "CustomResourceDefinition")
    files = sorted(p for p in (REPO / "schemas" / "crds").glob("*.yaml"))
    checked_in = {d["metadata"]["name"]: d for f in files for d in yaml.safe_load_all(f.read_text()) if d}
    bundle = base64.b64encode(ca.bundle.pem()).decode()
    for crd in crds:
        crd["metadata"]["labels"].pop(names.PART_OF[0])
        if not crd["metadata"]["labels"]:
            del crd["metadata"]["labels"]
        hook = crd["spec"]["conversion"]
        crd["spec"]["conversion"] = checked_in[crd["metadata"]["name"]]["spec"].get("conversion")
        if crd["spec"]["conversion"] is None:
            del crd["spec"]["conversion"]
        assert hook["strategy"] == "Webhook" and hook["webhook"]["conversionReviewVersions"] == ["v1"]
        assert hook["webhook"]["clientConfig"]["caBundle"] == bundle
        assert hook["webhook"]["clientConfig"]["service"]["path"] == "/convert-smi"
        original = checked_in[crd["metadata"]["name"]]
        for version, before in zip(crd["spec"]["versions"], original["spec"]["versions"], strict=True):
            experimental = (crd["spec"]["names"]["kind"], version["name"]) == ("TrafficTarget", "v1alpha4")
            assert version.pop("served") is not experimental, version["name"]
            version["served"] = before["served"]
    assert sorted(crds, key=lambda c: c["metadata"]["name"]) == sorted(
        checked_in.values(), key=lambda c: c["metadata"]["name"]
    )
    kinds = [o["kind"] for o in objs]
    assert kinds[0] == "Namespace" and kinds.index("CustomResourceDefinition") < kinds.index("Deployment")
    assert kinds[-3:] == ["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "APIService"]


def test_everything_is_labelled_and_trusts_the_mesh_ca() -> None:
    ca, objs = objects()
    assert all(o["metadata"]["labels"][names.PART_OF[0]] == names.PART_OF[1] for o in objs)
    bundle = base64.b64encode(ca.bundle.pem()).decode()
    hooks = [w for o in objs if o["kind"].endswith("WebhookConfiguration") for w in o["webhooks"]]
    assert {w["clientConfig"]["caBundle"] for w in hooks} == {bundle}
    assert by_kind(objs, "APIService")[0]["spec"]["caBundle"] == bundle
    secret = by_kind(objs, "Secret")[0]
    assert base64.b64decode(secret["data"]["tls.key"]) == ca.key_pem()
    config = InjectionConfig.from_json(by_kind(objs, "ConfigMap")[0]["data"]["config.json"])
    assert config.image == "smi-conformance/mesh:abc" and config.trust_anchors == ca.bundle.pem().decode()
    injector = by_kind(objs, "MutatingWebhookConfiguration")[0]["webhooks"][0]
    assert injector["namespaceSelector"] == {"matchLabels": {names.INJECT_LABEL: "enabled"}}
    assert injector["failurePolicy"] == "Fail" and injector["rules"][0]["resources"] == ["pods"]


def test_every_object_has_a_known_resource() -> None:
    _, objs = objects()
    for obj in objs:
        resource_of(obj)  # raises for a kind install does not know how to apply


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reference_mesh.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_install_renders_yaml_without_a_cluster() -> None:
    done = run("install", "--render", "--image", "example/mesh:1")
    assert done.returncode == 0, done.stderr
    docs = list(yaml.safe_load_all(done.stdout))
    assert len(docs) == len(objects()[1])
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "example/mesh:1"
    assert "keep the output private" in done.stderr


def test_cluster_commands_refuse_to_guess_the_cluster(tmp_path: Path) -> None:
    for args in (("install",), ("uninstall",)):
        done = run(*args)
        assert done.returncode == 2 and "--context" in done.stderr, done.stderr
    missing = run("uninstall", "--kubeconfig", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    # a cluster that cannot be reached is exit code 3, as for a mesh that is not running
    unreachable = tmp_path / "kubeconfig"
    unreachable.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    for args in (("uninstall",), ("check",), ("top",)):
        done = run(*args, "--kubeconfig", str(unreachable))
        assert done.returncode == 3, (args, done.stdout, done.stderr)
        assert "cannot reach the cluster" in done.stderr and "Traceback" not in done.stderr
