"""`smi convert --to gateway-api` as users run it: located findings, --fail-on and exit codes as in
`smi lint`, nothing written on failure, -o DIR, reports in every format, --explain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from smi_conformance.cli import main
from smi_conformance.gateway.findings import RULES

REPO = Path(__file__).resolve().parents[2]
BOOKSTORE = str(REPO / "examples" / "bookstore")
SPLIT = """\
apiVersion: split.smi-spec.io/v1alpha1
kind: TrafficSplit
metadata: {name: canary, namespace: shop}
spec:
  service: web
  backends:
  - {service: web-v1, weight: "1"}
  - {service: web-v2, weight: 500m}
"""
SERVICES = """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {ports: [{port: 80}, {port: 9090, name: tcp-admin}]}
---
apiVersion: v1
kind: Service
metadata: {name: web-v1, namespace: shop}
spec: {ports: [{port: 80}, {port: 9090}]}
---
apiVersion: v1
kind: Service
metadata: {name: web-v2, namespace: shop}
spec: {ports: [{port: 80}]}
"""


def smi(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, ["convert", "--to", "gateway-api", *args], input=input)


def test_quantities_scale_exactly_and_ports_come_from_the_services(tmp_path: Path) -> None:
    (tmp_path / "svc.yaml").write_text(SERVICES)
    result = smi("--services", str(tmp_path / "svc.yaml"), "-", input=SPLIT)
    assert result.exit_code == 0, result.output
    (route,) = list(yaml.safe_load_all(result.stdout))
    assert route["metadata"]["name"] == "canary-80"  # the root has two ports: one route per HTTP port
    assert route["spec"]["parentRefs"] == [{"group": "", "kind": "Service", "name": "web", "port": 80}]
    assert route["spec"]["rules"] == [
        {
            "backendRefs": [
                {"name": "web-v1", "port": 80, "weight": 2},
                {"name": "web-v2", "port": 80, "weight": 1},
            ]
        }
    ]
    assert result.stdout.startswith(
        "# From TrafficSplit shop/canary (split.smi-spec.io/v1alpha1), <stdin>:1\n"
    )
    assert "<stdin>:1:1: GW105 warning port 9090 of Service 'shop/web' is not HTTP" not in result.stderr
    assert "GW105 warning port 9090 of Service 'shop/web' is not HTTP (name 'tcp-admin')" in result.stderr


def test_a_missing_service_is_a_located_error_and_nothing_is_written(tmp_path: Path) -> None:
    path = tmp_path / "split.yaml"
    path.write_text(SPLIT)
    result = smi(str(path))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"{path}:5:12: GW101 error root Service shop/web is not in the input" in result.stderr
    assert f"{path}:7:15: GW101 error backend Service shop/web-v1" in result.stderr
    assert "nothing written" in result.stderr


def test_fail_on_decides_the_exit_code_and_whether_anything_is_written() -> None:
    clean = smi(BOOKSTORE)
    assert clean.exit_code == 0 and "GW002 warning" in clean.stderr and "kind: HTTPRoute" in clean.stdout
    strict = smi("--fail-on", "warning", BOOKSTORE)
    assert strict.exit_code == 1 and strict.stdout == ""


def test_output_dir_writes_one_file_per_input_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    out = tmp_path / "out"
    result = smi("--authz", "istio", "-o", str(out), "examples/bookstore")
    assert result.exit_code == 0, result.output
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.yaml"))
    assert written == ["examples/bookstore/access.yaml", "examples/bookstore/canary.yaml"]
    kinds = [d["kind"] for d in yaml.safe_load_all((out / "examples/bookstore/access.yaml").read_text())]
    assert set(kinds) == {"AuthorizationPolicy"}


def test_json_report_has_the_linters_shape(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = smi("--authz", "istio", "--format", "json", "--report", str(report), BOOKSTORE)
    assert result.exit_code == 0
    data = json.loads(report.read_text())
    codes = {f["code"] for f in data["findings"]}
    assert {"GW302", "GW305"} <= codes  # a regex path Istio cannot hold; default-allow
    assert all(f["file"].endswith(".yaml") and f["line"] > 0 for f in data["findings"])


def test_sarif_report_names_the_conversion_rules(tmp_path: Path) -> None:
    report = tmp_path / "report.sarif"
    assert smi("--format", "sarif", "--report", str(report), BOOKSTORE).exit_code == 0
    run = json.loads(report.read_text())["runs"][0]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert ids == sorted(RULES) and {r["ruleId"] for r in run["results"]} <= set(ids)


def test_usage_errors_exit_2() -> None:
    assert smi("--write", BOOKSTORE).exit_code == 2
    assert (
        CliRunner()
        .invoke(main, ["convert", "--to", "split.smi-spec.io/v1alpha4", "--authz", "istio", BOOKSTORE])
        .exit_code
        == 2
    )
    assert smi("does-not-exist.yaml").exit_code == 2
    assert smi("-", input="a: [").exit_code == 2


def test_explain_works_from_both_commands() -> None:
    for args in (["convert", "--explain", "GW201"], ["lint", "--explain", "regex-path-precedence"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0
        assert result.output.startswith("GW201 regex-path-precedence (warning)")
        assert RULES["GW201"].explanation() in result.output


def test_every_finding_is_documented() -> None:
    for code, rule in RULES.items():
        assert code.startswith("GW") and len(rule.explanation()) > 80, code
