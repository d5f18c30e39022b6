"""Every report is written as it goes (``reporters.frame``): byte for byte the document built whole (by
``json`` or ElementTree, as the reporters did before), on real inputs with the findings in memory or read
from disk, and on hostile text; and memory does not follow the number of findings in any format."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from smi_conformance import __version__
from smi_conformance.lint import LintConfig, lint
from smi_conformance.lint import engine as lint_engine
from smi_conformance.lint.engine import Finding, LintResult
from smi_conformance.lint.registry import RULES
from smi_conformance.lint.reporters import BLOCK, Options, blocks, json_report, junit, render, sarif, summary
from smi_conformance.lint.reporters.frame import MARK
from smi_conformance.lint.rule import Severity
from smi_conformance.manifests import Location
from tests.conftest import missing_input

from .helpers import ERROR, corpus_inputs, peak_memory

FORMATS = ["text", "json", "sarif", "github", "junit"]


# The documents built whole: what the reporters wrote before they wrote as they go.


def whole_json(result: LintResult, options: Options) -> dict[str, Any]:
    return {
        "version": 1,
        "findings": [json_report._finding(f) for f in result.findings],
        "summary": json_report._summary(result, options),
    }


def whole_sarif(result: LintResult) -> dict[str, Any]:
    known = {r.code: r for r in result.rules}
    rules = sorted((known | {f.code: RULES[f.code] for f in result.findings if f.code not in known}).items())
    index = {code: i for i, (code, _) in enumerate(rules)}
    run = {
        "tool": {
            "driver": {
                "name": "smi-lint",
                "fullName": "smi lint (smi-conformance)",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": "https://smi-spec.io",
                "rules": [sarif._rule(rule) for _, rule in rules],
            }
        },
        "columnKind": "unicodeCodePoints",
        "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().absolute().as_uri() + "/"}},
        "results": [sarif._result(f, index[f.code]) for f in result.findings],
    }
    return {"$schema": sarif.SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def whole_junit(result: LintResult, options: Options) -> str:
    by_file: dict[str, list[Finding]] = defaultdict(list)
    for f in result.findings:
        by_file[f.location.file].append(f)
    files = list(by_file) or ["(inputs)"]
    suites = ET.Element("testsuites", name="smi lint")
    suite = ET.SubElement(
        suites, "testsuite", name="smi lint", tests=str(len(files)), errors="0", skipped="0"
    )
    failures = 0
    for file in files:
        case = ET.SubElement(suite, "testcase", classname="smi-lint", name=junit._clean(file))
        failing = [f for f in by_file.get(file, []) if f.severity >= options.fail_on]
        other = [f for f in by_file.get(file, []) if f.severity < options.fail_on]
        if failing:
            failures += 1
            failure = ET.SubElement(
                case,
                "failure",
                type=failing[0].code,
                message=junit._clean(f"{len(failing)} finding(s) at or above {options.fail_on.label}"),
            )
            failure.text = "\n".join(junit._line(f) for f in failing)
        if other:
            ET.SubElement(case, "system-out").text = "\n".join(junit._line(f) for f in other)
    suite.set("failures", str(failures))
    ET.SubElement(suite, "system-out").text = summary(result)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def whole(fmt: str, result: LintResult, options: Options) -> str:
    """The report built whole (``text`` and ``github`` are lines: nothing to build)."""
    if fmt == "json":
        return json.dumps(whole_json(result, options), indent=2, ensure_ascii=False) + "\n"
    if fmt == "sarif":
        return json.dumps(whole_sarif(result), indent=2, ensure_ascii=False) + "\n"
    assert fmt == "junit"
    return whole_junit(result, options)


def check_streamed(result: LintResult, options: Options) -> None:
    """Each document format, written as it goes (in blocks, as ``smi lint`` writes it), is the one built
    whole; every format's blocks join to what ``render`` gives."""
    for fmt in FORMATS:
        written = list(blocks(fmt, result, options))
        assert all(len(block) >= BLOCK for block in written[:-1])
        assert "".join(written) == render(fmt, result, options)
        if fmt in ("json", "sarif", "junit"):
            assert "".join(written) == whole(fmt, result, options), fmt
    assert json.loads(render("sarif", result, options)) == whole_sarif(result)
    assert json.loads(render("json", result, options)) == whole_json(result, options)


@pytest.mark.parametrize("spill_after", [lint_engine.SPILL_AFTER, 0], ids=["in-memory", "on-disk"])
def test_real_inputs_are_written_as_built_whole(
    tmp_path: Path, smi_spec_dir: Path, monkeypatch: pytest.MonkeyPatch, spill_after: int
) -> None:
    """The rule cases (one file each, and all of them in one file many times over, so every object is a
    duplicate too), the spec's examples, the bundled ones; at every ``--fail-on``."""
    monkeypatch.chdir(tmp_path)
    inputs = corpus_inputs(tmp_path, smi_spec_dir, copies=12)
    monkeypatch.setattr(lint_engine, "SPILL_AFTER", spill_after)
    counted = []
    for paths in inputs:
        result = lint(paths, LintConfig())
        counted.append(len(result.findings))
        for fail_on in Severity:
            check_streamed(result, Options(fail_on=fail_on))
    assert counted[0] > 100 and counted[1] > 1000, counted  # the rule cases and the large input find plenty


def _finding(file: str, line: int, severity: Severity, message: str, obj: str | None = None) -> Finding:
    rule = next(r for r in RULES.values() if r.severity is severity)
    return Finding(rule.code, rule.name, severity, message, Location(file, line, 1, line, 4), obj)


HOSTILE = "a & b < c > d \"quoted\" 'single' \r\n\t tab\x01\x0b\ufffe ünïcode ☃ ]]> <!-- --> &amp; %s"


def test_hostile_text_is_escaped_as_built_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Markup, entities, quotes, line ends, tabs and characters XML cannot hold, in file names, messages and
    object names, over several files whose failing and other findings interleave (and text that looks like
    the frame's marker but is not it): escaped exactly as ElementTree and json escape them."""
    monkeypatch.chdir(tmp_path)
    findings = []
    for i, file in enumerate(
        [f"dir/{HOSTILE % 'file'}.yaml", "plain.yaml", "<stdin>", "/elsewhere/x&y.yaml"]
    ):
        for line, severity in enumerate([Severity.INFO, Severity.ERROR, Severity.WARNING, Severity.ERROR], 1):
            message = HOSTILE % f"{i}-{line} smi-lint-findings-{'0' * 32}"
            findings.append(_finding(file, line, severity, message, HOSTILE % "obj" if line % 2 else None))
    findings.append(_finding("only-info.yaml", 3, Severity.INFO, "info only"))
    result = LintResult(findings=findings, files=5, documents=9, smi_objects=7, skipped=2, suppressed=1)
    for fail_on in Severity:
        check_streamed(result, Options(fail_on=fail_on))
    assert "&lt;!-- --&gt; &amp;amp;" in render("junit", result, Options())
    assert MARK not in "".join(render(fmt, result, Options()) for fmt in FORMATS)


def test_a_run_without_findings_is_written_as_built_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = LintResult(files=1, documents=1, smi_objects=1, rules=list(RULES.values())[:3])
    check_streamed(result, Options())
    assert '"results": []' in render("sarif", result, Options())
    assert '<testcase classname="smi-lint" name="(inputs)" />' in render("junit", result, Options())


def test_junit_refuses_findings_not_together_by_file() -> None:
    """The JUnit frame counts each file's findings, then takes them in order: findings of one file split by
    another's (never what ``lint`` returns) would land in the wrong test case, so they are refused."""
    findings = [_finding("a.yaml", 1, Severity.ERROR, "x"), _finding("b.yaml", 1, Severity.ERROR, "y")]
    findings.append(_finding("a.yaml", 2, Severity.ERROR, "z"))
    with pytest.raises(ValueError, match=r"findings of a\.yaml are not together"):
        render("junit", LintResult(findings=findings), Options())


def test_streamed_reports_of_a_large_input_are_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SARIF against the official schema (SARIF_SCHEMA), JUnit against the Jenkins schema (JUNIT_XSD), written
    from a large input's findings read back from disk."""
    sarif_schema, junit_xsd = os.environ.get("SARIF_SCHEMA"), os.environ.get("JUNIT_XSD")
    if not sarif_schema or not Path(sarif_schema).is_file() or not junit_xsd or not Path(junit_xsd).is_file():
        missing_input("SARIF_SCHEMA or JUNIT_XSD not set (make test fetches them: ci/sarif-schema.sh, "
                      "ci/junit-xsd.sh): the byte-for-byte tests above still run")  # fmt: skip
    import jsonschema
    from lxml import etree

    monkeypatch.chdir(tmp_path)
    path = _many_findings(tmp_path, 300)
    monkeypatch.setattr(lint_engine, "SPILL_AFTER", 10)
    result = lint([str(path)], LintConfig())
    assert not isinstance(result.findings, list) and len(result.findings) >= 300
    report = json.loads(render("sarif", result, Options()))
    assert len(report["runs"][0]["results"]) == len(result.findings)
    jsonschema.Draft4Validator(json.loads(Path(sarif_schema).read_text())).validate(report)
    schema = etree.XMLSchema(etree.parse(junit_xsd))
    document = etree.fromstring(render("junit", result, Options(fail_on=Severity.WARNING)).encode())
    assert schema.validate(document), schema.error_log


def _many_findings(folder: Path, count: int) -> Path:
    """``count`` splits, each with its own error and warnings (a negative weight, missing services): the
    findings grow with the input."""
    split = ERROR.replace("name: web,", "name: web-{i},").replace("service: web\n", "service: web-{i}\n")
    path = folder / f"{count}.yaml"
    path.write_text("---\n".join(split.replace("{i}", str(i)) for i in range(count)))
    return path


@pytest.mark.parametrize("fmt", FORMATS)
def test_memory_does_not_follow_the_number_of_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """Linting and writing the report: four times the findings (read from disk), not four times the memory."""
    import smi_conformance.models  # noqa: F401  # loaded on first use: not part of the measure

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(lint_engine, "SPILL_AFTER", 500)
    render(fmt, lint([str(_many_findings(tmp_path, 10))]), Options())  # what the first report loads, too
    sizes, found = {}, {}
    for count in (2_000, 8_000):
        path = _many_findings(tmp_path, count)
        found[count] = len(lint([str(path)]).findings)
        sizes[count] = peak_memory(path, fmt)
    assert found[8_000] >= 4 * found[2_000] >= 4 * 2_000, found
    assert sizes[8_000] < 1.5 * sizes[2_000], sizes
