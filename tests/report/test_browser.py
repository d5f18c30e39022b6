"""The HTML report in a real browser (Debian's headless Chromium): what a person sees, and that the page
asks the network for nothing.

CHROMIUM names the browser (``make test`` installs Debian's package with ci/chromium.sh); without it these
tests skip, saying so. Every start gets a fresh profile and the flags this machine's closed network needs;
``--host-resolver-rules`` makes every name lookup fail, and Chromium's own NetLog records every request the
page starts (the browser's own background requests are told apart by their initiator).
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import html

from smi_conformance.report.html import CSP, render_html
from smi_conformance.report.model import ConformanceReport
from tests.conftest import missing_input

from .reports import BROKEN, SCRIPT, hostile_report, load, result_of

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",
]
#: NetLog's initiator of requests the browser makes for itself (updates, accounts), not for a page.
BROWSER_OWN = "not an origin"


@pytest.fixture(scope="module")
def chromium() -> str:
    path = os.environ.get("CHROMIUM")
    if not path or not os.access(path, os.X_OK):
        missing_input(
            "CHROMIUM not set (make test installs Debian's chromium with ci/chromium.sh, as root); the HTML "
            "report's structure is still tested in test_html.py"
        )
    return path


class Browser:
    def __init__(self, binary: str, workdir: Path):
        self.binary, self.workdir, self.starts = binary, workdir, 0

    def run(self, page: Path, *args: str) -> tuple[str, list[str]]:
        """Open ``page`` (a file) with ``args``; what Chromium printed, and the URLs the page requested."""
        self.starts += 1
        profile, netlog = self.workdir / f"profile-{self.starts}", self.workdir / f"net-{self.starts}.json"
        proc = subprocess.run(
            [
                self.binary,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--log-net-log={netlog}",
                *args,
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout, page_requests(json.loads(netlog.read_text()), page.as_uri())


def page_requests(netlog: dict[str, Any], page_url: str) -> list[str]:
    """URLs of every request a page started (URL_REQUEST_START_JOB with the page as initiator)."""
    start = netlog["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in netlog["events"]:
        params = event.get("params") or {}
        url = params.get("url")
        if event["type"] == start and url and params.get("initiator") != BROWSER_OWN and url != page_url:
            urls.append(url)
    return urls


@pytest.fixture()
def browser(chromium: str, tmp_path: Path) -> Iterator[Browser]:
    yield Browser(chromium, tmp_path)


def _write(tmp_path: Path, report: ConformanceReport) -> Path:
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    return page


def _visible(element: html.HtmlElement) -> bool:
    """Not inside a closed <details> (other than its summary): what a reader sees without clicking."""
    for ancestor in element.iterancestors():
        if ancestor.tag == "details" and "open" not in ancestor.attrib:
            return False
    return True


def test_what_a_person_sees(browser: Browser, tmp_path: Path) -> None:
    report = hostile_report()
    page = _write(tmp_path, report)
    dom_text, requests = browser.run(page, "--dump-dom")
    assert requests == []
    dom = html.document_fromstring(dom_text)
    # nothing the mesh said ran: the title is ours, no script element exists
    assert (
        dom.findtext(".//title")
        == f"SMI conformance: {report.implementation.name} {report.implementation.version}"
    )
    assert dom.xpath("//script") == []
    assert (
        dom.findtext(".//h1")
        == f"SMI conformance: {report.implementation.name} {report.implementation.version}"
    )
    # a failed test's message, readable without clicking
    canary = result_of(report, "split-canary-sequence")
    failed = canary.checks[-1]
    shown = [
        m
        for m in dom.xpath('//section[@data-test="split-canary-sequence"]//div[@class="message"]')
        if m.text_content() == failed.message
    ]
    assert shown and all(_visible(m) for m in shown)
    access = dom.xpath('//section[@data-test="access-http-methods"]')[0]
    assert SCRIPT in access.text_content()
    # the numbers of the failed split: one bar per backend and step, labelled with the observed share
    (svg,) = dom.xpath('//section[@data-test="split-canary-sequence"]//svg[contains(@class, "split")]')
    bars = svg.xpath('.//*[local-name()="rect" and contains(@class, "observed")]')
    assert len(bars) == sum(len(c.expected["weights"]) for c in canary.checks)
    labels = [t.text_content() for t in svg.xpath('.//*[local-name()="text" and @class="value"]')]
    counts, n = failed.observed["counts"], sum(failed.observed["counts"].values())
    for backend, count in counts.items():
        assert f"{count / n * 100:.1f}%" in labels, (backend, labels)
    # the browser kept every chart the page has
    source = html.document_fromstring(page.read_text())
    assert len(dom.xpath('//*[local-name()="svg"]')) == len(source.xpath("//svg")) > 10


def test_a_screenshot_of_the_whole_report(browser: Browser, tmp_path: Path) -> None:
    page = _write(tmp_path, load(BROKEN))
    png = tmp_path / "report.png"
    _, requests = browser.run(page, f"--screenshot={png}", "--window-size=1280,2400")
    assert requests == []
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2400)
    # a page of text, tables and charts; a blank or error page of this size compresses to a few kB
    assert len(data) > 100_000
    if os.environ.get("SMI_REPORT_SCREENSHOT"):  # keep it to look at
        Path(os.environ["SMI_REPORT_SCREENSHOT"]).write_bytes(data)


def test_the_request_check_sees_a_page_that_calls_out(browser: Browser, tmp_path: Path) -> None:
    """The NetLog check above is not vacuous: a page with an image on loopback is caught, and the report's
    Content-Security-Policy blocks the same image before any request."""
    probe = "http://127.0.0.1:9/probe.png"
    open_page = tmp_path / "open.html"
    open_page.write_text(f'<!DOCTYPE html><html><body><img src="{probe}"></body></html>')
    assert browser.run(open_page, "--dump-dom")[1] == [probe]
    locked = tmp_path / "locked.html"
    locked.write_text(
        f'<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="{CSP}"></head>'
        f'<body><img src="{probe}"></body></html>'
    )
    assert browser.run(locked, "--dump-dom")[1] == []
