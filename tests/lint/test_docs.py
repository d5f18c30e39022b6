"""The rules page is generated from the registry; the checked-in copy must not drift."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from smi_conformance.cli import main
from smi_conformance.lint.docs import rules_markdown
from smi_conformance.lint.registry import RULES

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_rules_page_matches_the_registry() -> None:
    page = (REPO_ROOT / "docs" / "rules.md").read_text()
    assert page == rules_markdown(), (
        "docs/rules.md is stale: python -m smi_conformance.lint.docs > docs/rules.md"
    )


def test_every_rule_is_documented_with_a_reason_and_an_example() -> None:
    for code, rule in RULES.items():
        assert re.fullmatch(r"SMI\d{3}", code)
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name), code
        text = rule.explanation()
        assert rule.__doc__ and len(text) > 80, f"{code} needs an explanation"
        if rule.kinds:  # rules that look at objects show what they catch
            assert "Bad" in text and "```yaml" in text, f"{code} needs a bad example"


def test_explain_prints_the_rule_docs() -> None:
    result = CliRunner().invoke(main, ["lint", "--explain", "all-weights-zero"])
    assert result.exit_code == 0
    assert result.output.startswith("SMI203 all-weights-zero (warning)")
    assert RULES["SMI203"].explanation() in result.output
    unknown = CliRunner().invoke(main, ["lint", "--explain", "SMI999"])
    assert unknown.exit_code == 2
    assert "unknown rule" in unknown.output


def _bad_examples(text: str) -> list[str]:
    """The YAML blocks under "Bad" in a rule's explanation."""
    return re.findall(r"^Bad[^\n]*:\n```yaml\n(.*?)^```", text, flags=re.S | re.M)


def test_bad_examples_that_are_whole_objects_trigger_their_rule(tmp_path: Path) -> None:
    """Docs examples run as tests: a "Bad" example complete enough to lint (it names apiVersion) must make
    its own rule fire."""
    from smi_conformance.lint import LintConfig, lint

    ran = []
    for code, rule in RULES.items():
        for example in _bad_examples(rule.explanation()):
            if "apiVersion:" not in example:
                continue  # a fragment, shown for its shape
            path = tmp_path / f"{code}.yaml"
            path.write_text(example)
            codes = {f.code for f in lint([str(path)], LintConfig(root=tmp_path)).findings}
            assert code in codes, (code, codes)
            ran.append(code)
    assert len(ran) >= 8, ran
