"""The HTML report as a document: self-contained, escaped, and showing the evidence of every check.

What a browser shows is tested in test_browser.py; here the page is parsed with lxml's HTML parser.
"""

from __future__ import annotations

import re

import pytest
from lxml import html

from smi_conformance.report.html import CSP, render_html
from smi_conformance.report.model import ConformanceReport

from .reports import BROKEN, REFERENCE, SCRIPT, hostile_report, load, result_of


def _page(report: ConformanceReport) -> html.HtmlElement:
    return html.document_fromstring(render_html(report))


def _section(page: html.HtmlElement, test_id: str) -> html.HtmlElement:
    (section,) = page.xpath(f'//section[@data-test="{test_id}"]')
    return section


@pytest.mark.parametrize("make", [lambda: load(REFERENCE), hostile_report], ids=["reference", "hostile"])
def test_nothing_is_fetched_and_nothing_runs(make) -> None:  # type: ignore[no-untyped-def]
    text = render_html(make())
    page = html.document_fromstring(text)
    assert page.xpath("//script | //link | //img | //iframe | //object | //embed | //use") == []
    assert page.xpath("//@src | //@srcset | //@action | //@formaction | //@poster | //@background") == []
    assert [k for el in page.iter() for k in el.attrib if k.endswith("href") and k != "href"] == []
    hrefs = page.xpath("//@href")
    assert all(h.startswith(("#", "https://", "http://")) for h in hrefs)
    assert [a.get("href") for a in page.xpath("//a[not(starts-with(@href, '#'))]")] == (
        [] if "javascript" in make().implementation.url else [make().implementation.url]
    )
    assert not re.search(r"url\(|@import|on[a-z]+=", " ".join(page.xpath("//style/text()") + hrefs))
    assert not any(k.startswith("on") for el in page.iter() for k in el.attrib)
    (csp,) = page.xpath('//meta[@http-equiv="Content-Security-Policy"]/@content')
    assert csp == CSP and "default-src 'none'" in csp


def test_the_mesh_answers_are_text_never_markup() -> None:
    report = hostile_report()
    text = render_html(report)
    assert "<script" not in text and "<b>" not in text
    page = html.document_fromstring(text)
    assert (
        page.findtext(".//h1")
        == f"SMI conformance: {report.implementation.name} {report.implementation.version}"
    )
    section = _section(page, "access-http-methods")
    messages = [
        m.text_content() for m in section.xpath('.//li[contains(@class, "check")]/div[@class="message"]')
    ]
    assert f"ok {SCRIPT}" in messages
    assert any(SCRIPT in pre.text_content() for pre in section.xpath(".//pre"))  # the reply body, as text
    assert "javascript:" not in "".join(page.xpath("//@href"))


def test_header_facts_and_verdicts() -> None:
    report = load(BROKEN)
    page = _page(report)
    facts = {
        row.findtext("th"): row.find("td").text_content() for row in page.xpath('//table[@class="facts"]//tr')
    }
    assert report.implementation.name in facts["Implementation"]
    assert facts["Seed"].startswith(str(report.settings.seed))
    assert report.reproduce in facts["Reproduce"]
    assert "faults=" in facts["Adapter"] and report.cluster["kind"] in facts["Cluster"]
    assert facts["Date"].startswith(report.date.strftime("%Y-%m-%dT%H:%M:%S"))
    verdicts = {b.get("data-profile"): b.text_content() for b in page.xpath('//p[@class="verdicts"]/span')}
    assert verdicts == {p.name: f"{p.name}: {p.result}" for p in report.profiles}


def test_summary_table_lists_every_test() -> None:
    report = load(BROKEN)
    rows = _page(report).xpath('//table[@class="summary"]//tr[@data-test]')
    assert [r.get("data-test") for r in rows] == [t.id for t in report.tests]
    for row, test in zip(rows, report.tests, strict=True):
        cells = [td.text_content() for td in row.findall("td")]
        assert cells[3] == test.outcome
        assert cells[4] == f"{test.duration_seconds:.2f} s" and cells[5] == f"{test.requests:,}"
        assert cells[6] == f"{sum(c.passed for c in test.checks)}/{len(test.checks)}"
        assert test.outcome == "passed" or cells[7][:60] == test.reason[:60]
        assert row.find("td/a").get("href") == f"#test-{test.id}"


def test_every_check_shows_its_message_and_a_failed_one_its_evidence_open() -> None:
    report = load(BROKEN)
    page = _page(report)
    for test in report.tests:
        items = _section(page, test.id).xpath('.//ol[@class="checks"]/li')
        assert len(items) == len(test.checks)
        for item, check in zip(items, test.checks, strict=True):
            assert item.find('div[@class="message"]').text_content() == check.message
            assert ("failed" in item.get("class")) is (not check.passed)
            details = item.find("details")
            assert details is None or ("open" in details.attrib) is (not check.passed)
    reason = _section(page, "access-udp-route").find('p[@class="reason"]')
    assert reason.text_content() == "not supported: the mesh does not claim UDPRoute"


def test_the_canary_chart_has_a_group_per_step_and_a_bar_per_backend() -> None:
    report = load(REFERENCE)
    canary = result_of(report, "split-canary-sequence")
    (svg,) = _section(_page(report), canary.id).xpath(".//svg[contains(@class, 'split')]")
    groups = svg.xpath("./g[@class='group']")
    assert [g.get("data-label") for g in groups] == [c.name for c in canary.checks]
    for group, check in zip(groups, canary.checks, strict=True):
        observed = group.xpath(".//rect[contains(@class, 'observed')]")
        expected = group.xpath(".//rect[contains(@class, 'expected')]")
        assert len(observed) == len(expected) == len(check.expected["weights"]) == 2
        n = sum(check.observed["counts"].values())
        for bar in observed:
            count = check.observed["counts"].get(bar.get("data-backend"), 0)
            assert bar.get("data-count") == str(count)
            assert float(bar.get("data-share")) == pytest.approx(count / n, abs=1e-4)
        assert len(group.xpath(".//rect[@class='band']")) == 2
        assert len(group.xpath(".//path[@class='interval']")) == 2
    assert svg.xpath(".//rect[contains(@class, 'off')]") == []


def test_off_bars_are_marked_in_a_failed_weight_check() -> None:
    page = _page(load(BROKEN))
    svg = _section(page, "split-two-backends").xpath(".//svg[contains(@class, 'split')]")[0]
    off = svg.xpath(".//rect[contains(@class, 'observed') and contains(@class, 'off')]")
    assert {r.get("data-backend") for r in off} == {"web-v1", "web-v2"}


def test_access_matrix_metrics_and_latency_charts() -> None:
    report = load(BROKEN)
    page = _page(report)
    matrix = _section(page, "access-http-methods").xpath(".//table[@class='access']")[0]
    assert len(matrix.xpath(".//td//div[@class='fail']")) == 1
    assert "POST" in matrix.text_content()
    counts = _section(page, "metrics-counts-in-window").xpath(".//svg[contains(@class, 'counts')]")
    assert len(counts) == 1  # the second count check never ran: the first failed
    assert counts[0].xpath(".//rect[contains(@class, 'off')]")
    latency = _section(page, "metrics-latency-percentiles").xpath(".//svg[contains(@class, 'latency')]")
    assert len(latency) == 1 and len(latency[0].xpath(".//rect[@class='band']")) == 3
