"""Small manifests and a CLI runner shared by the linter tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from smi_conformance.cli import main
from smi_conformance.lint import LintConfig, lint
from smi_conformance.lint.reporters import Options, blocks

CLEAN = """\
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: web, namespace: shop}
spec:
  service: web
  backends:
  - {service: web-v1, weight: 90}
  - {service: web-v2, weight: 10}
"""
WARNING_ONLY = CLEAN.replace("weight: 90", "weight: 0").replace("weight: 10", "weight: 0")
ERROR = CLEAN.replace("weight: 90", "weight: -1")
#: The same mistake in an unrelated split (another name and root service), so cross-object rules stay quiet.
OTHER_ERROR = ERROR.replace("name: web,", "name: api,").replace("service: web\n", "service: api\n")


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def smi(*args: str, input: str | bytes | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


def findings(*args: str, input: str | bytes | None = None) -> tuple[int, list[dict[str, Any]]]:
    """Exit code and findings of ``smi lint --format json ARGS``."""
    result = smi("lint", "--format", "json", *args, input=input)
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)["findings"]


RULE_CASES = Path(__file__).parent / "rule_cases"
REPO = Path(__file__).parents[2]


def rule_case_inputs() -> list[str]:
    """The input of every rule case (``rule_cases/*.yaml``), in file order."""
    inputs: list[str] = []
    for file in sorted(RULE_CASES.glob("*.yaml")):
        inputs += [case["input"] for case in yaml.safe_load(file.read_text())["cases"]]
    return inputs


def real_manifests(smi_spec_dir: Path) -> list[str]:
    """Real manifests as texts: the spec's examples, the bundled ones and every rule case's input."""
    texts = [p.read_text() for p in sorted((smi_spec_dir / "examples").glob("*.yaml"))]
    texts += [p.read_text() for p in sorted((REPO / "examples").rglob("*.yaml"))]
    return texts + rule_case_inputs()


#: A split whose weight has more digits than Python converts from text: marshal cannot keep its data, so
#: the linter reads it again from the file where it would read kept data back.
HUGE_WEIGHT = (
    "apiVersion: split.smi-spec.io/v1alpha4\nkind: TrafficSplit\nmetadata: {name: big, namespace: shop}\n"
    "spec:\n  service: web\n  backends:\n  - service: web-v1\n    weight: " + "9" * 5000 + "\n"
)


def corpus_inputs(folder: Path, smi_spec_dir: Path, *, copies: int = 1) -> list[list[str]]:
    """``lint`` inputs that exercise every rule: the rule cases each in a file of its own; all of them in one
    file with HUGE_WEIGHT, ``copies`` times over (copies make every object a duplicate); the spec's examples;
    the bundled ones."""
    cases = folder / "cases"
    cases.mkdir()
    for i, text in enumerate(rule_case_inputs()):
        (cases / f"case-{i:03d}.yaml").write_text(text)
    (folder / "all-cases.yaml").write_text("---\n".join([*rule_case_inputs(), HUGE_WEIGHT] * copies))
    return [
        [str(cases)],
        [str(folder / "all-cases.yaml")],
        [str(smi_spec_dir / "examples")],
        [str(REPO / "examples")],
    ]


def peak_memory(path: Path, fmt: str | None = None) -> int:
    """Peak traced memory (bytes) of linting ``path`` and, given a format, writing the report (as ``smi lint
    -o`` writes it) to the null device."""
    tracemalloc.start()
    try:
        result = lint([str(path)], LintConfig(root=path.parent))
        if fmt is not None:
            with open(os.devnull, "w", encoding="utf-8") as out:
                for block in blocks(fmt, result, Options()):
                    out.write(block)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def json_report_in_a_process(target: Path, **env: str) -> dict[str, Any]:
    """``smi lint --format json TARGET`` in a fresh process with these environment variables (switches read
    once at import: SMI_YAML_NATIVE, SMI_QUICK_ACCEPT); its findings must fail the run."""
    run = subprocess.run(
        [sys.executable, "-m", "smi_conformance", "lint", "--format", "json", str(target)],
        capture_output=True, text=True, env={**os.environ, **env}, check=False,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    report: dict[str, Any] = json.loads(run.stdout)
    return report


def only_json_types(node: Any) -> bool:
    """Every value a str (keys too), bool, None or 64-bit int, exactly: the oracle for what the compiled
    reader's flag and ``quick_accept.json_typed`` must say."""
    if type(node) is dict:
        return all(type(k) is str and only_json_types(v) for k, v in node.items())
    if type(node) is list:
        return all(only_json_types(v) for v in node)
    if type(node) is int:
        return -(2**63) <= node < 2**63
    return node is None or type(node) in (str, bool)
