"""Past ``SPILL_AFTER`` objects the linted set is indexed on disk: every lookup finds what it finds in memory,
across the boundary, and the verdicts do not change; small inputs and ``lint_documents`` never touch disk."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from smi_conformance.lint import LintConfig, lint, lint_documents
from smi_conformance.lint import disk_index as lint_disk_index
from smi_conformance.lint import engine as lint_engine
from smi_conformance.lint.resources import LintContext, Resource
from smi_conformance.lint.stored_findings import StoredFindings
from smi_conformance.manifests import load_text

from .helpers import corpus_inputs, peak_memory, rule_case_inputs, smi, write


def _objects(text: str) -> list[Resource]:
    return [Resource(d, d.data["apiVersion"], d.data["kind"], d.data) for d in load_text(text).documents]


def _context(text: str, spill_after: int) -> tuple[LintContext, list[Resource]]:
    ctx = LintContext(spill_after=spill_after)
    objects = _objects(text)
    for position, obj in enumerate(objects):
        obj.position, obj.is_checked = position, obj.is_smi
        ctx.add(obj)
    return ctx, objects


def _service(name: str, namespace: str | None = "shop", port: int = 80) -> str:
    where = f", namespace: {namespace}" if namespace else ""
    return (
        f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}{where}}}\n"
        f"spec: {{ports: [{{port: {port}}}]}}\n"
    )


def _split(name: str, root: str, api: str = "split.smi-spec.io/v1alpha4") -> str:
    return (
        f"apiVersion: {api}\nkind: TrafficSplit\nmetadata: {{name: {name}, namespace: shop}}\n"
        f"spec: {{service: {root}, backends: [{{service: b, weight: 1}}]}}\n"
    )


def _route(name: str, api: str = "specs.smi-spec.io/v1alpha4") -> str:
    return (
        f"apiVersion: {api}\nkind: HTTPRouteGroup\nmetadata: {{name: {name}, namespace: shop}}\n"
        "spec: {matches: [{name: all, pathRegex: /.*}]}\n"
    )


def _ids(found: list[Resource]) -> list[int]:
    return [r.seq for r in found]


@pytest.mark.parametrize("spill_after", [0, 1, 2, 3, 100])
def test_lookups_find_the_same_objects_on_either_side_of_the_boundary(spill_after: int) -> None:
    """Copies of one Service, a split root and a route on both sides of the boundary: each lookup gives the
    objects in input order, with the data the rules read kept, whatever the threshold."""
    text = "---\n".join(
        [
            _service("web", port=80),
            _split("a", "web"),
            _service("web", port=8080),
            _split("b", "web.shop.svc.cluster.local"),
            _route("r", "specs.smi-spec.io/v1alpha3"),
            _service("web", namespace=None),
            _service("api", namespace="other"),
            _route("r"),
            _split("a", "web"),
        ]
    )
    ctx, objects = _context(text, spill_after)
    assert ctx.spilled == (spill_after < len(objects))
    assert _ids(ctx.find("Service", "shop", "web")) == [0, 2]
    assert [s.data["spec"]["ports"][0]["port"] for s in ctx.find("Service", "shop", "web")] == [80, 8080]
    assert _ids(ctx.find("Service", "default", "web")) == [5]
    assert ctx.find("Service", "shop", "nothing") == [] and ctx.find("Pod", "shop", "web") == []
    assert _ids(ctx.in_namespace("Service", "shop")) == [0, 2]
    assert ctx.namespaces_of("Service", "web") == ["shop"]  # the copy in shop is the same object
    assert ctx.namespaces_of("Service", "api") == ["other"]
    assert _ids(ctx.splits_for_root("shop", "web")) == [1, 3, 8]
    # Duplicates: the first copy, in memory or on disk; the object itself when it is the first.
    assert ctx.first(objects[8]).seq == 1
    assert ctx.first(objects[1]) is objects[1]
    assert ctx.first(objects[7]).seq == 4 and ctx.first(objects[7]).api_version.endswith("v1alpha3")
    # Splits of one root: the first other-named one before, never the object itself.
    assert ctx.earlier_split_of_root(objects[1], "web") is None
    assert ctx.earlier_split_of_root(objects[3], "web").seq == 1  # type: ignore[union-attr]
    assert ctx.earlier_split_of_root(objects[8], "web").seq == 3  # type: ignore[union-attr]
    assert ctx.has_kind_in("Service", "other") and not ctx.has_kind_in("Service", "nowhere")
    ctx.close()


@pytest.mark.parametrize("spill_after", [0, 1, 100])
def test_first_of_its_group_across_the_boundary(spill_after: int) -> None:
    """duplicate-object compares within a group: a misspelt group's copy is not the SMI one's duplicate."""
    text = "---\n".join(
        [
            _route("r", "spec.smi-spec.io/v1alpha4"),
            _route("r"),
            _route("r", "spec.smi-spec.io/v1alpha4"),
            _route("r"),
        ]
    )
    ctx, objects = _context(text, spill_after)
    assert [ctx.first(o).seq for o in objects] == [0, 1, 0, 1]
    assert ctx.first(objects[1]) is objects[1]
    ctx.close()


def test_names_sqlite_cannot_store_as_text_are_found() -> None:
    """A lone surrogate (JSON allows one in a name) is kept and found exactly, apart from similar names."""
    names = ["web", "web\ud800", "web\udfff"]  # one that sqlite takes first: written, then again
    texts = [
        json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "shop"}})
        for name in names
    ]
    docs = [d for text in texts for d in load_text(text, "x.json").documents]
    ctx = LintContext(spill_after=0)
    for doc in docs:
        ctx.add(Resource(doc, "v1", "Service", doc.data))
    assert [[r.name for r in ctx.find("Service", "shop", n)] for n in names] == [[n] for n in names]
    assert ctx.namespaces_of("Service", "web\ud800") == ["shop"]
    ctx.close()


def _findings(paths: list[str]) -> list[tuple[str, str, str, str | None]]:
    return [(f.code, repr(f.location), f.message, f.object) for f in lint(paths, LintConfig()).findings]


@pytest.mark.parametrize(
    ("spill_after", "filtered"), [(0, True), (1, True), (37, True), (500, True), (1, False)]
)
def test_spilled_index_gives_the_same_findings(
    tmp_path: Path, smi_spec_dir: Path, monkeypatch: pytest.MonkeyPatch, spill_after: int, filtered: bool
) -> None:
    """Every rule case in one file (twice: every object a duplicate of one across the boundary, and an
    object marshal cannot write), each in its own file, the spec's and the bundled examples: the same
    findings, locations with their ends, with the index in memory and spilled at any point; with the disk
    index's filter or without it (every key "maybe there": it only saves queries)."""
    inputs = corpus_inputs(tmp_path, smi_spec_dir, copies=2)
    kept = [_findings(paths) for paths in inputs]
    assert all(kept[:3]) and any(code == "SMI305" for code, *_ in kept[1])
    assert any("5000 digits" in message for _, _, message, _ in kept[1])
    monkeypatch.setattr(lint_engine, "SPILL_AFTER", spill_after)
    monkeypatch.setattr(lint_engine, "KEEP_DEFERRED_BYTES", spill_after * 300)
    if not filtered:
        monkeypatch.setattr(lint_disk_index.DiskIndex, "may_have", lambda self, lookup, key: True)
    assert [_findings(paths) for paths in inputs] == kept


def _no_disk(*args: object, **kwargs: object) -> None:
    raise AssertionError("the index went to disk")


def test_small_inputs_and_lint_documents_never_touch_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Up to SPILL_AFTER objects stay in memory; lint_documents (the mesh's admission, which holds its
    documents anyway) never spills, however many objects it gets."""
    text = "---\n".join(_split(f"s{i}", f"root{i}") for i in range(20))
    (tmp_path / "small.yaml").write_text(text)
    monkeypatch.setattr(lint_disk_index.DiskIndex, "__init__", _no_disk)
    monkeypatch.setattr(lint_engine, "SPILL_AFTER", 20)
    expected = lint([str(tmp_path / "small.yaml")]).findings
    monkeypatch.setattr(lint_engine, "SPILL_AFTER", 1)
    assert lint_documents(load_text(text, str(tmp_path / "small.yaml")).documents).findings == expected
    with pytest.raises(AssertionError, match="went to disk"):
        lint([str(tmp_path / "small.yaml")])


def test_memory_does_not_follow_the_number_of_objects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four times the (clean, indexed) objects past SPILL_AFTER, not four times the memory. (Each object is
    padded so that both files fill the reader's blocks.)"""
    import smi_conformance.models  # noqa: F401  # loaded on first use: not part of the measure

    monkeypatch.setattr(lint_engine, "SPILL_AFTER", 500)
    route = (
        "apiVersion: specs.smi-spec.io/v1alpha4\nkind: TCPRoute\n"
        "metadata: {{name: db-{i}, namespace: ns-{n}, annotations: {{note: '{pad}'}}}}\n"
        "spec: {{matches: {{ports: [5432]}}}}\n"
    )
    sizes = {}
    for count in (2_000, 8_000):
        path = tmp_path / f"{count}.yaml"
        path.write_text("---\n".join(route.format(i=i, n=i % 7, pad="x" * 500) for i in range(count)))
        assert lint([str(path)]).findings == []
        sizes[count] = peak_memory(path)
    assert sizes[8_000] < 1.5 * sizes[2_000], sizes


SUPPRESSED = """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {ports: [{port: 80}], selector: {app: web}}
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata:
  name: s1
  namespace: shop
  annotations:
    lint.smi-conformance.io/ignore: "SMI303: created by helm later; SMI204: stale"
spec: {service: web, backends: [{service: missing, weight: 1}]}
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: s2, namespace: shop}
spec: {service: web, backends: [{service: missing, weight: -1}]}
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: canary-s3, namespace: shop}
spec: {service: api, backends: [{service: gone, weight: -1}]}
"""


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github", "junit"])
def test_reports_written_from_disk_are_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """Every format, to stdout and to a file, with the findings sorted on disk and read back as the report
    is written: byte for byte what the in-memory run writes; annotations suppress deferred findings of
    objects read back from disk, configured suppressions match their path, kind and name."""
    write(tmp_path, "a/cases.yaml", "---\n".join(rule_case_inputs()))
    write(tmp_path, "b/suppressed.yaml", SUPPRESSED * 3)
    write(
        tmp_path,
        ".smi-lint.toml",
        '[[suppress]]\ncodes = ["SMI203"]\npaths = ["a/**"]\nreason = "zero weights are drained"\n'
        '[[suppress]]\nkinds = ["TrafficSplit"]\nnames = ["shop/canary-*"]\nreason = "flagger"\n',
    )
    monkeypatch.chdir(tmp_path)

    def reports() -> tuple[str, str, int]:
        to_stdout = smi("lint", "--format", fmt, ".")
        to_file = smi("lint", "--format", fmt, "-o", "report.out", ".")
        assert to_file.exit_code == to_stdout.exit_code and to_file.stdout == ""
        return to_stdout.stdout, (tmp_path / "report.out").read_text(), to_stdout.exit_code

    in_memory = reports()
    assert in_memory[2] == 1 and "SMI303" in in_memory[0] and "SMI009" in in_memory[0]
    for spill_after in (0, 5):
        monkeypatch.setattr(lint_engine, "SPILL_AFTER", spill_after)
        assert reports() == in_memory


def test_findings_of_a_large_input_are_a_sequence_read_from_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past SPILL_AFTER, ``LintResult.findings`` is read from disk: the same findings, in the same order,
    every time it is iterated, with a length and indexes like a list's."""
    path = write(tmp_path, "cases.yaml", "---\n".join(rule_case_inputs()))
    in_memory = lint([str(path)]).findings
    monkeypatch.setattr(lint_engine, "SPILL_AFTER", 3)
    stored = lint([str(path)]).findings
    assert isinstance(stored, StoredFindings) and not isinstance(stored, list)
    assert list(stored) == list(stored) == in_memory
    assert len(stored) == len(in_memory) and stored[0] == in_memory[0] and stored[-2:] == in_memory[-2:]
    with ThreadPoolExecutor(1) as pool:  # a caller may read them in another thread
        assert pool.submit(list, stored).result() == in_memory
