"""``reference-mesh install`` / ``uninstall``: the reference mesh on a Kubernetes cluster.

    reference-mesh install --context kind-smi-kind            # apply and wait until ready
    reference-mesh install --render > reference-mesh.yaml      # or render the YAML (kubectl apply -f)
    kubectl label namespace shop reference-mesh.smi-conformance.io/inject=enabled
    reference-mesh uninstall --context kind-smi-kind           # everything goes, CRDs and SMI objects too

What is created and why: ``reference_mesh/kube/manifests.py`` and docs/reference-mesh/kubernetes.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
import yaml

from reference_mesh.cli.cluster import cluster_options, connect_cluster
from reference_mesh.faults import parse_faults
from reference_mesh.identity import CertificateAuthority
from reference_mesh.kube.client import ApiError
from reference_mesh.kube.install import InstallError
from reference_mesh.kube.install import install as install_mesh
from reference_mesh.kube.install import uninstall as uninstall_mesh
from reference_mesh.kube.manifests import InstallOptions, render

__all__ = ["install", "uninstall"]


def default_image() -> str | None:
    """This source tree's image (``smi-conformance images build`` builds it), when run from a checkout."""
    from smi_conformance.images import ImageBuildError, image_name

    try:
        return image_name()
    except (ImageBuildError, OSError):
        return None


def _log(message: str) -> None:
    click.echo(message, err=True)


@click.command()
@cluster_options
@click.option("--render", is_flag=True, help="Print the manifests as YAML instead of applying them.")
@click.option("--image", default=None, help="Image of the control plane and proxies (default: this tree's).")
@click.option(
    "--image-pull-policy", type=click.Choice(["IfNotPresent", "Always", "Never"]), default="IfNotPresent"
)
@click.option("--trust-domain", default="cluster.local", show_default=True)
@click.option("--log-level", default="INFO", show_default=True, help="Of the control plane and proxies.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait until the mesh is ready.")
@click.option("--timeout", "timeout_s", default=300.0, show_default=True, help="Seconds to wait at most.")
@click.option("--skip-crds", is_flag=True, help="Use the SMI CRDs the cluster has (someone else's).")
@click.option(
    "--split-algorithm",
    type=click.Choice(["weighted_random", "smooth_round_robin"]),
    default="weighted_random",
    show_default=True,
)
@click.option(
    "--faults",
    default="",
    metavar="NAME[,NAME...]",
    help="Deliberate bugs, to see the conformance suite catch them (reference_mesh/faults.py).",
)
def install(
    kube_context: str | None,
    kubeconfig: Path | None,
    render: bool,
    image: str | None,
    image_pull_policy: str,
    trust_domain: str,
    log_level: str,
    wait: bool,
    timeout_s: float,
    skip_crds: bool,
    split_algorithm: str,
    faults: str,
) -> None:
    """Install the reference mesh on a cluster (CRDs, control plane, webhooks, metrics API)."""
    image = image or default_image()
    if image is None:
        raise click.UsageError("--image is required outside a source checkout (smi-conformance images build)")
    try:
        fault_set = parse_faults(faults)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--faults") from None
    options = InstallOptions(
        image,
        trust_domain,
        image_pull_policy,
        log_level,
        split_algorithm=split_algorithm,
        faults=tuple(sorted(fault_set)),
    )
    if render:
        objects = _render(options, trust_domain)
        click.echo(yaml.safe_dump_all(objects, sort_keys=False), nl=False)
        return
    api = connect_cluster(kube_context, kubeconfig)
    started = time.monotonic()
    try:
        install_mesh(api, options, wait=wait, timeout_s=timeout_s, skip_crds=skip_crds, log=_log)
    except (InstallError, ApiError) as exc:
        click.echo(f"install failed: {exc}", err=True)
        sys.exit(1)
    state = "ready" if wait else "applied"
    click.echo(f"reference mesh {state} in {time.monotonic() - started:.1f} s (image {image})")


def _render(options: InstallOptions, trust_domain: str) -> list[dict[str, object]]:
    _log("rendering with a new mesh CA (its key is in the Secret mesh-ca: keep the output private)")
    return render(options, CertificateAuthority.create(trust_domain))


@click.command()
@cluster_options
@click.option("--keep-crds", is_flag=True, help="Leave the SMI CRDs (and so every SMI object) in place.")
@click.option("--timeout", "timeout_s", default=300.0, show_default=True, help="Seconds to wait at most.")
def uninstall(kube_context: str | None, kubeconfig: Path | None, keep_crds: bool, timeout_s: float) -> None:
    """Remove the reference mesh from a cluster, and wait until nothing of it is left."""
    api = connect_cluster(kube_context, kubeconfig)
    started = time.monotonic()
    try:
        deleted = uninstall_mesh(api, keep_crds=keep_crds, timeout_s=timeout_s, log=_log)
    except (InstallError, ApiError) as exc:
        click.echo(f"uninstall failed: {exc}", err=True)
        sys.exit(1)
    for name in deleted:
        click.echo(f"{name} deleted")
    click.echo(f"reference mesh uninstalled in {time.monotonic() - started:.1f} s")
