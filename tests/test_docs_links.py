"""The README and docs/ link to files and headings that exist, and every benchmark's figures have a home.

Content moves between the README and docs/ (issue 14: benchmark history to docs/performance.md, the offline
kind build to docs/kind-offline.md); a moved section must not leave a dead link or a benchmark whose figures
no page names.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PAGES = sorted([REPO_ROOT / "README.md", *(REPO_ROOT / "docs").rglob("*.md")])
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation other than - and _ dropped, spaces to -."""
    text = FENCE.sub("", page.read_text())
    headings = re.findall(r"^#{1,6} +(.+?) *#*$", text, re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def links(page: Path) -> list[str]:
    return [t for t in LINK.findall(FENCE.sub("", page.read_text())) if not re.match(r"[a-z]+:", t)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading #{anchor}")
    assert not broken, broken


def test_every_benchmark_is_listed_with_where_its_figures_are() -> None:
    performance = (REPO_ROOT / "docs" / "performance.md").read_text()
    missing = [b.name for b in sorted((REPO_ROOT / "benchmarks").glob("*.py")) if b.name not in performance]
    assert not missing, f"benchmarks not listed in docs/performance.md: {missing}"


def test_the_readme_quotes_no_benchmark_figures_itself() -> None:
    """Figures live beside the command that measures them; the README links there."""
    readme = (REPO_ROOT / "README.md").read_text()
    assert "benchmarks/" not in readme
    assert not re.search(r"\b(this|the shared) 2-core machine\b", readme)
