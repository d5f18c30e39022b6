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


def _good_examples(text: str) -> list[str]:
    """The YAML blocks under "Good" in a rule's explanation."""
    return re.findall(r"^Good[^\n]*:\n```yaml\n(.*?)^```", text, flags=re.S | re.M)


#: Rules whose bad input is not YAML text (bytes in another encoding, binary data, a huge file): their
#: documentation shows no example, and every other rule's Good example is a manifest they pass.
NO_EXAMPLE = {"SMI003", "SMI004", "SMI005"}
#: Findings a Good example cannot avoid, each for a reason that is not its rule's subject:
ALSO_FIRES = {
    # the quantity format exists only in split v1alpha1, superseded and not served by smi-sdk-go's CRDs
    "SMI105": {"SMI601", "SMI701"},
    # the two official CRD sets want opposite header forms (a list of one-key maps, a map)
    "SMI701": {"SMI702"},
    "SMI702": {"SMI701"},
}


def test_good_examples_are_whole_manifests_the_linter_passes_in_silence(tmp_path: Path) -> None:
    """Docs examples run as tests, the clean case of every rule: its Good example is a complete manifest set
    (everything it references included) that draws no finding at all, of its own rule or any other (but
    ALSO_FIRES). A rule that fired on good input (SMI203 on weights 100/0, say) fails here."""
    from smi_conformance.lint import LintConfig, lint

    for code, rule in RULES.items():
        goods = _good_examples(rule.explanation())
        if code in NO_EXAMPLE:
            assert not goods, code
            continue
        assert goods, f"{code} has no Good example"
        for n, example in enumerate(goods):
            assert "apiVersion:" in example, f"{code}: its Good example is a fragment, not a manifest"
            path = tmp_path / f"{code}-{n}.yaml"
            path.write_text(example)
            findings = lint([str(path)], LintConfig(root=tmp_path)).findings
            fired = {f.code for f in findings}
            assert code not in fired and fired <= ALSO_FIRES.get(code, set()), (
                code,
                [f"{f.location}: {f.code} {f.message}" for f in findings],
            )
