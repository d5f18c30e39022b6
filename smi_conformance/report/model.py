"""ConformanceReport: what a run certifies, with the evidence for every verdict.

A versioned API (``apiVersion: conformance.smi-conformance.io/v1alpha1``) like Gateway API's conformance
report: written as YAML and JSON, its JSON Schema in ``schemas/`` (generated from this model by
``make schemas``, drift-tested; the docstring under each field is its description there). Every failed check
carries what was expected, what was seen and the statistics, so a mesh's engineers can agree with the verdict
without re-running anything; the ``reproduce`` command runs the same tests with the same seed.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from smi_conformance.models._base import _describe

__all__ = [
    "API_VERSION",
    "OUTCOMES",
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
OUTCOMES: tuple[Outcome, ...] = ("passed", "failed", "skipped", "not-supported")


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        json_schema_extra=lambda schema, cls: _describe(schema, cls),
    )


class Convergence(_Model):
    """How long the mesh took to show a change in traffic: probes repeated until several in a row agree with
    the expectation, bounded by the maximum time to consistency."""

    converged: bool
    """True when the expected behaviour showed in enough consecutive probes within the maximum time to
    consistency (``settings.consistencyTimeoutSeconds``)."""
    seconds: float
    """From the change (or the start of the check) to the first probe of the agreeing run; the whole wait when
    the mesh did not converge."""
    probes: int
    """Probes sent while waiting, the agreeing ones included."""
    history: list[str] = Field(default_factory=list)
    """When the mesh did not converge: the last probes, most recent last, one line each ("12.40 s: 200 from
    web/v1: 4")."""


class CheckResult(_Model):
    """One verdict inside a test: an access expectation, a weight check, a metrics comparison.

    ``expected``, ``observed`` and ``statistics`` are the evidence; their shape depends on ``kind``
    (docs/conformance/reports.md describes each)."""

    name: str
    """What was checked, e.g. "smi-conformance/client -> smi-conformance/web: GET /" or "canary step
    75/25"."""
    kind: str
    """``access`` (allowed or denied), ``split`` (traffic shares or the backends serving a Service),
    ``metrics`` (Traffic Metrics API answers), ``api`` or ``generated`` (a generated case compared with the
    oracle)."""
    passed: bool
    """Whether the mesh behaved as SMI requires."""
    message: str
    """One line a person reads, with what was expected and what was seen, e.g. "v2 received 31.2% of 4,100
    requests; expected 25% +- 5 points (p < 1e-6)"."""
    expected: Any = None
    """What SMI requires here. access: ``client``, ``service``, ``request``, ``allowed``; split: ``weights``
    (backend -> weight as written) or ``backends``; metrics: the counts sent, per resource or edge, or the
    latency bounds (``lowMs``, ``highMs``)."""
    observed: Any = None
    """What the mesh did. access: the confirmation's summary, the denial ``forms`` seen and example replies
    (as the mesh answered: untrusted text); split: ``counts`` per backend and ``errors``; metrics: the counts
    or percentiles the API reported."""
    statistics: dict[str, Any] | None = None
    """What the verdict rests on: for a weight check the sequential test's decision, sample size ``n``,
    per-backend expected and observed shares with an anytime-valid confidence interval, the thresholds and
    the p-value; for metrics the window and the compared items."""
    convergence: Convergence | None = None
    """How long the mesh took to show the expected behaviour before it was judged (checks that wait)."""
    requests: int = 0
    """Requests (or connections, or flows) this check sent, probes included."""


class TestResult(_Model):
    """One conformance test's outcome with the checks it made."""

    __test__: ClassVar[bool] = False  # not a pytest test class

    id: str
    """Stable test id, the report's key (``smi-conformance list``)."""
    description: str
    """One line: what the test shows."""
    group: str
    """The SMI API group the test covers, e.g. ``split.smi-spec.io``."""
    profile: Literal["core", "extended"]
    """The profile the test belongs to."""
    features: list[str]
    """Features the mesh must claim for the test to run; otherwise it is ``not-supported``."""
    outcome: Outcome
    """``passed``, ``failed`` (the mesh misbehaved, or the suite could not run the test: ``reason`` says
    which), ``skipped`` (not selected) or ``not-supported`` (a feature or API version the mesh does not
    claim)."""
    reason: str = ""
    """Why it failed (the failing check's message), was skipped or is not supported."""
    versions: dict[str, str] = Field(default_factory=dict)
    """API group -> the version the test's objects were sent in."""
    duration_seconds: float = 0.0
    """Wall time of the test, set-up and clean-up included."""
    requests: int = 0
    """Requests, connections and flows the test sent through the mesh."""
    checks: list[CheckResult] = Field(default_factory=list)
    """The checks in the order they ran; a failed check ends the test, so it is the last."""
    objects: list[dict[str, Any]] = Field(default_factory=list)
    """The objects applied before the body ran, as sent (after version conversion)."""
    artifacts: list[str] = Field(default_factory=list)
    """Files saved after a failure (logs, cluster state), relative to ``artifactsDir``."""


class ProfileResult(_Model):
    """The verdict for one profile: certified only when every test of it passed."""

    name: Literal["core", "extended"]
    """The profile."""
    result: Literal["passed", "failed", "partial"]
    """``passed``: every test of the profile passed; ``failed``: at least one failed; ``partial``: none
    failed but some were not supported or skipped (not certified for this profile)."""
    summary: dict[str, int]
    """Tests of the profile per outcome (``passed``, ``failed``, ``skipped``, ``not-supported``)."""
    failed_tests: list[str] = Field(default_factory=list)
    """Ids of the profile's failed tests."""


class Implementation(_Model):
    """The mesh under test, as its adapter describes it."""

    name: str
    """The implementation's name, e.g. ``reference-mesh``."""
    version: str
    """Its version, as the adapter reports it."""
    url: str = ""
    """Where to read about it."""
    verified: bool = True
    """False when the adapter's claims were not verified by running the suite against this mesh."""
    adapter: str
    """The adapter the suite used (``--smi-mesh``)."""
    options: dict[str, str] = Field(default_factory=dict)
    """The options the adapter was built with (``--smi-mesh-option KEY=VALUE``)."""
    notes: str = ""
    """Anything the adapter wants a reader to know, e.g. which split algorithm the mesh ran."""
    features: list[str]
    """Features the mesh claims (the adapter's, plus ``--smi-claim``, minus ``--smi-exempt``)."""
    api_versions: dict[str, list[str]]
    """API group -> the versions the mesh serves; each test sends its objects in one of them."""


class RunSettings(_Model):
    """The settings that decide verdicts; with the seed they make a run repeatable."""

    alpha: Annotated[float, Field(gt=0, lt=1)]
    """Probability that a correct split fails a weight check."""
    beta: Annotated[float, Field(gt=0, lt=1)]
    """Probability that a split off by ``tolerance`` or more in any backend passes a weight check."""
    tolerance: Annotated[float, Field(gt=0, lt=1)]
    """How far a backend's share may be off (as a share: 0.05 is 5 percentage points) before a weight check
    must fail."""
    max_samples: int | None = None
    """Cap on the requests of one weight check (absent: the statistics choose one from alpha and beta)."""
    consistency_timeout_seconds: float
    """Maximum time to consistency: how long the mesh has to show a change in traffic."""
    consecutive_probes: int
    """Consecutive agreeing probes that count as converged."""
    seed: int
    """Seed of the generated cases: the same seed generates the same policies and requests."""
    generated_examples: int
    """Generated policies per generated test."""
    namespace: str
    """Prefix of the namespaces of the standard topology the suite created."""


class ConformanceReport(_Model):
    """The result of one conformance run: what was tested, on what, how, and every verdict with its
    evidence."""

    api_version: Literal["conformance.smi-conformance.io/v1alpha1"] = (
        "conformance.smi-conformance.io/v1alpha1"
    )
    """Group and version of this report's schema."""
    kind: Literal["ConformanceReport"] = "ConformanceReport"
    """The kind of document."""
    date: dt.datetime
    """When the run started (UTC)."""
    suite_version: str
    """Version of smi-conformance that ran the tests."""
    implementation: Implementation
    """The mesh under test."""
    cluster: dict[str, Any]
    """Where the tests ran: ``kind`` (embedded, kind or kubeconfig) and what the cluster backend reports of
    itself (addresses, node count, start-up time)."""
    settings: RunSettings
    """The statistics, consistency and generation settings of the run."""
    profiles: list[ProfileResult]
    """The verdict for each profile this run certifies (``core`` and/or ``extended``)."""
    summary: dict[str, int]
    """Tests per outcome over the whole run."""
    tests: list[TestResult]
    """Every registered test, in registry order, whether it ran or not."""
    reproduce: str
    """The command that runs the same tests with the same settings and seed."""
    artifacts_dir: str = ""
    """The folder the tests' ``artifacts`` are relative to."""
    duration_seconds: float = 0.0
    """Wall time of the run, cluster start-up included."""
