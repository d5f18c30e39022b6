"""The rule cases in ``rule_cases/*.yaml``, run by one generic test (sqlfluff style).

Each file lists ``codes`` (the rules it is about) and ``cases``: an ``input`` manifest set and the findings
``expect``ed as ``CODE@line`` or ``CODE@line:column``, optionally followed by a space and the exact message
the user reads (then every finding of that code on that line must say it; ``{file}`` stands for the linted
file's path). Findings of codes outside the
case's ``codes`` are ignored, so a case states exactly what it is about.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from smi_conformance.lint import LintConfig, lint, lint_documents
from smi_conformance.lint.registry import RULES
from smi_conformance.manifests import load_text

CASES_DIR = Path(__file__).parent / "rule_cases"


def _cases() -> list[Any]:
    params = []
    for file in sorted(CASES_DIR.glob("*.yaml")):
        data = yaml.safe_load(file.read_text())
        for case in data["cases"]:
            codes = case.get("codes", data["codes"])
            params.append(pytest.param(case, codes, id=f"{file.stem}: {case['name']}"))
    return params


def _parse(expected: str) -> tuple[str, int, int | None, str | None]:
    at, _, message = expected.partition(" ")
    code, _, where = at.partition("@")
    line, _, column = where.partition(":")
    return code, int(line), int(column) if column else None, message or None


@pytest.mark.parametrize(("case", "codes"), _cases())
def test_rule_case(case: dict[str, Any], codes: list[str], tmp_path: Path) -> None:
    manifest = tmp_path / "case.yaml"
    manifest.write_text(case["input"])
    result = lint([str(manifest)], LintConfig(root=tmp_path))
    expected = [_parse(e.replace("{file}", str(manifest))) for e in case["expect"]]
    with_column = {(code, line) for code, line, column, _ in expected if column is not None}
    with_message = {(code, line) for code, line, _, message in expected if message is not None}
    actual = sorted(
        (
            f.code,
            f.location.line,
            f.location.column if (f.code, f.location.line) in with_column else None,
            f.message if (f.code, f.location.line) in with_message else None,
        )
        for f in result.findings
        if f.code in codes
    )
    assert actual == sorted(expected), "\n".join(
        f"{f.location}: {f.code} {f.message}" for f in result.findings
    )
    # the same verdict on objects kept whole (lint_documents: what a control plane runs on what it receives)
    # as on objects streamed and let go once checked (lint)
    loaded = load_text(case["input"], str(manifest))
    whole = lint_documents(loaded.documents, loaded.issues)
    assert sorted((f.code, str(f.location), f.message) for f in whole.findings if f.code in codes) == sorted(
        (f.code, str(f.location), f.message) for f in result.findings if f.code in codes
    )


def test_every_checking_rule_has_a_triggering_case() -> None:
    """A rule without a case that makes it fire is untested."""
    fired = set()
    for file in CASES_DIR.glob("*.yaml"):
        for case in yaml.safe_load(file.read_text())["cases"]:
            fired.update(_parse(e)[0] for e in case["expect"])
    checking = {code for code, rule in RULES.items() if rule.kinds}
    assert checking - fired == set()
