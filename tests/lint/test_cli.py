"""``smi lint`` as users run it: exit codes, formats, configuration, stdin (click's CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smi_conformance.lint.config import FORMATS

from .helpers import CLEAN, ERROR, OTHER_ERROR, WARNING_ONLY, findings, smi, write


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no configuration file of the repository leaks in


@pytest.mark.parametrize("fmt", FORMATS)
def test_exit_codes_are_the_same_in_every_format(fmt: str, tmp_path: Path) -> None:
    clean = write(tmp_path, "clean.yaml", CLEAN)
    warning = write(tmp_path, "warning.yaml", WARNING_ONLY)
    error = write(tmp_path, "error.yaml", ERROR)
    assert smi("lint", "--format", fmt, str(clean)).exit_code == 0
    assert smi("lint", "--format", fmt, str(warning)).exit_code == 0
    assert smi("lint", "--format", fmt, "--fail-on", "warning", str(warning)).exit_code == 1
    assert smi("lint", "--format", fmt, str(error)).exit_code == 1
    assert smi("lint", "--format", fmt, "--fail-on", "info", str(clean)).exit_code == 0
    assert smi("lint", "--format", fmt, str(tmp_path / "missing.yaml")).exit_code == 2
    assert smi("lint", "--format", fmt).exit_code == 2
    assert smi("lint", "--format", fmt, "--fail-on", "fatal", str(clean)).exit_code == 2


def test_text_output_lists_findings_and_a_summary(tmp_path: Path) -> None:
    path = write(
        tmp_path, "error.yaml", ERROR + "---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
    )
    result = smi("lint", str(path))
    assert result.exit_code == 1
    first, *_, last = result.stdout.splitlines()
    assert (
        first == f"{path}:7:31: SMI201 error backend weight -1 is negative (negative-weight) "
        "[TrafficSplit shop/web]"
    )
    assert last.startswith("Found 1 error") and "1 other document skipped" in last
    assert "\x1b[" not in result.stdout  # no colour when not on a terminal
    coloured = smi("lint", "--color", str(path))
    assert "\x1b[" in coloured.stdout


def test_empty_input_is_an_error_not_a_pass(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    write(tmp_path, "empty/notes.txt", "not a manifest")
    for args, stdin in (
        ((str(tmp_path / "empty"),), None),
        (("-",), ""),
        (("-",), "# only a comment\n---\n"),
    ):
        result = smi("lint", *args, input=stdin)
        assert result.exit_code == 2, args
        assert "no manifests found" in result.stderr


def test_stdin_and_files_together(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", CLEAN)
    code, found = findings(str(path), "-", input=OTHER_ERROR)
    assert code == 1
    assert [(f["file"], f["code"], f["line"]) for f in found] == [("<stdin>", "SMI201", 7)]


def test_directories_are_walked_for_manifests_only(tmp_path: Path) -> None:
    write(tmp_path, "deploy/a.yaml", ERROR)
    write(tmp_path, "deploy/nested/b.yml", OTHER_ERROR)
    write(
        tmp_path,
        "deploy/c.json",
        json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}}),
    )
    write(tmp_path, "deploy/README.md", "# not yaml: {{{")
    write(tmp_path, "deploy/.hidden/d.yaml", ERROR)
    code, found = findings("deploy")
    assert code == 1
    assert sorted(f["file"] for f in found) == ["deploy/a.yaml", "deploy/nested/b.yml"]
    _, excluded = findings("--exclude", "deploy/nested/**", "deploy")
    assert [f["file"] for f in excluded] == ["deploy/a.yaml"]


def test_output_file_leaves_stdout_empty(tmp_path: Path) -> None:
    path = write(tmp_path, "error.yaml", ERROR)
    result = smi("lint", "--format", "sarif", "-o", "report.sarif", str(path))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert json.loads((tmp_path / "report.sarif").read_text())["version"] == "2.1.0"


def test_configuration_file_discovered_upward_and_overridden_by_flags(tmp_path: Path, monkeypatch) -> None:
    write(
        tmp_path, "pyproject.toml", '[project]\nname = "x"\n\n[tool.smi-lint]\nignore = ["negative-weight"]\n'
    )
    path = write(tmp_path, "deploy/split.yaml", ERROR)
    monkeypatch.chdir(tmp_path / "deploy")
    assert smi("lint", "split.yaml").exit_code == 0  # the file's ignore applies from a subfolder
    assert smi("lint", "--isolated", "split.yaml").exit_code == 1  # ... unless configuration is off
    assert smi("lint", "--select", "SMI2", "split.yaml").exit_code == 1  # flags replace the file's selection
    write(tmp_path, "deploy/.smi-lint.toml", 'fail-on = "warning"\n')  # nearer file wins, whole
    assert smi("lint", "split.yaml").exit_code == 1
    assert smi("lint", "--config", str(tmp_path / "pyproject.toml"), str(path)).exit_code == 0


@pytest.mark.parametrize(
    ("pyproject", "found"),
    [
        ('[project]\nname = "x"\n', False),
        ("[project\nname = broken\n", False),  # broken, but not ours: not our business
        ('[tool."smi\\u002dlint"]\nignore = ["negative-weight"]\n', True),  # a key spelt with an escape
        ('[tool]\n"smi-lint" = { ignore = ["negative-weight"] }\n', True),
    ],
)
def test_pyproject_counts_when_it_has_the_table_however_spelt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pyproject: str, found: bool
) -> None:
    """Discovery skips a pyproject.toml that cannot name ``tool.smi-lint`` without parsing it; one that
    does, in any spelling TOML allows, is still the configuration."""
    write(tmp_path, "pyproject.toml", pyproject)
    write(tmp_path, "deploy/split.yaml", ERROR)
    monkeypatch.chdir(tmp_path / "deploy")
    assert smi("lint", "split.yaml").exit_code == (0 if found else 1)


def test_configured_suppressions_match_path_kind_and_name(tmp_path: Path) -> None:
    write(tmp_path, "legacy/a.yaml", ERROR)
    write(tmp_path, "new/b.yaml", OTHER_ERROR.replace("name: api,", "name: canary-api,"))
    write(
        tmp_path,
        ".smi-lint.toml",
        '[[suppress]]\ncodes = ["SMI201"]\npaths = ["legacy/**"]\nreason = "frozen, replaced next quarter"\n'
        '[[suppress]]\nkinds = ["TrafficSplit"]\nnames = ["shop/canary-*"]\n'
        'reason = "canaries are checked by flagger"\n',
    )
    result = smi("lint", "--format", "json", ".")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["suppressed"] == 2


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("colour = true\n", "unknown key(s) colour"),
        ('ignore = ["SMI999"]\n', "unknown rule 'SMI999'"),
        ('fail-on = "fatal"\n', "unknown severity"),
        ('[[suppress]]\ncodes = ["SMI201"]\n', "needs a reason"),
        ("ignore = [", ""),
    ],
)
def test_invalid_configuration_is_a_usage_error(tmp_path: Path, config: str, message: str) -> None:
    write(tmp_path, ".smi-lint.toml", config)
    path = write(tmp_path, "a.yaml", CLEAN)
    result = smi("lint", str(path))
    assert result.exit_code == 2
    assert ".smi-lint.toml" in result.stderr and message in result.stderr


def test_list_rules_and_kinds() -> None:
    rules = smi("lint", "--list-rules")
    assert rules.exit_code == 0 and "SMI203  all-weights-zero" in rules.stdout
    kinds = smi("lint", "--list-kinds")
    assert kinds.exit_code == 0 and "split.smi-spec.io/v1alpha4" in kinds.stdout


def test_an_in_process_run_leaves_the_cyclic_collector_as_it_found_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command tunes the collector for its run (lint/cli.py: _few_collections), and puts it back, also
    when the run fails: in-process users (tests, the pre-commit hook's API) keep their own settings."""
    import gc

    from smi_conformance.lint import engine

    seen: list[tuple[tuple[int, ...], int]] = []
    real = engine.lint

    def spy(*args: object, **kwargs: object) -> object:
        seen.append((gc.get_threshold(), gc.get_freeze_count()))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    before = gc.get_threshold(), gc.get_freeze_count()
    monkeypatch.setattr(engine, "lint", spy)
    assert smi("lint", str(write(tmp_path, "error.yaml", ERROR))).exit_code == 1
    assert seen[0][0][0] == 50_000 and seen[0][1] > 0  # tuned during the run
    assert (gc.get_threshold(), gc.get_freeze_count()) == before

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("a bug")

    monkeypatch.setattr(engine, "lint", broken)
    failed = smi("lint", str(tmp_path / "error.yaml"))
    assert failed.exit_code == 2 and "internal error: RuntimeError: a bug" in failed.output
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
