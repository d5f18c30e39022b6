"""docs/conformance/tests.md is generated from the registry and must not drift."""

from __future__ import annotations

from pathlib import Path

from smi_conformance.suite.docs import render_tests_page

PAGE = Path(__file__).resolve().parents[2] / "docs" / "conformance" / "tests.md"


def test_tests_page_is_current() -> None:
    assert PAGE.read_text() == render_tests_page(), (
        "docs/conformance/tests.md is stale: python -m smi_conformance.suite.docs > docs/conformance/tests.md"
    )
