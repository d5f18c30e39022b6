"""``--smi-cluster=kind``: the Kubernetes backend on a kind cluster this run creates or reuses.

The cluster (``--smi-kind-cluster``, default ``smi-conformance``) is created if it does not exist, with
``$SMI_KIND_IMAGE`` as its node image when set (see :mod:`.kind`), else reused as it is. The suite's image is
built here (``smi-conformance images build``, cached by the hash of the tree) unless ``--smi-image`` names
one, and loaded into every node with the images the mesh's adapter needs, so no registry is involved. A
cluster this run created is deleted afterwards unless ``--smi-keep-cluster``; a reused one is always left.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from smi_conformance.cluster import kind
from smi_conformance.cluster.base import ClusterError
from smi_conformance.cluster.kubernetes import KubernetesCluster, Log
from smi_conformance.mesh.kubernetes import KubernetesSupport
from smi_conformance.suite.topology import Topology

__all__ = ["KindBackend"]


def _local_image(image: str) -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    done = subprocess.run([docker, "image", "inspect", image], capture_output=True, timeout=60, check=False)
    return done.returncode == 0


class KindBackend(KubernetesCluster):
    kind = "kind"

    def __init__(
        self,
        topology: Topology,
        mesh: KubernetesSupport,
        *,
        name: str,
        image: str | None,
        keep_cluster: bool = False,
        timeout_s: float = 300.0,
        log: Log = lambda _: None,
    ):
        super().__init__(
            topology,
            mesh,
            context=f"kind-{name}",
            kubeconfig=kind.default_kubeconfig(name),
            image=image or "",
            timeout_s=timeout_s,
            log=log,
        )
        self.name = name
        self.keep_cluster = keep_cluster
        self.created = False

    def start(self) -> None:
        if self._api is not None:
            return
        started = time.monotonic()
        try:
            existed = self.name in kind.clusters()
            if not existed:
                self.log(f"creating the kind cluster {self.name}")
            handle = kind.create_cluster(self.name, kubeconfig=self.kubeconfig)
            self.created = not existed
        except kind.KindError as exc:
            raise ClusterError(f"kind cluster {self.name}: {exc}") from exc
        self.kubeconfig = Path(handle.kubeconfig)
        self.timings["cluster"] = round(time.monotonic() - started, 2)
        started = time.monotonic()
        self.mesh.prepare()
        self._load_images()
        self.timings["images"] = round(time.monotonic() - started, 2)
        super().start()

    def _load_images(self) -> None:
        if not self.image:
            from smi_conformance.images import ImageBuildError, build_image

            self.log("building the suite's image (cached by the hash of this tree)")
            try:
                self.image = build_image(quiet=True)
            except ImageBuildError as exc:
                raise ClusterError(f"the suite's image could not be built: {exc}") from exc
        wanted = [self.image, *(i for i in self.mesh.images() if i != self.image)]
        for image in wanted:
            if not _local_image(image):
                raise ClusterError(
                    f"image {image} is not in the local Docker engine, so it cannot be loaded into the kind "
                    "nodes: pull or build it first"
                )
            self.log(f"loading {image} into the nodes of {self.name}")
            try:
                kind.load_image(image, self.name)
            except kind.KindError as exc:
                raise ClusterError(str(exc)) from exc

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            if self.created and not self.keep_cluster:
                self.log(f"deleting the kind cluster {self.name}")
                try:
                    kind.delete_cluster(self.name, kubeconfig=self.kubeconfig)
                except kind.KindError as exc:
                    raise ClusterError(f"deleting the kind cluster {self.name}: {exc}") from exc
                self.created = False

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "name": self.name, "created": self.created}
