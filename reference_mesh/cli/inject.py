"""``reference-mesh inject``: add the mesh's sidecar to the pods of manifests (stdin to stdout by default).

    kubectl get deploy web -o yaml | reference-mesh inject --context kind-smi-kind | kubectl apply -f -
    reference-mesh inject --config mesh-config.json -f deploy/ > meshed.yaml

Pods, workload templates (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob) and the items of
Lists are injected; every other document passes unchanged. What the sidecar needs to know of the mesh (its
image, trust anchors) is read from the installed mesh (``--context``/``--kubeconfig``) or from ``--config``
(the JSON of the ConfigMap ``reference-mesh/mesh-config``). Unreadable input is reported with its location
and nothing is written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import yaml

from reference_mesh.cli.cluster import cluster_options, connect_cluster
from reference_mesh.kube import names
from reference_mesh.kube.client import ApiError
from reference_mesh.kube.inject import InjectionConfig, InjectionError, inject_manifest
from smi_conformance.manifests import load_paths

__all__ = ["inject"]


def _config(config_file: Path | None, kube_context: str | None, kubeconfig: Path | None) -> InjectionConfig:
    try:
        if config_file is not None:
            return InjectionConfig.from_json(config_file.read_text())
        api = connect_cluster(kube_context, kubeconfig)
        path = f"/api/v1/namespaces/{names.NAMESPACE}/configmaps/{names.CONFIG_MAP}"
        return InjectionConfig.from_json(api.get(path)["data"]["config.json"])
    except ApiError as exc:
        if exc.status == 404:
            raise click.ClickException("the reference mesh is not installed on that cluster") from None
        raise click.ClickException(str(exc)) from None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise click.UsageError(f"mesh configuration: {exc}") from None


@click.command()
@click.option(
    "-f", "--filename", "files", multiple=True, default=["-"], show_default=True, help="File, dir or -"
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="mesh-config JSON (instead of reading it from the cluster)",
)
@cluster_options
def inject(
    files: tuple[str, ...], config_file: Path | None, kube_context: str | None, kubeconfig: Path | None
) -> None:
    """Inject the sidecar into the pods of the manifests given; print the result."""
    if config_file is None and kube_context is None and kubeconfig is None:
        raise click.UsageError("give --config FILE, or name the cluster the mesh is installed on (--context)")
    loaded = load_paths(list(files))
    problems = [f"{name}: {why}" for name, why in loaded.unreadable]
    problems += [f"{issue.location}: {issue.message}" for issue in loaded.issues]
    if problems:
        for problem in problems:
            click.echo(problem, err=True)
        sys.exit(2)
    config = _config(config_file, kube_context, kubeconfig)
    out: list[Any] = []
    seen: set[int] = set()
    total = 0
    for doc in loaded.documents:
        data = doc.parent if doc.parent is not None else doc.data
        if id(data) in seen:
            continue  # a List's items come one by one: the List is written once
        seen.add(id(data))
        if isinstance(data, dict):
            try:
                data, count = inject_manifest(data, config)
            except InjectionError as exc:
                click.echo(f"{doc.locate()}: {exc}", err=True)
                sys.exit(1)
            total += count
        out.append(data)
    click.echo(yaml.safe_dump_all(out, sort_keys=False), nl=False)
    click.echo(f"{total} pod template(s) injected", err=True)
