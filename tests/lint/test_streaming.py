"""The linter streams its input: memory does not follow the size of the text, the rules that look forward
see what they would see with everything in memory, and one input gets one verdict however it arrives."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from smi_conformance.lint import LintConfig, lint
from smi_conformance.lint import engine as lint_engine

from .helpers import CLEAN, corpus_inputs, peak_memory, rule_case_inputs


def test_memory_does_not_follow_the_size_of_the_text(tmp_path: Path) -> None:
    """Four times the documents, not four times the memory: each document is let go once checked."""
    import re2  # type: ignore[import-untyped]  # noqa: F401  # loaded on first use: not part of the measure

    import smi_conformance.models  # noqa: F401

    config_map = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i}}}\ndata: {{key: '{pad}'}}\n"
    sizes = {}
    for count in (2_000, 8_000):
        docs = [config_map.format(i=i, pad="x" * 400) for i in range(count)]
        path = tmp_path / f"{count}.yaml"
        path.write_text(CLEAN + "---\n" + "---\n".join(docs))
        sizes[count] = peak_memory(path)
    assert sizes[8_000] < 1.5 * sizes[2_000], sizes


def _findings(paths: list[str]) -> list[tuple[str, str, str]]:
    return [(f.code, str(f.location), f.message) for f in lint(paths, LintConfig()).findings]


@pytest.mark.parametrize("spool_bytes", [lint_engine.SPOOL_BYTES, 1], ids=["in-memory", "on-disk"])
def test_objects_read_back_give_the_same_findings(
    tmp_path: Path, smi_spec_dir: Path, monkeypatch: pytest.MonkeyPatch, spool_bytes: int
) -> None:
    """Past KEEP_DEFERRED_BYTES the deferred rules see objects read back from the spool (in memory, or on disk
    past SPOOL_BYTES), or parsed again from the file when marshal cannot keep them (a HugeInt): the same
    findings as with every object kept."""
    inputs = corpus_inputs(tmp_path, smi_spec_dir)
    kept = [_findings(paths) for paths in inputs]
    assert all(kept[:2]) and sum(len(k) for k in kept) > 200
    assert any("5000 digits" in message for _, _, message in kept[1])  # the HugeInt object is checked
    monkeypatch.setattr(lint_engine, "KEEP_DEFERRED_BYTES", 0)
    monkeypatch.setattr(lint_engine, "SPOOL_BYTES", spool_bytes)
    assert [_findings(paths) for paths in inputs] == kept


def test_a_lists_members_keep_their_data_by_their_share_of_its_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A List's members each count their share of the List's text against KEEP_DEFERRED_BYTES, not the whole
    List: with room for about four members' share, the first ones keep their data and the rest is spooled;
    the findings are those of a run that keeps everything."""
    import yaml

    def splits(text: str) -> list[object]:
        try:
            docs = list(yaml.safe_load_all(text))
        except yaml.YAMLError:  # the cases of broken YAML
            return []
        return [d for d in docs if isinstance(d, dict) and d.get("kind") == "TrafficSplit"]

    objects = [split for text in rule_case_inputs() for split in splits(text)]
    path = tmp_path / "list.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": objects}))
    kept = _findings([str(path)])
    assert kept
    spooled: list[object] = []
    real = lint_engine._Run._spool_data

    def spool(self: lint_engine._Run, data: object) -> None:
        spooled.append(data)
        real(self, data)

    monkeypatch.setattr(lint_engine._Run, "_spool_data", spool)
    monkeypatch.setattr(lint_engine, "KEEP_DEFERRED_BYTES", 4 * len(path.read_bytes()) // len(objects))
    assert _findings([str(path)]) == kept
    assert 0 < len(spooled) < len(objects) - 2, len(spooled)


ONE_INPUT = [
    b"[1,]",  # a YAML flow sequence, invalid JSON
    b'"\\ud800"',  # a lone surrogate: JSON takes it, YAML does not
    b'{"a": 1,}',  # starts like JSON: judged as JSON
    b'{"apiVersion": "split.smi-spec.io/v1alpha4", "kind": "TrafficSplit", "metadata": {"name": "a"},\n'
    b'\t"spec": {"service": "a", "backends": [{"service": "b", "weight": 1e3}]}}',
    CLEAN.encode(),
    b"  \n\t{apiVersion: v1}",  # a YAML flow mapping where JSON is expected
    b'{"kind": "X", "n": ' + b"9" * 5000 + b"}",
    b"kind: X\nn: -" + b"9" * 5000 + b"\n",
]


@pytest.mark.parametrize("data", ONE_INPUT, ids=lambda d: d[:20].decode("utf-8", "replace"))
def test_one_input_one_verdict_through_any_file_name_or_stdin(tmp_path: Path, data: bytes) -> None:
    def verdict(paths: list[str], stdin: bytes | None = None) -> object:
        try:
            result = lint(paths, LintConfig(root=tmp_path), stdin=io.BytesIO(stdin) if stdin else None)
        except lint_engine.InputError as exc:
            return type(exc).__name__
        return [(f.code, f.location.line, f.location.column) for f in result.findings]

    seen = [verdict(["-"], data)]
    for name in ("input.json", "input.yaml", "input.yml"):
        (tmp_path / name).write_bytes(data)
        seen.append(verdict([str(tmp_path / name)]))
    assert seen[1:] == seen[:1] * 3, seen
