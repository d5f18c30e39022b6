"""The engine runs a rule only where it may find something: on the kinds and apiVersions it ``applies`` to,
and (deferred rules) when the linted set holds its ``evidence``. That choice saves work and must never lose a
finding: every rule case, the spec's examples and the bundled ones give the same findings with the choice
made and with every rule run on every object of its kinds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from smi_conformance.lint import LintConfig, lint
from smi_conformance.lint.registry import RULES
from smi_conformance.lint.resources import Resource
from smi_conformance.lint.rule import Rule

from .helpers import CLEAN
from .test_rule_cases import CASES_DIR

REPO = Path(__file__).resolve().parents[2]


def _everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every rule applies to every kind and version, and needs no evidence."""

    def applies(self: Rule, obj: Resource) -> bool:
        return True

    for rule in RULES.values():
        monkeypatch.setattr(type(rule), "applies", applies)
        monkeypatch.setattr(type(rule), "evidence", frozenset())


def _findings(paths: list[str]) -> list[tuple[Any, ...]]:
    result = lint(paths, LintConfig(root=REPO))
    return [(f.code, f.message, f.location, f.object) for f in result.findings]


def _inputs(tmp_path: Path) -> list[list[str]]:
    """One run per rule case (each its own file), then all of them at once, then the example folders."""
    runs = []
    for file in sorted(CASES_DIR.glob("*.yaml")):
        for i, case in enumerate(yaml.safe_load(file.read_text())["cases"]):
            manifest = tmp_path / f"{file.stem}-{i}.yaml"
            manifest.write_text(case["input"])
            runs.append([str(manifest)])
    runs.append([run[0] for run in runs])
    runs.append([str(REPO / "examples")])
    return runs


def test_choosing_rules_loses_no_finding(
    tmp_path: Path, smi_spec_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = [*_inputs(tmp_path), [str(smi_spec_dir / "examples")]]
    chosen = [_findings(paths) for paths in runs]
    _everywhere(monkeypatch)
    everywhere = [_findings(paths) for paths in runs]
    assert chosen == everywhere
    assert sum(map(len, chosen)) > len(runs), "the inputs have findings to lose"


def test_a_rule_without_its_evidence_is_left_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The choice is made: a deferred rule needing Services does not run on a split without any."""
    calls: list[str] = []
    rule = RULES["SMI209"]
    check = type(rule).check

    def counted(self: Rule, obj: Resource, ctx: Any) -> Any:
        calls.append(obj.kind)
        return check(self, obj, ctx)

    monkeypatch.setattr(type(rule), "check", counted)
    split = tmp_path / "split.yaml"
    split.write_text(CLEAN)
    lint([str(split)], LintConfig(root=tmp_path))
    assert calls == []
    split.write_text(CLEAN + "---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: other}\n")
    lint([str(split)], LintConfig(root=tmp_path))
    assert calls == ["TrafficSplit"]
