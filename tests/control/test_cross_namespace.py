"""Namespaces as an authorization boundary, end to end (real processes, sockets and mTLS): a TrafficTarget
opens workloads of its own namespace only. Written by whoever may write TrafficTargets in namespace ``other``,
one naming ``default``'s ``api`` is refused by admission (SMI404), and one put into the store by other means
grants nothing; sources in other namespaces stay allowed when ``default`` says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from traffic import Result, request, session

from reference_mesh.runtime.sync import MeshThread, running_mesh
from reference_mesh.runtime.topology import Topology
from smi_conformance import models

TOPOLOGY = Topology.model_validate(
    {
        "name": "namespaces",
        "serviceAccounts": [{"name": "api"}, {"name": "eve", "namespace": "other"}],
        "services": [
            {"name": "api", "selector": {"app": "api"}, "ports": [{"port": 8080, "protocol": "http"}]}
        ],
        "deployments": [
            {
                "name": "api",
                "serviceAccount": "api",
                "labels": {"app": "api"},
                "ports": [{"port": 8080, "protocol": "http"}],
            },
            {"name": "eve", "namespace": "other", "serviceAccount": "eve", "labels": {"app": "eve"}},
        ],
    }
)

ROUTES = """
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {{name: everything, namespace: {ns}}}
spec: {{matches: [{{name: all, pathRegex: ".*"}}]}}
"""
TARGET = """
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {{name: eve-to-api, namespace: {ns}}}
spec:
  destination: {{kind: ServiceAccount, name: api, namespace: default}}
  sources: [{{kind: ServiceAccount, name: eve, namespace: other}}]
  rules: [{{kind: HTTPRouteGroup, name: everything}}]
"""


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshThread]:
    with running_mesh(TOPOLOGY, home=tmp_path_factory.mktemp("home"), base_dir=Path.cwd()) as handle:
        yield handle


def eve_calls_api(mesh: MeshThread) -> Result:
    async def go() -> Result:
        async with session() as s:
            return await request(s, mesh.mesh, "eve-0", "/", host="api.default", namespace="other")

    return mesh.run(go())


def docs(ns: str) -> str:
    return ROUTES.format(ns=ns) + "---" + TARGET.format(ns=ns)


def test_a_target_in_another_namespace_is_refused_and_grants_nothing_from_the_store(mesh: MeshThread) -> None:
    m = mesh.mesh
    assert eve_calls_api(mesh).status == 403  # deny by default

    outcome = mesh.apply(docs("other"), "grab.yaml")
    refused = [f for f in outcome.admission.findings if f.severity == "error"]
    assert [(f.code, str(f.location)) for f in refused] == [("SMI404", "grab.yaml:11:61")]
    assert outcome.revision is None and m.store.get("TrafficTarget", "other", "eve-to-api") is None
    mesh.converge()
    assert eve_calls_api(mesh).status == 403

    # in the store by other means (admission bypassed): the compiler still gives api no rule from it
    objects = [models.load(d) for d in yaml.safe_load_all(docs("other"))]
    mesh.run(m.store.apply(objects))
    mesh.converge()
    assert m.store.get("TrafficTarget", "other", "eve-to-api") is not None
    result = eve_calls_api(mesh)
    assert result.status == 403, result.body


def test_the_destination_namespace_may_admit_a_source_from_another(mesh: MeshThread) -> None:
    outcome = mesh.apply(docs("default"), "allow.yaml")
    assert outcome.admission.ok, [str(f) for f in outcome.admission.findings]
    mesh.converge()
    result = eve_calls_api(mesh)
    assert result.status == 200, result.body
    mesh.apply(docs("default"), "allow.yaml", delete=True)
    mesh.converge()
    assert eve_calls_api(mesh).status == 403
