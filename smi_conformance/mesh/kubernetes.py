"""How a mesh runs on Kubernetes, as far as the conformance suite needs to know: the adapter's side of the
Kubernetes backends (``--smi-cluster=kind`` and ``--smi-cluster=kubeconfig``).

The suite deploys the standard topology itself (namespaces, service accounts, Services, echo backends,
traffic drivers); the mesh's part is :class:`KubernetesSupport`:

* ``install`` / ``uninstall`` the mesh (uninstall leaves the cluster as it was);
* enrol the suite's namespaces and pods: labels and annotations set when they are created (an injection
  label, an annotation that leaves the driver's control port out of interception), plus ``enrol`` for
  anything else (a CLI command per namespace);
* how a client names a Service (most meshes: Kubernetes DNS; Traefik Mesh: ``<svc>.<ns>.traefik.mesh``);
* the images it needs in the nodes (a kind cluster without a registry gets them loaded).

An adapter returns one from :meth:`~smi_conformance.mesh.adapter.MeshAdapter.kubernetes`; declarative adapter
files (:mod:`.declarative`) get theirs from the file.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smi_conformance.cluster.kubeapi import KubeApi
from smi_conformance.cluster.kubeobjects import Objects
from smi_conformance.suite.topology import WorkloadSpec

__all__ = ["KubeAccess", "KubernetesSupport", "Stamp"]


@dataclass(frozen=True)
class Stamp:
    """Labels and annotations the mesh wants on an object of the standard topology."""

    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class KubeAccess:
    """What an adapter gets to act on the cluster: the API (and the same cluster for command-line tools,
    through ``env()``), the suite's image, and where to say what it is doing."""

    api: KubeApi
    objects: Objects
    #: The kubeconfig file and the context the run was given (never the user's current context).
    kubeconfig: Path | None
    context: str
    #: The suite's image (echo, traffic driver; the reference mesh runs from it too).
    image: str
    image_pull_policy: str = "IfNotPresent"
    #: Longest wait for one step (install until ready, uninstall until gone).
    timeout_s: float = 300.0
    log: Callable[[str], None] = lambda _: None

    def env(self, **extra: str) -> dict[str, str]:
        """The environment for a command-line tool: this process's, with ``KUBECONFIG`` and
        ``KUBE_CONTEXT`` naming the run's cluster."""
        env = dict(os.environ)
        if self.kubeconfig is not None:
            env["KUBECONFIG"] = str(self.kubeconfig)
        env["KUBE_CONTEXT"] = self.context
        env.update(extra)
        return env


class KubernetesSupport(abc.ABC):
    """A mesh on Kubernetes. Methods other than install/uninstall have defaults that fit a mesh enrolled by
    nothing at all (no labels, Kubernetes DNS names)."""

    #: Namespaces the mesh's own components run in: their events and logs go into the artifacts.
    system_namespaces: tuple[str, ...] = ()

    def prepare(self) -> None:  # noqa: B027 (optional: nothing by default)
        """Build on this machine what the mesh needs (images), before ``images`` and ``install``; called
        once per run."""

    def images(self) -> list[str]:
        """Images the nodes need besides the suite's own (a kind cluster gets them loaded)."""
        return []

    @abc.abstractmethod
    def install(self, kube: KubeAccess) -> None:
        """Install the mesh and return once it is ready to mesh new pods. ClusterError when it cannot."""

    @abc.abstractmethod
    def uninstall(self, kube: KubeAccess) -> None:
        """Remove everything ``install`` created and return once it is gone."""

    def namespace(self) -> Stamp:
        """Labels and annotations of the suite's namespaces (e.g. an injection label)."""
        return Stamp()

    def enrol(self, kube: KubeAccess, namespace: str) -> None:  # noqa: B027 (optional: nothing by default)
        """Anything else that meshes ``namespace``, after it is created and before its pods are."""

    def pod(self, workload: WorkloadSpec, driver_port: int) -> Stamp:
        """Labels and annotations of a workload's pods; a client's (``workload.role == "client"``) must leave
        ``driver_port`` (the suite's control channel to the traffic driver) out of interception."""
        return Stamp()

    def service(self) -> Stamp:
        """Labels and annotations of the suite's Services (e.g. Traefik Mesh's traffic type)."""
        return Stamp()

    def service_host(self, service: str, namespace: str) -> str:
        """The name a client dials for a Service (``host`` of ``host:port``)."""
        return f"{service}.{namespace}.svc.cluster.local"

    def describe(self) -> dict[str, Any]:
        """What the report says about the installation."""
        return {}
