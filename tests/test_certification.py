"""The published certifications agree with each other: Traefik Mesh's pinned outcomes (what CI compares a run
with) are those of its published report, in all three formats; every test it fails is explained, with a
classification, in its README; and the README's table is the one the published runs give."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from smi_conformance.suite.registry import load_suite
from tests.certification_table import REFERENCE, current, render
from tests.conftest import REPO_ROOT

HERE = REPO_ROOT / "docs" / "certification" / "traefik-mesh"
CLASSES = ("mesh bug", "documented limitation", "spec disagreement")


@pytest.fixture(scope="module")
def published() -> dict[str, object]:
    data: dict[str, object] = json.loads((HERE / "report.json").read_text())
    return data


def pinned() -> dict[str, str]:
    tests: dict[str, str] = yaml.safe_load((HERE / "expected.yaml").read_text())["tests"]
    return tests


def test_every_test_is_pinned_once_with_a_verdict() -> None:
    tests = pinned()
    assert set(tests) == set(load_suite())
    assert set(tests.values()) <= {"passed", "failed", "not-supported"}


def test_the_published_report_is_the_pinned_one_in_every_format(published: dict[str, object]) -> None:
    report = published
    assert {t["id"]: t["outcome"] for t in report["tests"]} == pinned()  # type: ignore[attr-defined]
    assert yaml.safe_load((HERE / "report.yaml").read_text()) == report
    html = (HERE / "report.html").read_text()
    assert "Traefik Mesh" in html and all(t in html for t in pinned())
    assert report["implementation"]["name"] == "Traefik Mesh"  # type: ignore[index]
    assert report["cluster"]["kind"] == "kind"  # type: ignore[index]


def test_every_failure_is_explained_and_classified() -> None:
    text = (HERE / "README.md").read_text()
    for test_id in (t for t, outcome in pinned().items() if outcome == "failed"):
        row = re.search(rf"^\| `{re.escape(test_id)}` \|.*\| ([^|]+) \|$", text, re.M)
        assert row, f"{test_id}: no row in the failures table"
        assert row.group(1).strip().startswith(CLASSES), row.group(0)
        assert f"**`{test_id}`: " in text, f"{test_id}: no explanation"
    n = {o: list(pinned().values()).count(o) for o in ("passed", "failed", "not-supported")}
    said = f"**Result: {n['passed']} passed, {n['failed']} failed, {n['not-supported']} not supported**"
    assert said in text


def test_the_readme_table_is_the_published_runs() -> None:
    assert current() == render(), "run: python -m tests.certification_table"
    reference = yaml.safe_load(REFERENCE.read_text())
    assert set(reference["tests"]) == set(load_suite())
    assert reference["reproduce"].startswith("smi-conformance run")
