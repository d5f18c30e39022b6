"""``--context`` / ``--kubeconfig``: how commands that act on a Kubernetes cluster are told which one.

A command never picks the current kubeconfig context implicitly: installing a mesh, or reading one, on
the wrong cluster is too easy otherwise. Name the context, or a kubeconfig file (its current context is
then used).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from reference_mesh.cli.client import Unreachable
from reference_mesh.kube.client import ApiError, KubeApi, connect

__all__ = ["cluster_options", "connect_cluster", "wants_cluster"]


def cluster_options(f: Any) -> Any:
    f = click.option(
        "--kubeconfig",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="kubeconfig file of the cluster (its current context unless --context is given)",
    )(f)
    return click.option("--context", "kube_context", default=None, help="kubeconfig context of the cluster")(
        f
    )


def wants_cluster(kube_context: str | None, kubeconfig: Path | None) -> bool:
    return kube_context is not None or kubeconfig is not None


def connect_cluster(kube_context: str | None, kubeconfig: Path | None) -> KubeApi:
    """The API of the cluster named; a usage error when none is named, exit 3 when it cannot be reached."""
    if not wants_cluster(kube_context, kubeconfig):
        raise click.UsageError("name the cluster: --context NAME (or --kubeconfig FILE)")
    if kubeconfig is not None and not kubeconfig.is_file():
        raise click.UsageError(f"--kubeconfig {kubeconfig}: no such file")
    try:
        api = KubeApi(connect(kubeconfig, kube_context))
        api.get("/version")
    except ApiError as exc:
        raise Unreachable(f"cannot reach the cluster: {exc.message}") from None
    return api
