"""Writing a ConformanceReport: YAML or JSON by file extension, the HTML page and JUnit XML."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from smi_conformance.report.html import render_html
from smi_conformance.report.junit import render_junit
from smi_conformance.report.model import ConformanceReport
from smi_conformance.suite.settings import SuiteSettings

__all__ = ["dump_json", "dump_yaml", "write_reports"]


def _plain(report: ConformanceReport) -> dict[str, object]:
    return report.model_dump(mode="json", by_alias=True, exclude_none=True)


def dump_json(report: ConformanceReport) -> str:
    return json.dumps(_plain(report), indent=2) + "\n"


def dump_yaml(report: ConformanceReport) -> str:
    return yaml.safe_dump(_plain(report), sort_keys=False, allow_unicode=True, width=120)


def write_reports(report: ConformanceReport, settings: SuiteSettings) -> list[Path]:
    """Every report the settings ask for (``reports``, ``html``, ``junit``); returns the paths written."""
    outputs: list[tuple[Path, str]] = [
        (path, dump_json(report) if path.suffix == ".json" else dump_yaml(report))
        for path in settings.reports
    ]
    if settings.html is not None:
        outputs.append((settings.html, render_html(report)))
    if settings.junit is not None:
        outputs.append((settings.junit, render_junit(report)))
    for path, text in outputs:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return [path for path, _ in outputs]
