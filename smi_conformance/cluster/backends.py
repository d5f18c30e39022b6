"""The cluster a run asked for (``--smi-cluster``): the adapter's embedded one, or a Kubernetes backend."""

from __future__ import annotations

from collections.abc import Callable

from smi_conformance.cluster.base import Cluster, ClusterError
from smi_conformance.mesh.adapter import MeshAdapter
from smi_conformance.suite.settings import SuiteSettings
from smi_conformance.suite.topology import Topology

__all__ = ["cluster_for"]


def _tree_image() -> str:
    from smi_conformance.images import ImageBuildError, image_name

    try:
        return image_name()
    except (ImageBuildError, OSError) as exc:
        raise ClusterError(
            "name the suite's image with --smi-image (one the cluster's nodes can pull; "
            f"`smi-conformance images build` builds it from a checkout): {exc}"
        ) from exc


def cluster_for(
    settings: SuiteSettings, adapter: MeshAdapter, topology: Topology, log: Callable[[str], None]
) -> Cluster:
    """A cluster backend, not started. AdapterError when the mesh cannot run there."""
    if settings.cluster == "embedded":
        return adapter.embedded_cluster(topology, run_dir=None)
    support = adapter.kubernetes()
    if settings.cluster == "kind":
        from smi_conformance.cluster.kind_backend import KindBackend

        return KindBackend(
            topology,
            support,
            name=settings.kind_cluster,
            image=settings.image,
            keep_cluster=settings.keep_cluster,
            log=log,
        )
    from smi_conformance.cluster.kubernetes import KubernetesCluster

    return KubernetesCluster(
        topology,
        support,
        context=settings.kube_context or "",
        kubeconfig=settings.kubeconfig,
        image=settings.image or _tree_image(),
        log=log,
    )
