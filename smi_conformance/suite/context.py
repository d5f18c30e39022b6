"""What a conformance test's body works with: the ``smi`` fixture.

    def test_listed_source_is_allowed(smi: TestContext) -> None:
        smi.expect_access("client", "web", allowed=True)
        smi.expect_access("intruder", "web", allowed=False)

Every ``expect_*`` waits for the mesh to show the expected behaviour in traffic (eventual consistency, bounded
by the maximum time to consistency), then judges it on fresh traffic, records a :class:`CheckResult` with its
evidence, and raises :class:`ConformanceFailure` when the mesh is wrong. Tests never sleep or retry on their
own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from fractions import Fraction
from typing import Any, TypeVar

from smi_conformance.cluster.base import ApplyRefused, Cluster
from smi_conformance.mesh.adapter import MeshInfo
from smi_conformance.report.model import CheckResult, Convergence
from smi_conformance.suite import consistency, stats
from smi_conformance.suite.metrics import PREFIX, MetricSample, MetricsError, MetricsWindow, parse_metrics
from smi_conformance.suite.settings import SuiteSettings
from smi_conformance.suite.topology import Protocol, ServiceSpec, Topology, WorkloadSpec
from smi_conformance.suite.traffic import Traffic
from smi_conformance.suite.versions import render
from smi_conformance.workload.traffic import Outcome, TrafficResult

__all__ = ["ConformanceFailure", "TestContext"]

T = TypeVar("T")

#: Requests per probe while waiting for access to change, and per confirmation afterwards.
ACCESS_PROBE, ACCESS_CONFIRM = 4, 20
#: How long a TCP/UDP flow may take to answer before it counts as unanswered (a UDP denial is silence).
STREAM_TIMEOUT_S = 1.0
#: Requests per probe while waiting for a split to take effect.
SPLIT_PROBE = 100
#: Requests per probe when checking that a Service is served by all its backends.
PLAIN_PROBE = 200


class ConformanceFailure(AssertionError):
    """The mesh did not behave as SMI requires; the message is the failed check's."""

    def __init__(self, check: CheckResult):
        super().__init__(check.message)
        self.check = check


def _convergence(result: consistency.Convergence[Any]) -> Convergence:
    return Convergence(
        converged=result.converged,
        seconds=round(result.seconds if result.seconds is not None else result.total_s, 3),
        probes=result.probes,
        history=[] if result.converged else [f"{r.at_s:.2f} s: {r.summary}" for r in result.history],
    )


def _describe(result: object) -> str:
    """One line for a probe's history: a traffic result's summary, or what the probe's own type says."""
    line = getattr(result, "summary", None)
    if callable(line):
        return str(line())
    if isinstance(result, list):
        return " | ".join(_describe(r) for r in result)
    return repr(result)


class TestContext:
    """One test's view of the run: the topology, the cluster, the mesh's claims, the settings and the checks
    recorded so far."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        cluster: Cluster,
        mesh: MeshInfo,
        settings: SuiteSettings,
        *,
        on_step: Callable[[str], None] | None = None,
        on_sent: Callable[[int], None] | None = None,
    ):
        self.cluster = cluster
        self.topology: Topology = cluster.topology
        self.mesh = mesh
        self.settings = settings
        self.traffic = Traffic(cluster, on_sent)
        self.checks: list[CheckResult] = []
        #: Objects the body applied (deleted after the test).
        self.applied: list[dict[str, Any]] = []
        #: API group -> the version the test's objects are sent in (set when the test is selected).
        self.versions: dict[str, str] = {}
        self._on_step = on_step

    # ------------------------------------------------------------------------------------------ plumbing
    def step(self, text: str) -> None:
        if self._on_step is not None:
            self._on_step(text)

    def record(self, check: CheckResult) -> CheckResult:
        self.checks.append(check)
        if not check.passed:
            raise ConformanceFailure(check)
        return check

    def in_versions(self, docs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Objects a test body builds (in the latest versions), converted to the versions its objects were
        sent in; a group the test had no object of goes in the newest version the mesh serves. Without
        this, a mesh that serves older versions would refuse them for their version, not their content (a
        false pass where a refusal is allowed), and a delete would miss them."""
        versions = {g: v[-1] for g, v in self.mesh.api_versions.items() if v} | self.versions
        return render(docs, versions)

    def apply(self, docs: Sequence[Mapping[str, Any]]) -> None:
        """Apply more objects in the middle of a test; they are deleted after the test, with its own."""
        self.step(f"apply {', '.join(d['kind'] + ' ' + d['metadata']['name'] for d in docs)}")
        docs = self.in_versions(docs)
        self.cluster.apply(docs)
        self.applied.extend(docs)

    def apply_unless_refused(self, docs: Sequence[Mapping[str, Any]], what: str) -> bool:
        """Apply objects a mesh may rightly refuse; a refusal is recorded as a passed check and False is
        returned (the caller then has nothing more to check), acceptance returns True."""
        try:
            self.apply(docs)
        except ApplyRefused as exc:
            self.record(
                CheckResult(name=what, kind="access", passed=True, message=f"{what}: refused ({exc})")
            )
            return False
        return True

    def delete(self, docs: Sequence[Mapping[str, Any]]) -> None:
        self.step(f"delete {', '.join(d['kind'] + ' ' + d['metadata']['name'] for d in docs)}")
        self.cluster.delete(self.in_versions(docs))

    def eventually(self, probe: Callable[[], T], ok: Callable[[T], bool]) -> consistency.Convergence[T]:
        """Probe until ``ok`` holds for the configured number of probes in a row, or the maximum time to
        consistency passes."""
        s = self.settings
        return consistency.eventually(
            probe,
            ok,
            consecutive=s.consecutive,
            timeout_s=s.consistency_timeout_s,
            interval_s=max(s.probe_interval_s, 0.001),
            describe=_describe,
        )

    def _names(
        self,
        client: str | WorkloadSpec,
        service: str | ServiceSpec,
        client_ns: str | None,
        service_ns: str | None,
    ) -> tuple[WorkloadSpec, ServiceSpec]:
        return self.traffic.client(client, client_ns), self.traffic.service(service, service_ns)

    # ------------------------------------------------------------------------------------------- access
    def expect_access(
        self,
        client: str | WorkloadSpec,
        service: str | ServiceSpec,
        *,
        allowed: bool,
        protocol: Protocol = "http",
        method: str = "GET",
        path: str = "/",
        headers: Sequence[tuple[str, str]] = (),
        client_namespace: str | None = None,
        service_namespace: str | None = None,
        name: str | None = None,
        hold: bool = False,
    ) -> CheckResult:
        """``client``'s requests to ``service`` are (eventually, then consistently) allowed or denied.
        Allowed:
        every request answered (2xx) by the Service's own backends; denied: none answered (403, 404, reset,
        refused, timeout: the form is recorded). ``hold``: for a denial right after a change that must not
        allow anything (nothing then shows that the mesh has read the change): denied eventually, then at
        every probe until the maximum time to consistency since the check began is over."""
        who, svc = self._names(client, service, client_namespace, service_namespace)
        app = svc.selector.get("app", svc.name)
        what = f"{method} {path}" if protocol == "http" else f"{protocol.upper()} :{svc.port(protocol).port}"
        if headers:
            what += " with " + ", ".join(f"{k}: {v}" for k, v in headers)
        label = name or f"{who.namespace}/{who.name} -> {svc.namespace}/{svc.name}: {what}"
        self.step(f"{label}: expect {'allowed' if allowed else 'denied'}")

        def send(count: int) -> TrafficResult:
            # all at once: a denial that looks like a timeout (UDP, a mesh that drops) costs one timeout
            if protocol == "http":
                return self.traffic.http(
                    who, svc, method=method, path=path, headers=headers, count=count, concurrency=count
                )
            return self.traffic.stream(
                who, svc, protocol, count=count, concurrency=count, timeout_s=STREAM_TIMEOUT_S
            )

        def as_expected(r: TrafficResult) -> bool:
            if allowed:
                answered = {(g.outcome.namespace or svc.namespace, g.outcome.service) for g in r.groups}
                return r.count(ok=True) == r.sent and answered == {(svc.namespace, app)}
            return r.count(ok=True) == 0

        if hold and not allowed:
            # Denied eventually (what an earlier test allowed may still be in force: its deletion is a change
            # too), then denied at every probe until the maximum time to consistency since the change is over.
            s = self.settings
            began = time.monotonic()
            waited = self.eventually(lambda: send(ACCESS_PROBE), as_expected)
            if waited.converged:
                held = consistency.consistently(
                    lambda: send(ACCESS_PROBE),
                    as_expected,
                    timeout_s=max(s.consistency_timeout_s - (time.monotonic() - began), 0.0),
                    interval_s=max(s.probe_interval_s, 0.001),
                    describe=_describe,
                )
                waited = dataclasses.replace(
                    held,
                    seconds=waited.seconds if held.converged else None,
                    total_s=time.monotonic() - began,
                    probes=waited.probes + held.probes,
                )
        else:
            waited = self.eventually(lambda: send(ACCESS_PROBE), as_expected)
        convergence = _convergence(waited)
        expected = {
            "client": f"{who.namespace}/{who.name} (service account {who.service_account})",
            "service": f"{svc.namespace}/{svc.name}",
            "request": what,
            "allowed": allowed,
        }
        verdict = "allowed" if allowed else "denied"
        if not waited.converged:
            last: TrafficResult = waited.last
            return self.record(
                CheckResult(
                    name=label,
                    kind="access",
                    passed=False,
                    message=(
                        f"{label}: expected {verdict} for {self.settings.consistency_timeout_s:g} s; after "
                        f"{waited.total_s:.2f} s not: {last.summary()} "
                        f"(probe {waited.probes}, of {last.sent} requests)"
                        if hold and not allowed
                        else f"{label}: expected {verdict}; after {self.settings.consistency_timeout_s:g} s "
                        f"still not: {last.summary()} (last probe of {last.sent})"
                    ),
                    expected=expected,
                    observed={"lastProbe": last.summary(), "examples": [g.example for g in last.groups][:3]},
                    convergence=convergence,
                    requests=waited.probes * ACCESS_PROBE,
                )
            )
        confirm = send(ACCESS_CONFIRM)
        passed = as_expected(confirm)
        forms = confirm.by("form")
        declared = self.mesh.denial.get(protocol, [])
        note = ""
        if not allowed and passed and declared and not set(forms) <= set(declared):
            note = f" (the adapter declares {', '.join(declared)})"
        if passed:
            message = (
                f"{label}: {verdict} ({confirm.summary()}; converged in {convergence.seconds:.2f} s){note}"
            )
        else:
            message = (
                f"{label}: expected {verdict}, but after converging in {convergence.seconds:.2f} s the "
                f"confirmation saw {confirm.summary()}"
            )
        return self.record(
            CheckResult(
                name=label,
                kind="access",
                passed=passed,
                message=message,
                expected=expected,
                observed={
                    "confirm": confirm.summary(),
                    "forms": dict(forms),
                    "examples": [g.example for g in confirm.groups][:3],
                },
                convergence=convergence,
                requests=waited.probes * ACCESS_PROBE + confirm.sent,
            )
        )

    # -------------------------------------------------------------------------------------------- split
    def _backend_of(self, backends: Sequence[ServiceSpec]) -> Callable[[Outcome], str]:
        """An echo reply -> the backend Service its pod belongs to, or a name saying it is none (a pod of
        another namespace with the same labels is none)."""
        owner: dict[tuple[str, str, str], str] = {}
        for b in backends:
            for w in self.topology.selected(b):
                owner.setdefault((w.namespace, w.app, w.version), b.name)
        namespace = backends[0].namespace if backends else ""

        def backend(o: Outcome) -> str:
            where = o.namespace or namespace
            found = owner.get((where, o.service, o.version))
            return found or f"{where}/{o.service}/{o.version} (not a backend)"

        return backend

    def _count(self, result: TrafficResult, backend_of: Callable[[Outcome], str]) -> tuple[Counter[str], int]:
        counts: Counter[str] = Counter()
        errors = 0
        for g in result.groups:
            if g.outcome.ok:
                counts[backend_of(g.outcome)] += g.count
            else:
                errors += g.count
        return counts, errors

    def expect_served_by(
        self,
        client: str | WorkloadSpec,
        service: str | ServiceSpec,
        backends: Sequence[str],
        *,
        method: str = "GET",
        path: str = "/",
        headers: Sequence[tuple[str, str]] = (),
        name: str | None = None,
    ) -> CheckResult:
        """``client``'s requests to ``service`` are served as plain Kubernetes would: every request answered
        by a pod of one of ``backends`` (Services), and each of those answering at least once in a probe of
        PLAIN_PROBE requests (a split still in force, or a mesh that pins one pod, never shows them all)."""
        who, svc = self._names(client, service, None, None)
        specs = [self.topology.service(b, svc.namespace) for b in backends]
        backend_of = self._backend_of(specs)
        want = set(backends)
        what = f"{method} {path}"
        label = (
            name
            or f"{who.namespace}/{who.name} -> {svc.namespace}/{svc.name}: {what} served by "
            f"{', '.join(backends)}"
        )
        self.step(label)

        def probe() -> TrafficResult:
            return self.traffic.http(
                who, svc, method=method, path=path, headers=headers, count=PLAIN_PROBE, concurrency=16
            )

        def served(r: TrafficResult) -> bool:
            counts, errors = self._count(r, backend_of)
            return errors == 0 and set(counts) == want

        waited = self.eventually(probe, served)
        convergence = _convergence(waited)
        counts, errors = self._count(waited.last, backend_of)
        if waited.converged:
            message = f"{label}: {waited.last.summary()} (converged in {convergence.seconds:.2f} s)"
        else:
            message = (
                f"{label}: not within {self.settings.consistency_timeout_s:g} s; last probe of "
                f"{PLAIN_PROBE}: "
                f"{waited.last.summary()}"
            )
        return self.record(
            CheckResult(
                name=label,
                kind="split",
                passed=waited.converged,
                message=message,
                expected={"backends": sorted(want), "each at least once in": PLAIN_PROBE},
                observed={"counts": dict(counts), "errors": errors},
                convergence=convergence,
                requests=waited.probes * PLAIN_PROBE,
            )
        )

    def expect_split(
        self,
        client: str | WorkloadSpec,
        service: str | ServiceSpec,
        weights: Mapping[str, int | Fraction],
        *,
        protocol: Protocol = "http",
        method: str = "GET",
        path: str = "/",
        headers: Sequence[tuple[str, str]] = (),
        name: str | None = None,
        max_error_rate: float = 0.001,
    ) -> CheckResult:
        """``client``'s traffic to ``service`` is split over the backend Services by ``weights`` (a sequential
        test with the run's error rates), once the split shows in traffic."""
        who, svc = self._names(client, service, None, None)
        backends = [self.topology.service(b, svc.namespace) for b in weights]
        backend_of = self._backend_of(backends)
        expected = {b: Fraction(w) for b, w in weights.items()}
        shown = ", ".join(f"{b}: {w}" for b, w in weights.items())
        label = name or f"{who.namespace}/{who.name} -> {svc.namespace}/{svc.name} ({protocol}) split {shown}"
        self.step(f"{label}: waiting for the split to show")
        settings = stats.SplitSettings(
            alpha=self.settings.alpha,
            beta=self.settings.beta,
            tolerance=self.settings.tolerance,
            max_samples=self.settings.max_samples,
        )

        def send(count: int) -> TrafficResult:
            if protocol == "http":
                return self.traffic.http(
                    who, svc, method=method, path=path, headers=headers, count=count, concurrency=16
                )
            return self.traffic.stream(who, svc, protocol, count=count, concurrency=16)

        def consistent(r: TrafficResult) -> bool:
            counts, errors = self._count(r, backend_of)
            return errors == 0 and stats.batch_consistent(expected, counts)

        waited = self.eventually(lambda: send(SPLIT_PROBE), consistent)
        convergence = _convergence(waited)
        unit = "requests" if protocol == "http" else "connections" if protocol == "tcp" else "flows"
        check = stats.WeightCheck(expected, settings, unit=unit.removesuffix("s"))
        batch = stats.recommended_batch(expected, settings)
        sent = errors = 0
        started = time.monotonic()
        self.step(f"{label}: weight check")
        while check.decision is stats.Decision.CONTINUE:
            result = send(max(1, min(batch, check.remaining)))
            counts, errs = self._count(result, backend_of)
            sent += result.sent
            errors += errs
            if errors > max(1, max_error_rate * sent):
                break
            check.update(counts)
        evidence = check.evidence()
        took = time.monotonic() - started
        failed_requests = errors > max(1, max_error_rate * sent)
        if failed_requests:
            message = (
                f"{label}: {errors:,} of {sent:,} {unit} failed (more than {max_error_rate:.1%}): "
                f"{result.summary()}"
            )
        else:
            message = f"{label}: {evidence.message}"
        if not waited.converged:
            # the weight check still ran, so the failure says what the mesh does instead of only "not yet"
            late = "now as weighted, but" if check.decision is stats.Decision.PASS else "not as weighted:"
            message = (
                f"{label}: {late} the split did not show within {self.settings.consistency_timeout_s:g} s "
                f"({convergence.probes} probes); {evidence.message if not failed_requests else message}"
            )
        return self.record(
            CheckResult(
                name=label,
                kind="split",
                passed=waited.converged and check.decision is stats.Decision.PASS and not failed_requests,
                message=message,
                expected={"weights": {b: str(w) for b, w in expected.items()}},
                observed={
                    "counts": {b.name: b.count for b in evidence.backends} | dict(evidence.unexpected),
                    "errors": errors,
                },
                statistics={**evidence.to_dict(), "seconds": round(took, 3)},
                convergence=convergence,
                requests=waited.probes * SPLIT_PROBE + sent,
            )
        )

    # ------------------------------------------------------------------------------------------ metrics
    @contextlib.contextmanager
    def metrics_window(self) -> Iterator[MetricsWindow]:
        """A window that holds exactly the traffic sent inside the ``with`` block (see suite/metrics.py)."""
        self.step("waiting for a quiet second before the measured traffic")
        window = MetricsWindow(self.mesh.metrics.scrape_delay_s).begin()
        yield window
        window.close()

    def query_metrics(self, path: str, window_s: float) -> tuple[list[MetricSample], Any]:
        """GET ``/apis/metrics.smi-spec.io/v1alpha1`` + ``path`` over the last ``window_s`` seconds: the
        samples and the raw answer (None for a 404). An invalid answer is a failed check."""
        raw = self.cluster.metrics_get(PREFIX + path, {"t": f"{int(window_s)}s"})
        if raw is None:
            return [], None
        try:
            return parse_metrics(raw), raw
        except MetricsError as exc:
            self.record(
                CheckResult(
                    name=f"GET {path}",
                    kind="metrics",
                    passed=False,
                    message=f"GET {PREFIX}{path}: {exc}",
                    observed=raw,
                )
            )
            raise AssertionError("unreachable") from exc

    def expect_metric_counts(
        self,
        window: MetricsWindow,
        path: str,
        expected: Mapping[str, Mapping[str, int]],
        *,
        key: Callable[[MetricSample], str],
        name: str,
    ) -> CheckResult:
        """The samples at ``path`` over ``window``, keyed by ``key``, have the expected ``success`` and
        ``failure`` counts (exactly, or within the adapter's declared tolerance). Samples with a key outside
        ``expected`` must count nothing (traffic the test did not send)."""
        window_s = window.ready()
        self.step(f"{name}: GET {path} (window {window_s:g} s)")
        samples, _ = self.query_metrics(path, window_s)
        observed: dict[str, dict[str, float | None]] = {}
        for sample in samples:
            observed[key(sample)] = {"success": sample.success, "failure": sample.failure}
        tolerance = self.mesh.metrics.count_tolerance
        want: dict[str, float] = {}
        got: dict[str, float] = {}
        for k, counts in expected.items():
            for metric, value in counts.items():
                want[f"{k} {metric}"] = value
                seen = observed.get(k, {}).get(metric)
                if seen is not None:
                    got[f"{k} {metric}"] = seen
        extra = {k: v for k, v in observed.items() if k not in expected and any(x for x in v.values() if x)}
        comparison = stats.compare_counts(want, got, relative_tolerance=tolerance)
        passed = comparison.ok and not extra
        message = f"{name} (window {window_s:g} s): {comparison.message}"
        if extra:
            message += "; traffic the test did not send: " + ", ".join(f"{k} {v}" for k, v in extra.items())
        return self.record(
            CheckResult(
                name=name,
                kind="metrics",
                passed=passed,
                message=message,
                expected={k: dict(v) for k, v in expected.items()},
                observed=observed,
                statistics={**comparison.to_dict(), "windowSeconds": window_s, "path": PREFIX + path},
            )
        )
