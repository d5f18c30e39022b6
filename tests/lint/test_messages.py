"""What a finding says (issue 14): tab indentation, typos in apiVersion or kind, references judged against
objects held elsewhere (a running mesh), and the one line format every finding is printed in.

Each case is what a user would write; the assertion is the line `smi lint` prints for it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from smi_conformance._yamlparse import TAB_INDENT
from smi_conformance.lint import lint_documents
from smi_conformance.lint.registry import ALIASES, rule
from smi_conformance.lint.reporters.text import finding_line
from smi_conformance.lint.rule import Severity
from smi_conformance.manifests import load_text

from .helpers import CLEAN, findings, smi, write

SPLIT = CLEAN  # a clean TrafficSplit in split.smi-spec.io/v1alpha4


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("metadata:\n\tname: web\n", 2, 1),  # a tab as the whole indentation
        ("metadata:\n  \tname: web\n", 2, 3),  # spaces, then a tab
        ("metadata:\n  name: web\n\tnamespace: shop\n", 3, 1),  # a tab after a correctly indented line
        ("spec:\n  backends:\n  - service: a\n\t- service: b\n", 4, 1),  # in a sequence
        ("a: |\n  text\n\tmore\n", 3, 1),  # in a block scalar
        ("- \tname: web\n", 1, 3),  # after a sequence dash
    ],
)
def test_tab_indentation_says_so_at_the_tab(tmp_path: Path, text: str, line: int, column: int) -> None:
    path = write(tmp_path, "tabs.yaml", "apiVersion: v1\nkind: ConfigMap\n---\n" + text)
    result = smi("lint", str(path))
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == (
        f"{path}:{line + 3}:{column}: SMI001 error YAML syntax error: {TAB_INDENT} (syntax-error)"
    )


def test_tabs_that_yaml_allows_and_other_syntax_errors_keep_their_messages(tmp_path: Path) -> None:
    allowed = write(tmp_path, "ok.yaml", SPLIT.replace("service: web\n", "service:\tweb\n"))
    assert smi("lint", str(allowed)).exit_code == 0  # a tab separating a value is fine
    _, found = findings(str(write(tmp_path, "bad.yaml", "a: b\tc: d\n")))
    assert [(f["line"], f["column"], f["message"]) for f in found] == [
        (1, 7, "YAML syntax error: mapping values are not allowed in this context")
    ]


@pytest.mark.parametrize(
    ("api_version", "kind", "line", "column", "message"),
    [
        (
            "split.smi-spec.io/v1alpah4", "TrafficSplit", 1, 13,
            "split.smi-spec.io/v1alpah4 is not an SMI API version this linter knows; "
            "did you mean split.smi-spec.io/v1alpha4?",
        ),
        (
            "split.smi-spec.io/v1alpha", "TrafficSplit", 1, 13,  # a release wins over the draft v1alpha5
            "split.smi-spec.io/v1alpha is not an SMI API version this linter knows; "
            "did you mean split.smi-spec.io/v1alpha4?",
        ),
        (
            "split.smi-spec.io/v1alpah5", "TrafficSplit", 1, 13,  # the recognised draft
            "split.smi-spec.io/v1alpah5 is not an SMI API version this linter knows; "
            "did you mean split.smi-spec.io/v1alpha5?",
        ),
        (
            "spilt.smi-spec.io/v1alpha4", "TrafficSplit", 1, 13,  # was skipped as another project's object
            "spilt.smi-spec.io/v1alpha4 is not an SMI API version this linter knows; "
            "did you mean split.smi-spec.io/v1alpha4?",
        ),
        (
            "split.smi-spec.io/v1beta1", "TrafficSplit", 1, 13,  # nothing close: where the kind is now
            "split.smi-spec.io/v1beta1 is not an SMI API version this linter knows; "
            "the current version of TrafficSplit is split.smi-spec.io/v1alpha4",
        ),
        (
            "access.smi-spec.io/v1alpha9", "TrafficSplit", 1, 13,  # right kind, wrong group
            "access.smi-spec.io/v1alpha9 is not an SMI API version this linter knows; "
            "TrafficSplit is in split.smi-spec.io/v1alpha4",
        ),
        (
            "split.smi-spec.io/v1alpha4", "TraficSplit", 2, 7,
            "split.smi-spec.io/v1alpha4 has no kind 'TraficSplit'; did you mean 'TrafficSplit'?",
        ),
        (
            "access.smi-spec.io/v1alpha4", "TrafficSplit", 2, 7,
            "access.smi-spec.io/v1alpha4 has no kind 'TrafficSplit'; "
            "TrafficSplit is in split.smi-spec.io/v1alpha4",
        ),
    ],
)  # fmt: skip
def test_unknown_version_or_kind_suggests_the_likely_one(
    tmp_path: Path, api_version: str, kind: str, line: int, column: int, message: str
) -> None:
    text = SPLIT.replace("split.smi-spec.io/v1alpha4", api_version).replace("TrafficSplit", kind)
    path = write(tmp_path, "typo.yaml", text)
    result = smi("lint", str(path))
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == (
        f"{path}:{line}:{column}: SMI106 error {message} (unknown-kind-or-version) [{kind} shop/web]"
    )


def test_other_projects_groups_are_still_skipped(tmp_path: Path) -> None:
    text = SPLIT.replace("split.smi-spec.io/v1alpha4", "flagger.app/v1beta1")
    result = smi("lint", str(write(tmp_path, "other.yaml", text)))
    assert result.exit_code == 0
    assert "1 other document skipped" in result.stdout


def test_the_former_rule_name_still_works_where_users_wrote_it(tmp_path: Path) -> None:
    typo = SPLIT.replace("v1alpha4", "v1alpah4")
    assert ALIASES["unknown-kind"] == ALIASES["unknown-kind-or-version"] == "SMI106"
    assert rule("unknown-kind").name == "unknown-kind-or-version"
    explained = smi("lint", "--explain", "unknown-kind").stdout
    assert explained.startswith("SMI106 unknown-kind-or-version (error; formerly unknown-kind)")

    path = write(tmp_path, "typo.yaml", typo)
    assert smi("lint", "--ignore", "unknown-kind", str(path)).exit_code == 0
    write(tmp_path, ".smi-lint.toml", 'ignore = ["unknown-kind"]\n')
    assert smi("lint", str(path)).exit_code == 0
    (tmp_path / ".smi-lint.toml").unlink()

    annotated = typo.replace(
        "metadata: {name: web, namespace: shop}",
        "metadata:\n  name: web\n  namespace: shop\n  annotations:\n"
        '    lint.smi-conformance.io/ignore: "unknown-kind: generated by an old tool, fixed upstream"',
    )
    code, found = findings(str(write(tmp_path, "annotated.yaml", annotated)))
    assert (code, found) == (0, [])  # suppressed, and the suppression counts as used


MESH_OBJECTS = """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
---
apiVersion: v1
kind: Service
metadata: {name: web-v1, namespace: shop}
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: live, namespace: shop}
spec:
  service: web
  backends:
  - {service: web-v1, weight: -1}
"""


def test_documents_judged_with_a_context_name_it_and_report_only_on_themselves() -> None:
    """What a server that holds objects already (the reference mesh) asks of the linter."""
    held = load_text(MESH_OBJECTS, "<held>").documents
    batch = load_text(
        CLEAN.replace("name: web,", "name: canary,").replace("web-v2", "web-v3"), "canary.yaml"
    ).documents
    result = lint_documents(batch, context=held, scope="the mesh")
    assert [(f.code, str(f.location), f.message) for f in result.findings] == [
        (
            "SMI206",
            "canary.yaml:5:12",
            "root service 'web' is also split by TrafficSplit shop/live in the mesh; "
            "only one of them takes effect",
        ),
        ("SMI303", "canary.yaml:8:15", "Service shop/web-v3 is not in the mesh"),
    ]  # web-v1 resolves through the context; the held split's negative weight is not reported
    assert (result.documents, result.smi_objects, result.files) == (1, 1, 1)
    alone = lint_documents(batch + held)
    assert "Service shop/web-v3 is not in the linted files" in [f.message for f in alone.findings]


def test_one_line_format_for_every_finding() -> None:
    line = finding_line(
        "SMI303", "unresolved-service", Severity.WARNING, "Service shop/x is not in the mesh",
        "a.yaml:7:14", "TrafficSplit shop/c",
    )  # fmt: skip
    assert line == (
        "a.yaml:7:14: SMI303 warning Service shop/x is not in the mesh (unresolved-service) "
        "[TrafficSplit shop/c]"
    )
    assert finding_line("MESH005", "no-objects", Severity.ERROR, "no objects in the input") == (
        "MESH005 error no objects in the input (no-objects)"
    )


def test_the_upgrade_command_names_the_file_as_the_shell_reads_it_or_stdin(tmp_path: Path) -> None:
    """SMI601's `smi convert` command runs as printed: a path with a space quoted, stdin as ``-``."""
    old = "apiVersion: split.smi-spec.io/v1alpha2\nkind: TrafficSplit\nmetadata: {name: s}\n"
    path = write(tmp_path, "my splits.yaml", old)
    for args, stdin, target in (((str(path),), None, f"'{path}'"), (("-",), old, "-")):
        _, found = findings("--select", "SMI601", *args, input=stdin)
        assert [f["message"] for f in found] == [
            "split.smi-spec.io/v1alpha2 TrafficSplit is superseded by split.smi-spec.io/v1alpha4; "
            f"upgrade with: smi convert --to split.smi-spec.io/v1alpha4 {target}"
        ]
