"""One conformance run: the mesh adapter, the cluster, which tests run, and the results that make the report.

Used by the pytest plugin (which is wiring only) and, through it, by `smi-conformance run`. Nothing here
starts before it is needed: building a run checks the settings and loads the adapter (errors surface before
anything starts); the cluster starts on the first test that needs it.
"""

from __future__ import annotations

import datetime as dt
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from smi_conformance import __version__
from smi_conformance.cluster.backends import cluster_for
from smi_conformance.cluster.base import Cluster, ClusterError
from smi_conformance.mesh.adapter import AdapterError, MeshAdapter, MeshInfo
from smi_conformance.mesh.loader import load_adapter
from smi_conformance.report.model import (
    ConformanceReport,
    Implementation,
    ProfileResult,
    RunSettings,
    TestResult,
)
from smi_conformance.suite.features import FEATURES, Feature, Profile
from smi_conformance.suite.registry import ConformanceTest
from smi_conformance.suite.settings import DEFAULT_SEED, SuiteSettings
from smi_conformance.suite.topology import Topology, standard_topology
from smi_conformance.suite.versions import VersionError, choose_versions, groups_of, render

__all__ = ["ConformanceRun", "Selection"]


class Selection:
    """Whether a test runs, and with which objects in which versions."""

    def __init__(
        self,
        outcome: str,
        reason: str = "",
        versions: dict[str, str] | None = None,
        objects: list[dict[str, Any]] | None = None,
    ):
        self.outcome = outcome  # "run", "skipped" or "not-supported"
        self.reason = reason
        self.versions = versions or {}
        self.objects = objects or []


class ConformanceRun:
    def __init__(self, settings: SuiteSettings, adapter: MeshAdapter | None = None):
        self.settings = settings
        self.adapter = adapter or load_adapter(settings.mesh, settings.mesh_options)
        if settings.cluster == "kubeconfig" and not settings.kube_context:
            raise AdapterError(
                "--smi-cluster=kubeconfig needs --smi-kube-context NAME (the suite never uses the current "
                "context)"
            )
        if settings.cluster != "embedded":
            self.adapter.kubernetes()  # NotSupported now, before anything starts
        info = self.adapter.info_for(settings.cluster)
        features = (info.features | settings.claim) - settings.exempt
        self.mesh: MeshInfo = info.model_copy(update={"features": frozenset(features)})
        self.topology: Topology = standard_topology(settings.namespace)
        self.cluster: Cluster | None = None
        self.results: dict[str, TestResult] = {}
        self.started = time.monotonic()
        self.date = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        #: (event, text) for progress displays: "test" (id), "step", "sent" (count), "result" (id outcome)
        self.listeners: list[Callable[[str, str], None]] = []
        #: Called with the finished report.
        self.report_listeners: list[Callable[[ConformanceReport], None]] = []
        #: Why the run stopped before its tests ran (the cluster did not start), for the report.
        self.aborted = ""

    # ----------------------------------------------------------------------------------------- cluster
    def ensure_cluster(self) -> Cluster:
        if self.cluster is not None:
            return self.cluster
        self.emit("step", f"starting the {self.settings.cluster} cluster with {self.mesh.name}")
        cluster = cluster_for(self.settings, self.adapter, self.topology, lambda t: self.emit("step", t))
        try:
            cluster.start()
        except BaseException:
            try:
                cluster.stop()
            except ClusterError as exc:  # the start's error is the one to report; say what is left
                self.emit("step", f"clean-up after the failed start: {exc}")
            raise
        self.cluster = cluster
        return cluster

    def stop(self) -> None:
        cluster, self.cluster = self.cluster, None
        if cluster is not None and not (self.settings.keep and self.settings.cluster != "embedded"):
            cluster.stop()

    def emit(self, event: str, text: str) -> None:
        for listener in self.listeners:
            listener(event, text)

    # --------------------------------------------------------------------------------------- selection
    def select(self, test: ConformanceTest) -> Selection:
        s = self.settings
        if s.only and test.id not in s.only:
            return Selection("skipped", "not selected (--smi-test)")
        if test.id in s.skip:
            return Selection("skipped", "skipped on request (--smi-skip)")
        if test.profile not in s.profiles:
            return Selection("skipped", f"profile {test.profile.value} not selected")
        missing = sorted(f.value for f in test.features - self.mesh.features)
        if missing:
            return Selection("not-supported", f"the mesh does not claim {', '.join(missing)}")
        docs = test.objects(self.topology) if test.objects is not None else []
        if Feature.TRAFFIC_TARGET not in self.mesh.features | test.features:
            docs = without_grants(docs)
        groups = sorted({test.group, *groups_of(docs)} - {"metrics.smi-spec.io"})
        try:
            versions = choose_versions(groups, self.mesh.api_versions, test.versions)
            objects = render(docs, versions)
        except VersionError as exc:
            return Selection("not-supported", str(exc))
        return Selection("run", versions=versions, objects=objects)

    # ------------------------------------------------------------------------------------------ report
    def record(self, result: TestResult) -> None:
        self.results[result.id] = result

    def reproduce(self) -> str:
        s = self.settings
        args = ["smi-conformance", "run", "--mesh", s.mesh]
        for k, v in sorted(s.mesh_options.items()):
            args += ["--mesh-option", f"{k}={v}"]
        args += ["--cluster", s.cluster]
        if s.kube_context:
            args += ["--kube-context", s.kube_context]
        if s.kubeconfig:
            args += ["--kubeconfig", str(s.kubeconfig)]
        if s.cluster == "kind" and s.kind_cluster != SuiteSettings().kind_cluster:
            args += ["--kind-cluster", s.kind_cluster]
        if s.image:
            args += ["--image", s.image]
        if s.profiles != frozenset(Profile):
            for p in sorted(p.value for p in s.profiles):
                args += ["--profile", p]
        for f in sorted(f.value for f in s.claim):
            args += ["--claim", f]
        for f in sorted(f.value for f in s.exempt):
            args += ["--exempt", f]
        for t in s.only:
            args += ["--test", t]
        for t in s.skip:
            args += ["--skip", t]
        if s.seed != DEFAULT_SEED:
            args += ["--seed", str(s.seed)]
        defaults = SuiteSettings()
        for field, flag in (
            ("alpha", "--alpha"),
            ("beta", "--beta"),
            ("tolerance", "--tolerance"),
            ("max_samples", "--max-samples"),
            ("consistency_timeout_s", "--timeout"),
            ("consecutive", "--consecutive"),
            ("generated_examples", "--examples"),
            ("namespace", "--namespace"),
        ):
            if getattr(s, field) != getattr(defaults, field):
                args += [flag, str(getattr(s, field))]
        return shlex.join(args)

    def report(self, registry: dict[str, ConformanceTest], *, interrupted: bool = False) -> ConformanceReport:
        """The report of what ran; ``interrupted``: the run was stopped (Ctrl-C) before every test ran."""
        s = self.settings
        not_run = "not run: the run was interrupted" if interrupted else "not run (deselected)"
        if self.aborted:
            not_run = f"not run: {self.aborted}"
        tests = []
        for test in registry.values():
            result = self.results.get(test.id)
            if result is None:
                sel = self.select(test)
                result = TestResult(
                    id=test.id,
                    description=test.description,
                    group=test.group,
                    profile=test.profile.value,
                    features=sorted(f.value for f in test.features),
                    outcome="skipped" if sel.outcome in ("run", "skipped") else "not-supported",
                    reason=sel.reason if sel.outcome != "run" else not_run,
                )
            tests.append(result)
        profiles = []
        for profile in sorted(s.profiles, key=lambda p: list(Profile).index(p)):
            mine = [t for t in tests if t.profile == profile.value]
            summary = {
                o: sum(1 for t in mine if t.outcome == o)
                for o in ("passed", "failed", "skipped", "not-supported")
            }
            failed = [t.id for t in mine if t.outcome == "failed"]
            verdict: Literal["passed", "failed", "partial"] = (
                "failed" if failed else "passed" if summary["passed"] == len(mine) else "partial"
            )
            profiles.append(
                ProfileResult(name=profile.value, result=verdict, summary=summary, failed_tests=failed)
            )
        info = self.mesh
        cluster = self.cluster.describe() if self.cluster is not None else {"kind": s.cluster}
        return ConformanceReport(
            date=self.date,
            suite_version=__version__,
            implementation=Implementation(
                name=info.name,
                version=info.version,
                url=info.url,
                verified=info.verified,
                adapter=s.mesh,
                options=dict(s.mesh_options),
                notes=info.notes,
                features=sorted(f.value for f in info.features),
                api_versions=info.api_versions,
            ),
            cluster=cluster,
            settings=RunSettings(
                alpha=s.alpha,
                beta=s.beta,
                tolerance=s.tolerance,
                max_samples=s.max_samples,
                consistency_timeout_seconds=s.consistency_timeout_s,
                consecutive_probes=s.consecutive,
                seed=s.seed,
                generated_examples=s.generated_examples,
                namespace=s.namespace,
            ),
            profiles=profiles,
            summary={
                o: sum(1 for t in tests if t.outcome == o)
                for o in ("passed", "failed", "skipped", "not-supported")
            },
            tests=tests,
            reproduce=self.reproduce(),
            artifacts_dir=str(s.artifacts),
            duration_seconds=round(time.monotonic() - self.started, 2),
        )


def without_grants(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A test's objects without the TrafficTargets that only open the way for its traffic (and the routes
    nothing else refers to), for a mesh without access control: it lets all traffic through, and may serve no
    access API to apply them in."""
    kept = [d for d in docs if d.get("kind") != "TrafficTarget"]
    used = {
        (d["metadata"].get("namespace"), m.get("name"))
        for d in kept
        if d.get("kind") == "TrafficSplit"
        for m in (d.get("spec") or {}).get("matches") or []
    }
    routes = ("HTTPRouteGroup", "TCPRoute", "UDPRoute")
    return [
        d
        for d in kept
        if d.get("kind") not in routes or (d["metadata"].get("namespace"), d["metadata"]["name"]) in used
    ]


def known_feature_lines() -> list[str]:
    return [f"{f.value} ({FEATURES[f][0].value}): {FEATURES[f][1]}" for f in Feature]


def save_artifacts(run: ConformanceRun, test_id: str) -> list[str]:
    """After a failure: the cluster's logs and state into ``<artifacts>/<test id>/``; paths relative to the
    artifacts folder."""
    if run.cluster is None:
        return []
    dest = Path(run.settings.artifacts) / test_id
    try:
        files = run.cluster.save_artifacts(dest)
    except (OSError, ClusterError):
        return []
    return [str(f.relative_to(run.settings.artifacts)) for f in files]
