"""Generated cases: random policies and requests, judged by an oracle written from the spec alone.

Hypothesis draws whole policies for the standard topology (HTTPRouteGroups, TCPRoutes, UDPRoutes,
TrafficTargets, TrafficSplits: smi_conformance.suite.generated) and requests that hit and narrowly miss their
rules. For each policy the test applies it, waits until the mesh's answers agree with the oracle
(smi_conformance.suite.oracle) on every request several times in a row, and fails when they never do. The
oracle never shares code with any mesh; where the spec is open it says so and the request is not judged.

The seed is fixed by default (``--smi-seed``) and printed in the report, so a failure replays exactly.
Shrinking is off: every example is a live apply against the mesh. A failure shows the whole policy, the
requests, what the oracle expected and what the mesh did.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from smi_conformance.report.model import CheckResult
from smi_conformance.suite.context import TestContext
from smi_conformance.suite.features import Feature
from smi_conformance.suite.generated import policies, requests
from smi_conformance.suite.manifests import TEST_LABEL
from smi_conformance.suite.oracle import Answer, Oracle, Request
from smi_conformance.suite.registry import conformance
from smi_conformance.suite.versions import render
from smi_conformance.workload.traffic import TrafficResult

F = Feature
#: Requests per generated request and probe: enough to see more than one backend of a split.
SAMPLES = 4
#: Generated requests per policy (from the clients, about half aimed at a rule).
REQUESTS = 12


@dataclass
class Judged:
    request: Request
    answer: Answer
    result: TrafficResult
    problems: list[str]

    def summary(self) -> str:
        return self.line()

    def line(self) -> str:
        r = self.request
        what = f"{r.method} {r.path}" if r.protocol == "http" else f"{r.protocol.upper()} :{r.port}"
        if r.headers:
            what += " " + ", ".join(f"{k}: {v}" for k, v in r.headers)
        verdict = "; ".join(self.problems) if self.problems else "as expected"
        who = f"{r.source[0]}/{r.source[1]} -> {r.service[0]}/{r.service[1]}"
        return f"{who} {what}: {self.result.summary()} ({verdict})"


def judge(smi: TestContext, answer: Answer, result: TrafficResult) -> list[str]:
    """What the mesh did that the oracle says a correct mesh never does (empty: consistent)."""
    t = smi.topology
    possible = [d for d in answer.destinations if d.share is None or d.share > 0]
    allowed_pods = set()
    # where the spec leaves the routing open (e.g. a split with no weighted backend: the root's pods, or a
    # failure) a refusal is one of the readings
    may_deny = not answer.shares_known
    for d in possible:
        if d.allowed:
            for name in d.workloads:
                w = t.workload(name, d.namespace)
                allowed_pods.add((w.namespace, w.app, w.version))
        else:
            may_deny = True
    problems = []
    for g in result.groups:
        o = g.outcome
        if o.ok:
            where = o.namespace or answer.request.service[0]
            if (where, o.service, o.version) not in allowed_pods:
                problems.append(
                    f"{g.count} answered by {where}/{o.service}/{o.version}, which must not answer"
                )
        elif not may_deny:
            problems.append(f"{g.count} refused ({o.form}), but every destination allows it")
    return problems


def send(smi: TestContext, request: Request) -> TrafficResult:
    client = (request.source[1], request.source[0])
    service = smi.topology.service(request.service[1], request.service[0])
    if request.protocol == "http":
        return smi.traffic.http(
            client[0],
            service,
            client_namespace=client[1],
            method=request.method or "GET",
            path=request.path or "/",
            headers=list(request.headers),
            count=SAMPLES,
            concurrency=SAMPLES,
        )
    return smi.traffic.stream(
        client[0],
        service,
        request.protocol,
        client_namespace=client[1],
        count=SAMPLES,
        concurrency=SAMPLES,
        timeout_s=1.0,
    )


@conformance(
    "generated-policies",
    "Random TrafficTargets, route groups and splits with requests aimed at their rules: every answer agrees "
    "with an oracle written from the spec",
    group="access.smi-spec.io",
    features={
        F.TRAFFIC_TARGET,
        F.TRAFFIC_TARGET_NAMESPACES,
        F.HTTP_ROUTE_METHODS,
        F.HTTP_ROUTE_PATH_REGEX,
        F.HTTP_ROUTE_HEADERS,
        F.TCP_ROUTE,
        F.TCP_ROUTE_PORTS,
        F.UDP_ROUTE,
        F.TRAFFIC_SPLIT,
        F.TRAFFIC_SPLIT_MATCHES,
    },
    slow=True,
)
def test_generated_policies(smi: TestContext) -> None:
    t = smi.topology
    clients = {(w.namespace, w.name) for w in t.clients}
    versions = {g: v for g, v in (smi.mesh.api_versions or {}).items()}
    newest = {g: vs[-1] for g, vs in versions.items() if vs}
    examples: list[int] = [0]

    @settings(
        max_examples=smi.settings.generated_examples,
        database=None,
        deadline=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
        derandomize=False,
    )
    @seed(smi.settings.seed)
    @given(documents=policies(t), data=st.data())
    def one_policy(documents: list[dict[str, Any]], data: st.DataObject) -> None:
        from_clients = requests(t, documents).filter(lambda r: r.source in clients)
        sent = data.draw(
            st.lists(from_clients, min_size=REQUESTS, max_size=REQUESTS, unique=True), "requests"
        )
        examples[0] += 1
        number = examples[0]
        oracle = Oracle(t, documents)
        answers = {r: oracle.answer(r) for r in sent}
        judged_requests = [r for r in sent if all(d.allowed is not None for d in answers[r].destinations)]
        if not judged_requests:
            return
        objects = render(
            [{**d, "metadata": {**d["metadata"], "labels": {TEST_LABEL: "true"}}} for d in documents], newest
        )
        smi.step(f"generated policy {number}: {len(objects)} objects, {len(judged_requests)} requests")
        smi.apply(objects)
        try:

            def probe() -> list[Judged]:
                # every request at once (a UDP denial is a timeout: one after another they would add up)
                with ThreadPoolExecutor(max_workers=len(judged_requests)) as pool:
                    results = list(pool.map(lambda r: send(smi, r), judged_requests))
                return [
                    Judged(r, answers[r], result, judge(smi, answers[r], result))
                    for r, result in zip(judged_requests, results, strict=True)
                ]

            waited = smi.eventually(probe, lambda js: not any(j.problems for j in js))
            last = waited.last
            bad = [j for j in last if j.problems]
            summary = f"policy {number}: {len(objects)} objects, {len(judged_requests)} requests"
            smi.record(
                CheckResult(
                    name=f"generated policy {number}",
                    kind="generated",
                    passed=waited.converged,
                    message=(
                        f"{summary}: every answer as the oracle expects (after {waited.seconds or 0:.2f} s)"
                        if waited.converged
                        else f"{summary}: after {smi.settings.consistency_timeout_s:g} s, {len(bad)} still "
                        f"disagree with the oracle: " + " | ".join(j.line() for j in bad[:3])
                    ),
                    expected={"objects": objects, "oracle": [answers[j.request].to_dict() for j in last]},
                    observed=[j.line() for j in last],
                    statistics={"seed": smi.settings.seed, "example": number, "probes": waited.probes},
                    requests=waited.probes * len(judged_requests) * SAMPLES,
                )
            )
        finally:
            smi.delete(objects)

    one_policy()
