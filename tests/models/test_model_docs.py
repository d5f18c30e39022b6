"""The examples in docs/models.md and in the package docstrings run, and print what the page says."""

from __future__ import annotations

import doctest
from pathlib import Path

import smi_conformance.models

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_docs_models_md_examples_run() -> None:
    result = doctest.testfile(
        str(DOCS / "models.md"),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        raise_on_error=False,
        verbose=False,
    )
    assert result.attempted >= 20
    assert result.failed == 0


def test_package_docstring_examples_run() -> None:
    result = doctest.testmod(smi_conformance.models, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 2 and result.failed == 0
