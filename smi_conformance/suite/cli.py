"""``smi-conformance run`` and ``smi-conformance list``.

``run`` is pytest with the plugin and the suite's own tests, behind options named like the plugin's (without
the ``--smi-`` prefix), a live progress display and a summary table; its exit code is 0 when no test failed, 1
when one did, 2 for a usage error. ``list`` shows the registry (``--json`` for machines), and with ``--mesh``
which tests that mesh's claims would run.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click
import pytest
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from smi_conformance.report.model import ConformanceReport

__all__ = ["list_command", "run_command"]

OUTCOME_STYLE = {"passed": "green", "failed": "bold red", "skipped": "dim", "not-supported": "yellow"}


class Progress:
    """A pytest plugin that shows the run as it goes (test, step, requests sent) and keeps the report."""

    #: The plugin's errors name this command's options (`--alpha`), not pytest's (`--smi-alpha`).
    smi_flag_prefix = "--"

    def __init__(self, console: Console, live: bool):
        self.console = console
        self.live_enabled = live
        self.test = ""
        self.step = ""
        self.sent_test = 0
        self.sent_total = 0
        self.done: dict[str, int] = {"passed": 0, "failed": 0, "skipped": 0, "not-supported": 0}
        self.test_started = time.monotonic()
        self.live: Live | None = None
        self.report: ConformanceReport | None = None

    def _render(self) -> Text:
        counts = ", ".join(f"{n} {k}" for k, n in self.done.items() if n)
        line = Text()
        line.append(f"{self.test or 'starting'}", style="bold")
        line.append(f"  {time.monotonic() - self.test_started:4.1f} s  {self.sent_test:,} requests\n")
        line.append(f"  {self.step[:150]}\n", style="cyan")
        line.append(f"  {counts or 'no results yet'}; {self.sent_total:,} requests in all", style="dim")
        return line

    def _event(self, event: str, text: str) -> None:
        if event == "test":
            self.test, self.step, self.sent_test = text, "", 0
            self.test_started = time.monotonic()
        elif event == "step":
            self.step = text
        elif event == "sent":
            self.sent_test += int(text)
            self.sent_total += int(text)
        elif event == "result":
            test_id, outcome = text.rsplit(" ", 1)
            self.done[outcome] += 1
            if self.live is not None or not self.live_enabled:
                style = OUTCOME_STYLE[outcome]
                self.console.print(Text.assemble((f"{outcome:>13}", style), f"  {test_id}"))
        if self.live is not None:
            self.live.update(self._render())

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        smi = session.config.pluginmanager.get_plugin("smi-conformance-run")
        if smi is None:
            return
        smi.run.listeners.append(self._event)
        smi.run.report_listeners.append(self._keep)
        if self.live_enabled:
            self.live = Live(self._render(), console=self.console, refresh_per_second=8, transient=True)
            self.live.start()

    def _keep(self, report: ConformanceReport) -> None:
        self.report = report

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """A run stopped by ``pytest.exit`` (the cluster did not start): say why, as pytest's terminal output
        (switched off here) would."""
        if isinstance(excinfo.value, pytest.exit.Exception):
            self.console.print(Text(excinfo.value.msg, style="red"))

    def pytest_sessionfinish(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.console.print(f"[red]cannot collect {report.nodeid}:[/red]\n{report.longreprtext}")


#: Narrower than this, the verdicts leave the table (they would be squeezed to nothing) and follow it.
VERDICT_IN_TABLE_WIDTH = 120


def print_summary(console: Console, report: ConformanceReport, written: list[str]) -> None:
    """The report as a table; every test that did not pass is followed by its reason (the evidence), at any
    width (a CI log is 80 columns)."""
    impl = report.implementation
    table = Table(
        title=f"{impl.name} {impl.version} on the {report.cluster.get('kind')} cluster", expand=False
    )
    wide = console.width >= VERDICT_IN_TABLE_WIDTH
    table.add_column("test", no_wrap=True)
    for col in ("profile", "outcome", "s", "requests"):
        table.add_column(col, justify="right" if col in ("s", "requests") else "left", no_wrap=True)
    if wide:
        table.add_column("verdict", overflow="fold", max_width=90)
    hidden = [t for t in report.tests if t.outcome == "skipped" and t.reason.startswith("not selected")]
    shown = [t for t in report.tests if t not in hidden]
    for t in shown:
        cells: list[str | Text] = [
            t.id,
            t.profile,
            Text(t.outcome, style=OUTCOME_STYLE[t.outcome]),
            f"{t.duration_seconds:.1f}" if t.outcome in ("passed", "failed") else "",
            f"{t.requests:,}" if t.requests else "",
        ]
        if wide:
            cells.append(t.reason if t.outcome != "passed" else (t.checks[-1].message if t.checks else ""))
        table.add_row(*cells)
    console.print(table)
    if not wide:
        for t in shown:
            if t.outcome != "passed":
                console.print(Text.assemble((t.id, OUTCOME_STYLE[t.outcome]), f" ({t.outcome}): {t.reason}"))
    if hidden:
        console.print(f"{len(hidden)} tests not selected")
    for p in report.profiles:
        style = {"passed": "bold green", "failed": "bold red", "partial": "yellow"}[p.result]
        details = ", ".join(f"{n} {k}" for k, n in p.summary.items() if n)
        console.print(Text.assemble(f"profile {p.name}: ", (p.result.upper(), style), f" ({details})"))
    console.print(
        f"seed {report.settings.seed}; {report.duration_seconds:.1f} s; reproduce: {report.reproduce}"
    )
    for path in written:
        console.print(f"report: {path}")


# ------------------------------------------------------------------------------------------------ options
def _flags(kwargs: dict[str, Any]) -> list[str]:
    """The command's options as the plugin's flags."""
    args: list[str] = []
    for name, value in kwargs.items():
        if value is None or value is False or value == ():
            continue
        flag = "--smi-" + name.replace("_", "-")
        if value is True:
            args.append(flag)
        elif isinstance(value, tuple):
            for v in value:
                args += [flag, str(v)]
        else:
            args += [flag, str(value)]
    return args


@click.command("run")
@click.option("--mesh", default="reference", show_default=True, help="Mesh adapter to certify.")
@click.option("--mesh-option", multiple=True, metavar="KEY=VALUE", help="Adapter option (repeatable).")
@click.option(
    "--cluster", type=click.Choice(["embedded", "kind", "kubeconfig"]), default="embedded", show_default=True
)
@click.option("--kube-context", help="Kubeconfig context (--cluster kubeconfig; required).")
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Kubeconfig file (--cluster kubeconfig) [$KUBECONFIG, else ~/.kube/config].",
)
@click.option("--kind-cluster", help="Kind cluster to create or reuse (--cluster kind) [smi-conformance].")
@click.option("--keep-cluster", is_flag=True, help="Keep the kind cluster this run created.")
@click.option("--image", help="The suite's image on Kubernetes [built here for kind].")
@click.option(
    "--profile", multiple=True, type=click.Choice(["core", "extended"]), help="Profiles (default both)."
)
@click.option("--claim", multiple=True, metavar="FEATURE", help="Claim a feature beyond the adapter's.")
@click.option("--exempt", multiple=True, metavar="FEATURE", help="Withdraw a feature the adapter claims.")
@click.option("--test", multiple=True, metavar="ID", help="Run only this test (repeatable).")
@click.option("--skip", multiple=True, metavar="ID", help="Skip this test (repeatable).")
@click.option("--alpha", type=float, help="P(a correct split fails a weight check) [1e-6].")
@click.option("--beta", type=float, help="P(a split off by the tolerance passes) [1e-6].")
@click.option("--tolerance", type=float, help="Weight tolerance as a share [0.05].")
@click.option("--max-samples", type=int, help="Cap on requests per weight check.")
@click.option("--timeout", type=float, help="Maximum time to consistency, seconds [30].")
@click.option("--consecutive", type=int, help="Agreeing probes that mean converged [3].")
@click.option("--seed", type=int, help="Seed of the generated cases (fixed by default).")
@click.option("--examples", type=int, help="Generated policies per generated test.")
@click.option("--namespace", help="Namespace prefix of the standard topology.")
@click.option(
    "--report",
    "report",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Write the report (.yaml/.json).",
)
@click.option("--html", type=click.Path(path_type=Path), help="Write the HTML report.")
@click.option("--junit", type=click.Path(path_type=Path), help="Write JUnit XML (one test case per test).")
@click.option("--artifacts", type=click.Path(path_type=Path), help="Folder for logs saved after failures.")
@click.option("--keep", is_flag=True, help="Keep each test's objects (and a Kubernetes cluster).")
@click.option("--no-progress", is_flag=True, help="No live display (CI logs).")
@click.option("--pytest-arg", multiple=True, help="Pass an argument to pytest (e.g. -x).")
def run_command(no_progress: bool, pytest_arg: tuple[str, ...], **kwargs: Any) -> None:
    """Certify a mesh: run the conformance suite against it and print the report.

    \b
      smi-conformance run                                   # the reference mesh, embedded cluster
      smi-conformance run --profile core --report r.yaml --html r.html --junit r.xml
      smi-conformance run --mesh-option faults=ignore-weights --test split-two-backends
      smi-conformance run --cluster kind --profile core      # on a kind cluster (created, then deleted)
      smi-conformance run --cluster kubeconfig --kube-context prod-eu --mesh adapters/linkerd.yaml
    """
    console = Console(stderr=False, highlight=False)
    progress = Progress(console, live=not no_progress and console.is_terminal)
    suite = str(Path(__file__).parent / "tests")
    # The suite's own settings only: no ini file of whatever project the command runs in (-c), no cache
    # folder, no pytest terminal output (the progress display and the summary replace it).
    args = [
        suite,
        "-c",
        os.devnull,
        "-p",
        "no:cacheprovider",
        "-p",
        "no:terminal",
        *_flags(kwargs),
        *pytest_arg,
    ]
    code = pytest.main(args, plugins=[progress])
    if progress.report is None:
        console.print("[red]smi-conformance: the run did not start (see the message above)[/red]")
        sys.exit(2)
    written = [str(p) for p in (kwargs.get("report") or ())]
    written += [str(kwargs[k]) for k in ("html", "junit") if kwargs.get(k)]
    print_summary(console, progress.report, written)
    if code == pytest.ExitCode.INTERRUPTED:
        sys.exit(130)  # as a shell reports Ctrl-C (128 + SIGINT), not as a usage error
    sys.exit(
        0
        if code in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
        else 1
        if code == pytest.ExitCode.TESTS_FAILED
        else 2
    )


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--mesh", help="Show which tests this mesh adapter's claims run.")
@click.option("--mesh-option", multiple=True, metavar="KEY=VALUE")
def list_command(as_json: bool, mesh: str | None, mesh_option: tuple[str, ...]) -> None:
    """List the conformance tests: id, API group, profile, features."""
    from smi_conformance.mesh.adapter import AdapterError
    from smi_conformance.mesh.loader import parse_options
    from smi_conformance.suite.registry import load_suite
    from smi_conformance.suite.run import ConformanceRun
    from smi_conformance.suite.settings import SuiteSettings
    from smi_conformance.suite.topology import standard_topology

    tests = load_suite()
    run = None
    if mesh:
        try:
            run = ConformanceRun(SuiteSettings(mesh=mesh, mesh_options=parse_options(list(mesh_option))))
        except (AdapterError, ValueError) as exc:
            raise click.UsageError(str(exc)) from None
    topology = standard_topology()
    rows = []
    for t in tests.values():
        row = t.to_json(topology)
        if run is not None:
            sel = run.select(t)
            row["selection"] = {"outcome": sel.outcome, "reason": sel.reason, "versions": sel.versions}
        rows.append(row)
    if as_json:
        click.echo(json.dumps({"tests": rows}, indent=2))
        return
    console = Console(highlight=False)
    table = Table(title=f"{len(rows)} conformance tests")
    table.add_column("id", no_wrap=True)
    for col in ("group", "profile", "features"):
        table.add_column(col)
    if run is not None:
        table.add_column(f"with {mesh}")
    table.add_column("description", overflow="fold")
    for row in rows:
        cells = [row["id"], row["group"].split(".")[0], row["profile"], ", ".join(row["features"])]
        if run is not None:
            sel = row["selection"]
            cells.append(sel["outcome"] if sel["outcome"] == "run" else f"{sel['outcome']}: {sel['reason']}")
        cells.append(row["description"])
        table.add_row(*cells)
    console.print(table)
