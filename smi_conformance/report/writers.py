"""Writing a ConformanceReport: YAML or JSON by file extension, and the HTML page."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

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
    """Every report the settings ask for; returns the paths written."""
    written = []
    for path in settings.reports:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump_json(report) if path.suffix == ".json" else dump_yaml(report))
        written.append(path)
    return written
