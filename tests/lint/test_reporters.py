"""Report formats: SARIF as GitHub code scanning takes it, workflow annotations, JUnit, JSON."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from smi_conformance.lint.reporters.github import _data, _property
from tests.conftest import missing_input

from .helpers import CLEAN, ERROR, WARNING_ONLY, smi, write


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _sarif(*paths: str) -> dict[str, Any]:
    result = smi("lint", "--format", "sarif", *paths)
    assert result.exit_code in (0, 1)
    report: dict[str, Any] = json.loads(result.stdout)  # nothing but the report on stdout
    return report


def _check_github_requirements(report: dict[str, Any]) -> None:
    """What GitHub code scanning requires of an uploaded SARIF file ("SARIF support for code scanning")."""
    assert report["version"] == "2.1.0"
    assert report["$schema"].endswith("sarif-2.1.0.json")
    (run,) = report["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"]
    rule_ids = [r["id"] for r in driver["rules"]]
    assert len(rule_ids) == len(set(rule_ids))
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["help"]["text"] and rule["help"]["markdown"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    assert isinstance(run["results"], list)
    for res in run["results"]:
        assert driver["rules"][res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["message"]["text"]
        assert res["level"] in ("error", "warning", "note")
        assert 1 <= len(res["locations"]) <= 10
        physical = res["locations"][0]["physicalLocation"]
        uri = physical["artifactLocation"]["uri"]
        assert not uri.startswith("/") and " " not in uri
        region = physical["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
        if "endLine" in region:
            assert (region["endLine"], region["endColumn"]) > (region["startLine"], region["startColumn"])


def test_sarif_has_real_regions_and_rule_help(tmp_path: Path) -> None:
    write(tmp_path, "deploy/my split.yaml", ERROR)
    report = _sarif("deploy")
    _check_github_requirements(report)
    (res,) = report["runs"][0]["results"]
    assert res["ruleId"] == "SMI201" and res["level"] == "error"
    location = res["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "deploy/my%20split.yaml", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 7, "startColumn": 31, "endLine": 7, "endColumn": 33}
    assert report["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.as_uri() + "/"


def test_sarif_of_a_clean_run_still_has_results(tmp_path: Path) -> None:
    write(tmp_path, "clean.yaml", CLEAN)
    report = _sarif("clean.yaml")
    _check_github_requirements(report)
    assert report["runs"][0]["results"] == []


def test_sarif_validates_against_the_official_schema(tmp_path: Path) -> None:
    """SARIF_SCHEMA names the official SARIF 2.1.0 schema; ``make test`` fetches it with npm
    (ci/sarif-schema.sh). It is not vendored."""
    schema_path = os.environ.get("SARIF_SCHEMA")
    if not schema_path or not Path(schema_path).is_file():
        missing_input(
            "SARIF_SCHEMA not set (make test fetches it with npm: ci/sarif-schema.sh): the structural test "
            "above covers what GitHub requires"
        )
    import jsonschema

    schema = json.loads(Path(schema_path).read_text())
    write(tmp_path, "a.yaml", ERROR)
    write(
        tmp_path,
        "b.yaml",
        WARNING_ONLY.replace("name: web,", "name: b,").replace("service: web\n", "service: b\n"),
    )
    write(tmp_path, "c.yaml", b"binary\x00")
    for report in (_sarif("."), _sarif(str(tmp_path / "a.yaml"))):
        jsonschema.Draft4Validator(schema).validate(report)


def test_github_annotations(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", ERROR)
    write(
        tmp_path,
        "b.yaml",
        WARNING_ONLY.replace("name: web,", "name: b,").replace("service: web\n", "service: b\n"),
    )
    result = smi("lint", "--format", "github", ".")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    pattern = (
        r"::(error|warning|notice) file=[^,]+,line=\d+,col=\d+,endLine=\d+,endColumn=\d+,"
        r"title=SMI\d{3} [a-z-]+::.+"
    )
    assert all(re.fullmatch(pattern, line) for line in lines[:-1]), lines
    assert lines[0].startswith("::error file=a.yaml,line=7,col=31,")
    assert lines[1].startswith("::warning file=b.yaml,line=6,col=3,")
    assert lines[-1].startswith("Found 1 error, 1 warning")


def test_github_escaping() -> None:
    assert _data("100% done\nnext\r") == "100%25 done%0Anext%0D"
    assert _property("a,b:c\nd") == "a%2Cb%3Ac%0Ad"


def test_junit_one_case_per_file_failing_at_the_threshold(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", ERROR)
    write(
        tmp_path,
        "b.yaml",
        WARNING_ONLY.replace("name: web,", "name: b,").replace("service: web\n", "service: b\n"),
    )
    result = smi("lint", "--format", "junit", ".")
    suite = ET.fromstring(result.stdout).find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"a.yaml", "b.yaml"}
    assert cases["a.yaml"].find("failure") is not None
    assert cases["b.yaml"].find("failure") is None and "SMI203" in (
        cases["b.yaml"].findtext("system-out") or ""
    )
    assert suite.get("failures") == "1"
    strict = ET.fromstring(smi("lint", "--format", "junit", "--fail-on", "warning", ".").stdout).find(
        "testsuite"
    )
    assert strict is not None and strict.get("failures") == "2"


def test_json_report(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", ERROR)
    report = json.loads(smi("lint", "--format", "json", "a.yaml").stdout)
    assert report["version"] == 1
    assert report["findings"] == [
        {
            "code": "SMI201",
            "name": "negative-weight",
            "severity": "error",
            "message": "backend weight -1 is negative",
            "file": "a.yaml",
            "line": 7,
            "column": 31,
            "endLine": 7,
            "endColumn": 33,
            "object": "TrafficSplit shop/web",
        }
    ]
    assert report["summary"]["failed"] is True and report["summary"]["smiObjects"] == 1
