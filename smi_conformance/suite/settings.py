"""The suite's settings: one model for the pytest plugin, `smi-conformance run` and the report.

Precedence (one order everywhere): defaults < ini/pyproject keys (``smi_*`` in ``[tool.pytest.ini_options]``)
< command-line flags.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from smi_conformance.suite.features import Feature, Profile

__all__ = ["CLUSTERS", "DEFAULT_SEED", "SuiteSettings"]

CLUSTERS = ("embedded", "kind", "kubeconfig")
#: Generated cases use this seed unless told otherwise, so two runs test the same cases; the report prints it.
DEFAULT_SEED = 20231004


class SuiteSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mesh: str = "reference"
    mesh_options: dict[str, str] = Field(default_factory=dict)
    cluster: Literal["embedded", "kind", "kubeconfig"] = "embedded"
    kube_context: str | None = None
    #: The kubeconfig file (--smi-cluster=kubeconfig; default $KUBECONFIG, else ~/.kube/config).
    kubeconfig: Path | None = None
    kind_cluster: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=40)] = (
        "smi-conformance"
    )
    #: Keep a kind cluster this run created (one it reused is always kept).
    keep_cluster: bool = False
    #: The suite's image on Kubernetes (echo, traffic driver); default: built here (kind), or this tree's
    #: image name (kubeconfig: the nodes must be able to pull it).
    image: str | None = None
    profiles: frozenset[Profile] = frozenset(Profile)
    #: Features to claim beyond the adapter's, and to withdraw from them.
    claim: frozenset[Feature] = frozenset()
    exempt: frozenset[Feature] = frozenset()
    #: Only these test ids (empty: all); never these.
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    # statistics
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 1e-6
    beta: Annotated[float, Field(gt=0, lt=0.5)] = 1e-6
    tolerance: Annotated[float, Field(gt=0, lt=0.5)] = 0.05
    max_samples: Annotated[int, Field(ge=100)] | None = None
    # eventual consistency
    consistency_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    consecutive: Annotated[int, Field(ge=1, le=100)] = 3
    probe_interval_s: Annotated[float, Field(ge=0, le=60)] = 0.05
    # generated cases
    seed: int = DEFAULT_SEED
    generated_examples: Annotated[int, Field(ge=0, le=10_000)] = 20
    # output
    namespace: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=40)] = (
        "smi-conformance"
    )
    reports: tuple[Path, ...] = ()
    html: Path | None = None
    junit: Path | None = None
    artifacts: Path = Path("smi-conformance-artifacts")
    #: Leave the test's objects (and the cluster) in place after a test, for debugging.
    keep: bool = False
