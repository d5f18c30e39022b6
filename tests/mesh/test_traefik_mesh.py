"""The Traefik Mesh adapter's files without a cluster: its CRDs are the suite's schemas in Traefik Mesh's
versions, its manifests are objects the adapter can fill in and an uninstall can find, the controller's port
limits match the proxies' entry points, and its scripts parse. (On kind: tests/kind/test_traefik_mesh.py.)"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from smi_conformance.mesh.declarative import DeclarativeAdapter, DeclarativeKubernetes
from smi_conformance.mesh.loader import load_adapter

from .traefik_mesh_crds import PATH as CRDS
from .traefik_mesh_crds import VERSIONS, render

REPO = Path(__file__).resolve().parents[2]
FOLDER = CRDS.parent
LABEL = ("smi-conformance.io/adapter", "traefik-mesh")


@pytest.fixture(scope="module")
def adapter() -> DeclarativeAdapter:
    loaded = load_adapter("traefik-mesh")
    assert isinstance(loaded, DeclarativeAdapter)
    return loaded


def manifest(adapter: DeclarativeAdapter, name: str) -> list[dict[str, Any]]:
    kube = adapter.kubernetes()
    assert isinstance(kube, DeclarativeKubernetes)
    kube.built = {"controller": "example/controller:1", "proxy": "example/proxy:1"}
    return kube._manifest(name, kube.variables(), name)


def test_the_crds_are_up_to_date_with_the_models() -> None:
    assert CRDS.read_text() == render(), "run: python -m tests.mesh.traefik_mesh_crds"


def test_each_crd_serves_only_the_version_traefik_mesh_reads(adapter: DeclarativeAdapter) -> None:
    crds = manifest(adapter, "traefik-mesh/crds.yaml")
    assert {c["metadata"]["name"] for c in crds} == {
        "traffictargets.access.smi-spec.io",
        "httproutegroups.specs.smi-spec.io",
        "tcproutes.specs.smi-spec.io",
        "trafficsplits.split.smi-spec.io",
    }
    for crd in crds:
        (version,) = crd["spec"]["versions"]
        assert (version["name"], version["served"], version["storage"]) == (
            VERSIONS[crd["spec"]["group"]],
            True,
            True,
        )
        assert crd["metadata"]["labels"][LABEL[0]] == LABEL[1]
    # and the adapter claims exactly those versions
    assert adapter.info.api_versions == {g: [v] for g, v in VERSIONS.items()}


@pytest.mark.parametrize("name", ["namespace.yaml", "mesh.yaml", "cleanup.yaml"])
def test_every_object_is_labelled_and_in_the_mesh_namespace(adapter: DeclarativeAdapter, name: str) -> None:
    for obj in manifest(adapter, f"traefik-mesh/{name}"):
        where = f"{name}: {obj['kind']} {obj['metadata']['name']}"
        assert obj["metadata"]["labels"][LABEL[0]] == LABEL[1], where
        if obj["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert obj["metadata"]["namespace"] == "traefik-mesh", where


def test_the_images_are_the_build_steps(adapter: DeclarativeAdapter) -> None:
    objects = manifest(adapter, "traefik-mesh/mesh.yaml") + manifest(adapter, "traefik-mesh/cleanup.yaml")
    images = {
        c["image"]
        for o in objects
        if o["kind"] in ("Deployment", "DaemonSet", "Job")
        for c in o["spec"]["template"]["spec"].get("initContainers", [])
        + o["spec"]["template"]["spec"]["containers"]
    }
    assert images == {"example/controller:1", "example/proxy:1"}


def test_the_controllers_port_limits_match_the_proxies_entry_points(adapter: DeclarativeAdapter) -> None:
    """The controller maps a Service's n-th HTTP port to the proxies' port 5000+n (TCP and UDP ports from
    10000 and 15000, one per Service port): a limit beyond the entry points would route to a closed port."""
    objects = {o["kind"]: o for o in manifest(adapter, "traefik-mesh/mesh.yaml")}
    args = objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]["args"]
    limits = {
        m.group(1).lower(): int(m.group(2)) for a in args if (m := re.fullmatch(r"--limit(\w+)Port=(\d+)", a))
    }
    proxy = objects["DaemonSet"]["spec"]["template"]["spec"]["containers"][0]["args"]
    for kind, first in (("http", 5000), ("tcp", 10000), ("udp", 15000)):
        ports = sorted(
            int(m.group(1))
            for a in proxy
            if (m := re.fullmatch(rf"--entryPoints\.{kind}-(\d+)\.address=.*", a))
        )
        assert ports == list(range(first, first + limits[kind])), kind
    assert "--acl" in args


def test_the_scripts_parse_and_the_build_names_its_images() -> None:
    for script in (FOLDER / "steps.sh", REPO / "ci" / "traefik-mesh" / "build.sh"):
        subprocess.run(["bash", "-n", str(script)], check=True)
    names = subprocess.run(
        ["bash", str(REPO / "ci" / "traefik-mesh" / "build.sh"), "--name"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    assert [n.split("=")[0] for n in names] == ["TRAEFIK_MESH_CONTROLLER_IMAGE", "TRAEFIK_MESH_PROXY_IMAGE"]
    assert ":v1.4.8-" in names[0] and ":v2.8.3-" in names[1]
    usage = subprocess.run(["bash", str(FOLDER / "steps.sh"), "nonsense"], capture_output=True, text=True)
    assert usage.returncode == 2 and "usage" in usage.stderr
