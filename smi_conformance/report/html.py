"""The HTML report: one self-contained page a mesh's engineers read to agree (or not) with every verdict.

No script, no external stylesheet, font or image: styles are inline and charts are SVG drawn in Python
(:mod:`.svg`), and a Content-Security-Policy meta tag forbids every fetch, so the page opens offline and
cannot call out even if something slipped through. Everything that comes from the run (names, messages,
the mesh's replies) is escaped: a response body holding ``<script>`` shows as text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape

import yaml

from smi_conformance.report.evidence import (
    AccessCell,
    access_cell,
    count_rows,
    evidence_text,
    latency_rows,
    split_group,
)
from smi_conformance.report.model import CheckResult, ConformanceReport, TestResult
from smi_conformance.report.svg import count_chart, latency_chart, split_chart

__all__ = ["CSP", "render_html"]

#: Nothing may be fetched: no script, font, frame or connection; styles only inline, images only data: URLs.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

_STYLE = """
:root { --pass: #1a7f37; --fail: #cf222e; --skip: #6e7781; --ns: #9a6700; --line: #d0d7de; --soft: #f6f8fa; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; margin: 0 auto;
  max-width: 1200px; padding: 16px 24px 48px; }
h1 { font-size: 24px; margin: 8px 0 4px; } h2 { font-size: 19px; margin-top: 36px;
  border-bottom: 1px solid var(--line); padding-bottom: 4px; } h3 { font-size: 16px; margin: 0 0 4px; }
table { border-collapse: collapse; margin: 8px 0; } th, td { border: 1px solid var(--line); padding: 4px 8px;
  text-align: left; vertical-align: top; } th { background: var(--soft); }
table.summary td:first-child, table.summary td:nth-child(2) { white-space: nowrap; }
td.num { white-space: nowrap; text-align: right; font-variant-numeric: tabular-nums; }
.facts th { width: 190px; } pre { background: var(--soft); padding: 8px; overflow-x: auto;
  white-space: pre-wrap; word-break: break-word; margin: 4px 0; font-size: 12px; }
code { font-size: 12px; }
.badge { white-space: nowrap; display: inline-block; border-radius: 10px; padding: 0 8px; color: #fff;
  font-size: 12px; font-weight: 600; }
.badge.passed { background: var(--pass); } .badge.failed { background: var(--fail); }
.badge.skipped { background: var(--skip); } .badge.not-supported, .badge.partial { background: var(--ns); }
.verdicts .badge { font-size: 14px; padding: 2px 12px; margin-right: 8px; }
section.test { border: 1px solid var(--line); border-left: 6px solid var(--skip); border-radius: 6px;
  padding: 12px 16px; margin: 16px 0; }
section.test.passed { border-left-color: var(--pass); }
section.test.failed { border-left-color: var(--fail); }
section.test.not-supported { border-left-color: var(--ns); }
.meta { color: #59636e; font-size: 13px; margin: 2px 0; }
.reason { font-weight: 600; } .failed .reason { color: var(--fail); }
ol.checks { padding-left: 20px; } ol.checks li { margin: 8px 0; }
.check .mark { font-weight: 700; } .check.passed .mark { color: var(--pass); }
.check.failed .mark { color: var(--fail); } .check.failed .message { color: var(--fail); }
.message { white-space: pre-wrap; word-break: break-word; }
figure { margin: 12px 0; overflow-x: auto; } figcaption { color: #59636e; font-size: 12px; }
svg.chart .grid { stroke: var(--line); } svg.chart text { fill: #1f2328; }
svg.chart .band { fill: var(--pass); fill-opacity: 0.14; }
svg.chart .bar.expected { fill: #fff; stroke: #57606a; stroke-width: 1.5; stroke-dasharray: 3 2; }
svg.chart .bar.observed { fill: #0969da; } svg.chart .bar.observed.off { fill: var(--fail); }
svg.chart .interval { stroke: #1f2328; stroke-width: 1.5; fill: none; }
svg.chart .group-label { font-weight: 600; }
table.access td.cell div { padding: 2px 6px; margin: 2px 0; border-radius: 4px; }
table.access .pass { background: #dafbe1; } table.access .fail { background: #ffebe9; color: var(--fail);
  font-weight: 600; }
.key { display: inline-block; width: 12px; height: 10px; vertical-align: middle; margin: 0 3px 0 10px; }
.key.expected { border: 1.5px dashed #57606a; } .key.observed { background: #0969da; }
.key.off { background: var(--fail); } .key.band { background: rgba(26, 127, 55, .25); }
"""


#: Reasons longer than this are cut in the summary table (the test's section has them whole).
_SHORT = 180


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _badge(outcome: str) -> str:
    return f'<span class="badge {_e(outcome)}">{_e(outcome)}</span>'


def _anchor(test_id: str) -> str:
    return f"test-{test_id}"


def _counts(summary: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {o}" for o, n in summary.items() if n) or "no tests"


# --------------------------------------------------------------------------------------------- header
def _link(url: str) -> str:
    if url.startswith(("https://", "http://")):
        return f'<a href="{_e(url)}" rel="noreferrer">{_e(url)}</a>'
    return _e(url)


def _header(report: ConformanceReport) -> str:
    impl, s = report.implementation, report.settings
    verdicts = "".join(
        f'<span class="badge {_e(p.result)}" data-profile="{_e(p.name)}">{_e(p.name)}: {_e(p.result)}</span>'
        for p in report.profiles
    )
    details = "; ".join(f"{p.name}: {_counts(p.summary)}" for p in report.profiles)
    facts: list[tuple[str, str]] = [
        (
            "Implementation",
            f"<strong>{_e(impl.name)}</strong> {_e(impl.version)}"
            + (f" ({_link(impl.url)})" if impl.url else "")
            + ("" if impl.verified else " <em>(claims not verified)</em>"),
        ),
        (
            "Adapter",
            _e(impl.adapter)
            + "".join(f" <code>{_e(k)}={_e(v)}</code>" for k, v in impl.options.items())
            + (f" <br>{_e(impl.notes)}" if impl.notes else ""),
        ),
        ("Cluster", ", ".join(f"{_e(k)}: {_e(v)}" for k, v in report.cluster.items())),
        ("Date", _e(report.date.isoformat().replace("+00:00", "Z"))),
        ("Suite", f"smi-conformance {_e(report.suite_version)}; run took {report.duration_seconds:.1f} s"),
        ("Seed", f"<code>{s.seed}</code> (generated cases: {s.generated_examples} policies per test)"),
        (
            "Statistics",
            f"alpha {s.alpha:g} (a correct split fails), beta {s.beta:g} (a split off by the tolerance "
            f"passes), tolerance {s.tolerance * 100:g} points"
            + (f", at most {s.max_samples:,} requests per weight check" if s.max_samples else ""),
        ),
        (
            "Consistency",
            f"up to {s.consistency_timeout_seconds:g} s, {s.consecutive_probes} agreeing probes in a row",
        ),
        ("Features claimed", _e(", ".join(impl.features))),
        (
            "API versions",
            "<br>".join(f"{_e(g)}: {_e(', '.join(v))}" for g, v in impl.api_versions.items()),
        ),
        ("Reproduce", f"<pre><code>{_e(report.reproduce)}</code></pre>"),
    ]
    if report.artifacts_dir and any(t.artifacts for t in report.tests):
        facts.append(("Artifacts", f"<code>{_e(report.artifacts_dir)}</code>"))
    rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    return (
        f"<header><h1>SMI conformance: {_e(impl.name)} {_e(impl.version)}</h1>"
        f'<p class="verdicts">{verdicts}</p><p class="meta">{_e(details)}; over all: '
        f"{_e(_counts(report.summary))}</p>"
        f'<table class="facts">{rows}</table></header>'
    )


# -------------------------------------------------------------------------------------------- summary
def _summary(tests: Sequence[TestResult]) -> str:
    rows = []
    for t in tests:
        passed = sum(1 for c in t.checks if c.passed)
        reason = t.reason if t.outcome != "passed" else ""
        if len(reason) > _SHORT:
            reason = reason[: _SHORT - 3].rstrip() + "..."
        rows.append(
            f'<tr class="{_e(t.outcome)}" data-test="{_e(t.id)}"><td><a href="#{_e(_anchor(t.id))}">'
            f"{_e(t.id)}</a></td><td>{_e(t.group)}</td><td>{_e(t.profile)}</td><td>{_badge(t.outcome)}</td>"
            f'<td class="num">{t.duration_seconds:.2f} s</td><td class="num">{t.requests:,}</td>'
            f'<td class="num">{passed}/{len(t.checks)}</td><td class="message">{_e(reason)}</td></tr>'
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in ("Test", "API group", "Profile", "Outcome", "Duration", "Requests", "Checks", "Reason")
    )
    return f'<h2>Summary</h2><table class="summary"><tr>{head}</tr>{"".join(rows)}</table>'


# --------------------------------------------------------------------------------------------- charts
def _split_figure(checks: Sequence[CheckResult], tolerance: float) -> str:
    groups = [g for g in map(split_group, checks) if g is not None]
    if not groups:
        return ""
    confidence = None
    for check in checks:
        settings = (check.statistics or {}).get("settings")
        if isinstance(settings, Mapping) and isinstance(settings.get("confidence"), (int, float)):
            confidence = float(settings["confidence"])
    interval = f"{confidence:.0%} confidence interval" if confidence else "confidence interval"
    caption = (
        '<span class="key expected"></span>expected share (weight over the sum of weights)'
        '<span class="key observed"></span>observed share'
        '<span class="key off"></span>outside the band'
        f'<span class="key band"></span>expected +- {tolerance * 100:g} points (the tolerance); '
        f"whisker: {interval} of the observed share (anytime-valid)"
    )
    return f"<figure>{split_chart(groups, tolerance)}<figcaption>{caption}</figcaption></figure>"


def _access_matrix(cells: Sequence[AccessCell]) -> str:
    if not cells:
        return ""
    sources = list(dict.fromkeys(c.source for c in cells))
    columns = list(dict.fromkeys((c.destination, c.request) for c in cells))
    head = "".join(f"<th>{_e(d)}<br><code>{_e(r)}</code></th>" for d, r in columns)
    rows = []
    for source in sources:
        tds = []
        for column in columns:
            entries = [c for c in cells if c.source == source and (c.destination, c.request) == column]
            inner = "".join(
                f'<div class="{"pass" if c.passed else "fail"}">'
                f"{'&#10003;' if c.passed else '&#10007;'} expected {'allowed' if c.allowed else 'denied'}"
                f"; saw {_e(c.seen or 'nothing')}</div>"
                for c in entries
            )
            tds.append(f'<td class="cell">{inner}</td>')
        rows.append(f"<tr><th>{_e(source)}</th>{''.join(tds)}</tr>")
    return (
        f'<table class="access"><tr><th>source \\ destination, request</th>{head}</tr>{"".join(rows)}</table>'
    )


def _metrics_figures(checks: Sequence[CheckResult]) -> str:
    figures = []
    for check in checks:
        latency = latency_rows(check)
        if latency:
            caption = f"{_e(check.name)}: reported percentiles; shaded: the range each may take"
            figures.append(f"<figure><figcaption>{caption}</figcaption>{latency_chart(latency)}</figure>")
            continue
        rows = count_rows(check)
        if rows:
            window = (check.statistics or {}).get("windowSeconds")
            window_s = float(window) if isinstance(window, (int, float)) else None
            caption = (
                f"{_e(check.name)}: outline = requests the test sent, solid = count the API reported"
                + (f" over a {window_s:g} s window" if window_s else "")
            )
            figures.append(
                f"<figure><figcaption>{caption}</figcaption>{count_chart(rows, window_s)}</figure>"
            )
    return "".join(figures)


# ---------------------------------------------------------------------------------------------- tests
def _check(check: CheckResult) -> str:
    state = "passed" if check.passed else "failed"
    lines = []
    if check.convergence is not None:
        c = check.convergence
        lines.append(
            f"converged in {c.seconds:.2f} s ({c.probes} probes)"
            if c.converged
            else f"did not converge: {c.probes} probes over {c.seconds:.2f} s"
        )
    if check.requests:
        lines.append(f"{check.requests:,} requests")
    evidence = evidence_text(check)
    details = (
        f"<details{'' if check.passed else ' open'}><summary>evidence</summary>"
        f"<pre>{_e(evidence)}</pre></details>"
        if evidence
        else ""
    )
    return (
        f'<li class="check {state}" data-kind="{_e(check.kind)}"><span class="mark">'
        f"{'&#10003;' if check.passed else '&#10007;'}</span> <strong>{_e(check.name)}</strong>"
        f'<div class="message">{_e(check.message)}</div>'
        + (f'<div class="meta">{_e("; ".join(lines))}</div>' if lines else "")
        + details
        + "</li>"
    )


def _test(test: TestResult, tolerance: float) -> str:
    meta = [f"profile {test.profile}", f"features: {', '.join(test.features) or 'none'}"]
    if test.versions:
        meta.append("sent as " + ", ".join(f"{g}/{v}" for g, v in test.versions.items()))
    if test.outcome in ("passed", "failed"):
        meta.append(f"{test.duration_seconds:.2f} s, {test.requests:,} requests")
    reason = ""
    if test.reason and test.outcome != "passed":
        prefix = {"not-supported": "not supported: ", "skipped": "skipped: "}.get(test.outcome, "")
        reason = f'<p class="reason">{_e(prefix + test.reason)}</p>'
    charts = (
        _split_figure(test.checks, tolerance)
        + _access_matrix([c for c in map(access_cell, test.checks) if c is not None])
        + _metrics_figures(test.checks)
    )
    checks = f'<ol class="checks">{"".join(_check(c) for c in test.checks)}</ol>' if test.checks else ""
    objects = (
        f"<details><summary>{len(test.objects)} objects applied</summary>"
        f"<pre>{_e(yaml.safe_dump_all(test.objects, sort_keys=False))}</pre></details>"
        if test.objects
        else ""
    )
    artifacts = (
        f"<details><summary>{len(test.artifacts)} files saved after the failure (under the artifacts "
        f"folder)</summary><pre>{_e(chr(10).join(test.artifacts))}</pre></details>"
        if test.artifacts
        else ""
    )
    return (
        f'<section class="test {_e(test.outcome)}" id="{_e(_anchor(test.id))}" data-test="{_e(test.id)}">'
        f"<h3>{_badge(test.outcome)} {_e(test.id)}</h3><p>{_e(test.description)}</p>"
        f'<p class="meta">{_e("; ".join(meta))}</p>{reason}{charts}{checks}{objects}{artifacts}</section>'
    )


def _by_group(tests: Iterable[TestResult]) -> dict[str, list[TestResult]]:
    groups: dict[str, list[TestResult]] = {}
    for test in tests:
        groups.setdefault(test.group, []).append(test)
    return groups


def render_html(report: ConformanceReport) -> str:
    """The whole page."""
    impl = report.implementation
    sections = "".join(
        f"<h2>{_e(group)}</h2>" + "".join(_test(t, report.settings.tolerance) for t in tests)
        for group, tests in _by_group(report.tests).items()
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>SMI conformance: {_e(impl.name)} {_e(impl.version)}</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"{_header(report)}{_summary(report.tests)}{sections}"
        "</body></html>\n"
    )
