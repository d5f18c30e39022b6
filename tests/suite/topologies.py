"""Small topologies for the oracle's hand cases: the spec's examples and the bundled bookstore."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from smi_conformance.suite.topology import PortSpec, Protocol, ServiceSpec, Topology, WorkloadSpec

REPO_ROOT = Path(__file__).resolve().parents[2]
HTTP = ((8080, "http"),)


def ports(*spec: tuple[int, Protocol]) -> tuple[PortSpec, ...]:
    return tuple(PortSpec(number, protocol, f"{protocol}-{number}") for number, protocol in spec)


def topology(
    namespaces: tuple[str, str],
    services: Iterable[tuple[str, Mapping[str, str], tuple[tuple[int, Protocol], ...]]],
    workloads: Iterable[tuple[str, str, Mapping[str, str]]],
) -> Topology:
    """``services``: (name or ns/name, selector, ports); ``workloads``: (name or ns/name, account, labels)."""

    def split(name: str) -> tuple[str, str]:
        ns, _, short = name.rpartition("/")
        return ns or namespaces[0], short

    svc = [ServiceSpec(split(n)[1], split(n)[0], dict(sel), ports(*p)) for n, sel, p in services]
    wl = [
        WorkloadSpec(split(n)[1], split(n)[0], account, dict(labels), "backend")
        for n, account, labels in workloads
    ]
    accounts = sorted({(w.namespace, w.service_account) for w in wl})
    return Topology(namespaces, tuple(accounts), tuple(svc), tuple(wl))


def versions(app: str, *names: str, port_spec: tuple[tuple[int, Protocol], ...] = HTTP) -> list[Any]:
    """A root Service ``app`` and one Service + workload per version name (``app-v1`` selects version v1)."""
    services: list[Any] = [(app, {"app": app}, port_spec)]
    workloads: list[Any] = []
    for name in names:
        version = name.removeprefix(f"{app}-")
        services.append((name, {"app": app, "version": version}, port_spec))
        workloads.append((name, app, {"app": app, "version": version}))
    return [services, workloads]


def bookstore() -> tuple[Topology, list[dict[str, Any]]]:
    """examples/bookstore: its Services (workloads.yaml), its Deployments and StatefulSet (deployments.yaml),
    a Prometheus in namespace monitoring and an intruder the policies never name; and its SMI objects."""
    folder = REPO_ROOT / "examples" / "bookstore"
    services, documents = [], []
    workloads: list[Any] = [
        ("monitoring/prometheus", "prometheus", {"app": "prometheus"}),
        ("bookstore/intruder", "intruder", {"app": "intruder"}),
    ]
    for path in sorted(folder.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is None:
                continue
            name = f"{doc['metadata']['namespace']}/{doc['metadata']['name']}"
            if doc["kind"] == "Service":
                numbers = tuple(
                    (p["port"], "tcp" if p["name"] == "postgres" else "http") for p in doc["spec"]["ports"]
                )
                services.append((name, doc["spec"]["selector"], numbers))
            elif doc["kind"] in ("Deployment", "StatefulSet"):
                pod = doc["spec"]["template"]
                workloads.append((name, pod["spec"]["serviceAccountName"], pod["metadata"]["labels"]))
            elif doc["apiVersion"].split("/")[0].endswith(".smi-spec.io"):
                documents.append(doc)
    return topology(("bookstore", "monitoring"), services, workloads), documents
