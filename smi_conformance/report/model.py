"""ConformanceReport: what a run certifies, with the evidence for every verdict.

A versioned API (``apiVersion: conformance.smi-conformance.io/v1alpha1``) like Gateway API's conformance
report: written as YAML and JSON, its JSON Schema in ``schemas/`` (generated from this model, drift-tested).
Every failed check carries what was expected, what was seen and the statistics, so a mesh's engineers can
agree with the verdict without re-running anything; the ``reproduce`` command runs the same tests with the
same seed.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = [
    "API_VERSION",
    "CheckResult",
    "ConformanceReport",
    "Convergence",
    "Implementation",
    "Outcome",
    "ProfileResult",
    "RunSettings",
    "TestResult",
]

API_VERSION = "conformance.smi-conformance.io/v1alpha1"
#: passed; failed (the mesh misbehaved, or the suite could not run the test: the reason says which); skipped
#: (not selected); not-supported (a feature or API version the mesh does not claim).
Outcome = Literal["passed", "failed", "skipped", "not-supported"]


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Convergence(_Model):
    """How long the mesh took to show a change in traffic (probes agreeing several times in a row)."""

    converged: bool
    #: From the change to the first probe of the agreeing run.
    seconds: float
    probes: int
    #: The last probes, most recent last (one line each), when the mesh did not converge.
    history: list[str] = Field(default_factory=list)


class CheckResult(_Model):
    """One verdict inside a test: an access expectation, a weight check, a metrics comparison."""

    name: str
    #: ``access``, ``split``, ``metrics``, ``api`` or ``generated``.
    kind: str
    passed: bool
    #: One line, e.g. "v2 received 31.2% of 4,100 requests; expected 25% +- 5 points (p < 1e-6)".
    message: str
    expected: Any = None
    observed: Any = None
    #: Sample sizes, bounds, likelihood ratios: whatever the verdict rests on.
    statistics: dict[str, Any] | None = None
    convergence: Convergence | None = None
    requests: int = 0


class TestResult(_Model):
    id: str
    description: str
    group: str
    profile: Literal["core", "extended"]
    features: list[str]
    outcome: Outcome
    #: Why it failed, was skipped or is not supported.
    reason: str = ""
    #: API group -> the version the test's objects were sent in.
    versions: dict[str, str] = Field(default_factory=dict)
    duration_seconds: float = 0.0
    requests: int = 0
    checks: list[CheckResult] = Field(default_factory=list)
    #: The objects applied, as sent (after version conversion).
    objects: list[dict[str, Any]] = Field(default_factory=list)
    #: Files saved after a failure (logs, cluster state), relative to the report's artifacts folder.
    artifacts: list[str] = Field(default_factory=list)


class ProfileResult(_Model):
    name: Literal["core", "extended"]
    #: ``passed``: every test of the profile passed; ``failed``: one failed; ``partial``: none failed but some
    #: were not supported or skipped (not certified for this profile).
    result: Literal["passed", "failed", "partial"]
    summary: dict[str, int]
    failed_tests: list[str] = Field(default_factory=list)


class Implementation(_Model):
    name: str
    version: str
    url: str = ""
    #: False when the adapter's claims were not verified by running the suite against this mesh.
    verified: bool = True
    #: The adapter and the options it was built with.
    adapter: str
    options: dict[str, str] = Field(default_factory=dict)
    notes: str = ""
    features: list[str]
    api_versions: dict[str, list[str]]


class RunSettings(_Model):
    alpha: Annotated[float, Field(gt=0, lt=1)]
    beta: Annotated[float, Field(gt=0, lt=1)]
    tolerance: Annotated[float, Field(gt=0, lt=1)]
    max_samples: int | None = None
    consistency_timeout_seconds: float
    consecutive_probes: int
    seed: int
    generated_examples: int
    namespace: str


class ConformanceReport(_Model):
    api_version: Literal["conformance.smi-conformance.io/v1alpha1"] = (
        "conformance.smi-conformance.io/v1alpha1"
    )
    kind: Literal["ConformanceReport"] = "ConformanceReport"
    date: dt.datetime
    suite_version: str
    implementation: Implementation
    cluster: dict[str, Any]
    settings: RunSettings
    #: ``core`` and/or ``extended``: the profiles this run certifies.
    profiles: list[ProfileResult]
    summary: dict[str, int]
    tests: list[TestResult]
    #: The command that runs the same tests with the same settings and seed.
    reproduce: str
    artifacts_dir: str = ""
    duration_seconds: float = 0.0
