"""The conformance run inside pytest: per-test selection, objects, outcomes and the report.

Registered by the plugin (:mod:`smi_conformance.plugin`) only when a mesh is given. A test's lifecycle:
``prepare`` (skip as not-supported or not selected, apply the test's objects in the mesh's API versions) ->
the body -> ``finish`` (delete the objects) -> the report hook records the outcome with the checks' evidence
and, after a failure, saves the cluster's logs.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Generator
from typing import Any

import pytest

from smi_conformance.cluster.base import ApplyRefused, Cluster, ClusterError
from smi_conformance.mesh.adapter import AdapterError
from smi_conformance.report.model import TestResult
from smi_conformance.report.writers import write_reports
from smi_conformance.suite.context import TestContext
from smi_conformance.suite.registry import REGISTRY, ConformanceTest, load_suite
from smi_conformance.suite.run import ConformanceRun, save_artifacts

__all__ = ["MARKER", "NOT_SUPPORTED", "SmiSession"]

MARKER = "smi_conformance"
NOT_SUPPORTED = "not-supported: "
_VERSIONS = pytest.StashKey[dict[str, str]]()
_OBJECTS = pytest.StashKey[list[dict[str, Any]]]()
_CONTEXT = pytest.StashKey[TestContext]()
_STARTED = pytest.StashKey[float]()


def _short(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[-6:])[-1000:]


class SmiSession:
    """The state of one run inside pytest (a plugin object)."""

    def __init__(self, run: ConformanceRun):
        self.run = run

    # ---------------------------------------------------------------------------------------- fixtures
    def cluster(self) -> Cluster:
        try:
            return self.run.ensure_cluster()
        except (ClusterError, AdapterError) as exc:
            self.run.aborted = f"the {self.run.settings.cluster} cluster did not start: {exc}"
            pytest.exit(f"smi-conformance: {exc}", returncode=4)

    def context(self, node: pytest.Item) -> TestContext:
        ctx = TestContext(
            self.cluster(),
            self.run.mesh,
            self.run.settings,
            on_step=lambda text: self.run.emit("step", text),
            on_sent=lambda n: self.run.emit("sent", str(n)),
        )
        node.stash[_CONTEXT] = ctx
        return ctx

    def prepare(self, node: pytest.Item, ctx: TestContext) -> list[dict[str, Any]]:
        """Skip the test if it does not apply; otherwise apply its objects and return them."""
        test = self.test_of(node)
        if test is None:
            return []
        selection = self.run.select(test)
        if selection.outcome == "not-supported":
            pytest.skip(NOT_SUPPORTED + selection.reason)
        if selection.outcome == "skipped":
            pytest.skip(selection.reason)
        node.stash[_VERSIONS] = selection.versions
        ctx.versions = dict(selection.versions)
        node.stash[_OBJECTS] = selection.objects
        if selection.objects:
            ctx.step(f"apply {len(selection.objects)} objects")
            try:
                ctx.cluster.apply(selection.objects)
            except ApplyRefused as exc:
                pytest.fail(f"the mesh refused the test's objects: {exc}", pytrace=False)
        return selection.objects

    def finish(self, ctx: TestContext, objects: list[dict[str, Any]]) -> None:
        try:
            leftovers = [*objects, *(d for d in ctx.applied if d not in objects)]
            if leftovers and not self.run.settings.keep:
                ctx.step("delete the test's objects")
                ctx.cluster.delete(leftovers)
        finally:
            ctx.traffic.close()

    @staticmethod
    def test_of(node: pytest.Item) -> ConformanceTest | None:
        marker = node.get_closest_marker(MARKER)
        return REGISTRY.get(marker.args[0]) if marker is not None and marker.args else None

    # ------------------------------------------------------------------------------------------- hooks
    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        s, info = self.run.settings, self.run.mesh
        return [
            f"smi-conformance: mesh {info.name} {info.version} on the {s.cluster} cluster; profiles "
            f"{', '.join(sorted(p.value for p in s.profiles))}; seed {s.seed}",
            f"smi-conformance: alpha {s.alpha:g}, beta {s.beta:g}, tolerance {s.tolerance:g}; consistency "
            f"{s.consistency_timeout_s:g} s x {s.consecutive} probes; claims "
            f"{', '.join(sorted(f.value for f in info.features))}",
        ]

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """--smi-test / --smi-skip deselect (the report lists those tests as not selected)."""
        s = self.run.settings
        if not (s.only or s.skip):
            return
        keep: list[pytest.Item] = []
        drop: list[pytest.Item] = []
        for item in items:
            test = self.test_of(item)
            chosen = test is None or ((not s.only or test.id in s.only) and test.id not in s.skip)
            (keep if chosen else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        test = self.test_of(item)
        if test is not None:
            item.stash[_STARTED] = time.monotonic()
            self.run.emit("test", test.id)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        test = self.test_of(item)
        if test is None:
            return report
        if report.when == "teardown":
            previous = self.run.results.get(test.id)
            if report.failed and previous is not None and previous.outcome == "passed":
                previous.outcome, previous.reason = (
                    "failed",
                    f"clean-up failed: {_short(report.longreprtext)}",
                )
            return report
        if report.when == "setup" and report.passed:
            return report  # the call phase decides
        ctx = item.stash.get(_CONTEXT, None)
        checks = list(ctx.checks) if ctx is not None else []
        outcome, reason = "passed", ""
        if report.skipped:
            text = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            text = text.removeprefix("Skipped: ")
            outcome = "not-supported" if text.startswith(NOT_SUPPORTED) else "skipped"
            reason = text.removeprefix(NOT_SUPPORTED)
        elif report.failed:
            outcome = "failed"
            failed = [c for c in checks if not c.passed]
            reason = failed[-1].message if failed else _short(report.longreprtext)
        result = TestResult(
            id=test.id,
            description=test.description,
            group=test.group,
            profile=test.profile.value,
            features=sorted(f.value for f in test.features),
            outcome=outcome,  # type: ignore[arg-type]
            reason=reason,
            versions=item.stash.get(_VERSIONS, {}),
            duration_seconds=round(time.monotonic() - item.stash.get(_STARTED, time.monotonic()), 3),
            requests=ctx.traffic.sent if ctx is not None else 0,
            checks=checks,
            objects=item.stash.get(_OBJECTS, []),
        )
        if outcome == "failed":
            result.artifacts = save_artifacts(self.run, test.id)
        self.run.record(result)
        self.run.emit("result", f"{test.id} {outcome}")
        return report

    @pytest.hookimpl(trylast=True)  # after pytest's own, which tears down fixtures (a test's objects)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        try:
            report = self.run.report(load_suite(), interrupted=exitstatus == pytest.ExitCode.INTERRUPTED)
            write_reports(report, self.run.settings)
            for listener in self.run.report_listeners:
                listener(report)
        finally:
            try:
                self.run.stop()
            except ClusterError as exc:
                # the verdicts stand, but the cluster is not as it was: say what is left, fail the run
                sys.stderr.write(f"smi-conformance: cleaning up the cluster failed: {exc}\n")
                session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
