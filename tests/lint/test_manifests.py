"""The manifest loader: documents, where they start, and where any node is."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from yaml.nodes import ScalarNode

from smi_conformance import _yamlparse
from smi_conformance.manifests import Inputs, load_paths, load_text

from .helpers import real_manifests


def test_documents_and_their_locations() -> None:
    text = (
        "# header\n---\nkind: A\nspec:\n  list:\n  - a: 1\n    b: [x, y]\n"
        "---\n---\n# only a comment\n---\nkind: B\n"
    )
    result = load_text(text, "f.yaml")
    assert [d.data["kind"] for d in result.documents] == ["A", "B"]
    a, b = result.documents
    assert str(a.locate()) == "f.yaml:3:1"
    assert str(a.locate(("spec", "list", 0, "b", 1))) == "f.yaml:7:12"
    assert str(a.locate(("spec", "list", 0, "b"), key=True)) == "f.yaml:7:5"
    assert (
        str(a.locate(("spec", "missing", "deeper"))) == "f.yaml:4:1"
    )  # deepest existing ancestor, at its key
    assert str(b.locate(("kind",))) == "f.yaml:12:7"
    loc = a.locate(("spec", "list", 0, "b"))
    assert (loc.line, loc.column, loc.end_line, loc.end_column) == (7, 8, 7, 14)


def test_list_members_are_documents_of_their_own() -> None:
    text = "apiVersion: v1\nkind: List\nitems:\n- kind: A\n  metadata: {name: a}\n- kind: B\n"
    result = load_text(text, "list.yaml")
    assert [d.data["kind"] for d in result.documents] == ["A", "B"]
    assert str(result.documents[1].locate(("kind",))) == "list.yaml:6:9"
    assert result.documents[0].parent["kind"] == "List"
    metrics = "apiVersion: metrics.smi-spec.io/v1alpha1\nkind: TrafficMetricsList\nitems: []\nresource: {}\n"
    assert [d.data["kind"] for d in load_text(metrics).documents] == ["TrafficMetricsList"]


def test_json_is_read_with_json_semantics_and_located() -> None:
    text = '{\n\t"apiVersion": "v1",\n\t"kind": "Service",\n\t"spec": {"ports": [{"port": 1e3}]}\n}'
    (doc,) = load_text(text, "svc.json").documents
    assert doc.data["spec"]["ports"][0]["port"] == 1000.0
    assert str(doc.locate(("spec", "ports", 0, "port"))) == "svc.json:4:30"


def test_scalars_are_plain_data_as_kubernetes_reads_them() -> None:
    text = (
        "a: 2020-01-01\nb: 010\nc: 1_000\nd: yes\ne: ~\nf: '1'\ng: 0x1F\n1: key\n<<: {h: merged, a: lost}\n"
    )
    (doc,) = load_text(text).documents
    assert doc.data == {
        "a": "2020-01-01", "b": 8, "c": 1000, "d": True, "e": None, "f": "1", "g": 31, "1": "key",
        "h": "merged",
    }  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet="aeflnotyFNOTY~=.+-_:0189xbe<!&* ", max_size=8)
    | st.text(max_size=8)
    | st.sampled_from(["yes", "Off", "~", "", "null", "0x1F", "1_000", "1:30", ".inf", "2001-12-14", "="])
)
def test_plain_scalars_are_tagged_as_pyyaml_tags_them(text: str) -> None:
    """What tells most names apart without asking PyYAML's resolver gives its answer."""
    resolved = yaml.resolver.Resolver().resolve(ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    assert _yamlparse._implicit(text) == str(resolved)


def test_directives_after_an_end_marker_belong_to_the_next_document() -> None:
    result = load_text("a: 1\n...\n%YAML 1.1\n---\nb: 2\n", "d.yaml")
    assert result.issues == []
    assert [d.data for d in result.documents] == [{"a": 1}, {"b": 2}]
    assert str(result.documents[1].locate(("b",))) == "d.yaml:5:4"


def test_content_after_an_end_marker_is_an_error_as_in_pyyaml() -> None:
    result = load_text("a: 1\n...\n- b\n", "e.yaml")
    assert [(i.kind, i.location.line) for i in result.issues] == [("syntax", 3)]


def test_walking_directories(tmp_path: Path) -> None:
    for name in ("b.yaml", "a/c.yml", "a/d.json", "a/e.txt", ".git/f.yaml", "a/.g.yaml"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}" if name.endswith(".json") else "kind: X\n")
    result = load_paths([str(tmp_path)])
    assert [Path(s.name).relative_to(tmp_path).as_posix() for s in result.sources] == [
        "b.yaml",
        "a/c.yml",
        "a/d.json",
    ]
    explicit = load_paths([str(tmp_path / "a/e.txt"), str(tmp_path / "nope.yaml")])
    assert len(explicit.documents) == 1 and explicit.unreadable == [
        (str(tmp_path / "nope.yaml"), "no such file or directory")
    ]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_file_read_line_by_line_gives_what_its_whole_text_gives(tmp_path: Path, newline: str) -> None:
    docs = [f"kind: ConfigMap\nmetadata: {{name: cm-{i}}}\ndata: {{key: '{'x' * 20}'}}\n" for i in range(600)]
    docs[450] = "kind: ConfigMap\nmetadata: {name: dup, name: again}\n"
    docs[500] = "kind: [\n"
    docs[550] = "--- # a marker with a comment\n---\nkind: Late\n"  # empty documents
    text = ("# header\n" + "---\n".join(docs) + "---").replace("\n", newline)  # a marker at the very end
    path = tmp_path / "big.yaml"
    path.write_bytes(text.encode())
    inputs = Inputs([str(path)], stream=True)
    streamed = [(d.index, d.start, d.end, d.first_line, d.data, str(d.locate(("metadata",)))) for d in inputs]
    (source,) = inputs.sources
    assert source.path == path and source.text == ""  # never held whole: offsets are bytes of the file
    whole = load_text(text, str(path))
    assert [(d.index, d.first_line, d.data, str(d.locate(("metadata",)))) for d in whole.documents] == [
        (index, line, data, where) for index, _, _, line, data, where in streamed
    ]
    assert inputs.issues == whole.issues
    assert [(i.kind, i.location.line) for i in inputs.issues] == [("duplicate-key", 1803), ("syntax", 2002)]
    assert [path.read_bytes()[start:end].decode() for _, start, end, *_ in streamed[:2]] == [
        text[whole.documents[0].start : whole.documents[0].end],
        text[whole.documents[1].start : whole.documents[1].end],
    ]


@pytest.mark.parametrize(
    "text",
    [
        "kind: A\r---\rkind: B\r",  # lone CR line breaks
        "kind: A\n...\n%YAML 1.1\n---\nkind: B\n",  # a directive
        "\ufeffkind: A\n---\nkind: B\n",  # a byte order mark
        "kind: A\u2028---\u2028kind: B\n",  # a line separator
        "kind: A\u2029---\u2029kind: B\n",  # a paragraph separator
        "kind: A\x85---\x85kind: B\n",  # a next-line character
        "kind: A # 100%\n%YAML 1.1\n---\nkind: B\n",  # a directive after a "%" elsewhere
    ],
)
def test_files_that_need_their_whole_text_are_read_whole(tmp_path: Path, text: str) -> None:
    path = tmp_path / "odd.yaml"
    path.write_bytes(text.encode())
    inputs = Inputs([str(path)], stream=True)
    documents = list(inputs)
    assert inputs.sources[0].path is None and inputs.sources[0].text
    expected = load_text(text, str(path))
    assert [d.data for d in documents] == [d.data for d in expected.documents]
    assert [str(d.locate(("kind",))) for d in documents] == [
        str(d.locate(("kind",))) for d in expected.documents
    ]


def test_a_file_reached_through_links_is_read_once(tmp_path: Path) -> None:
    """A link to a file, a link to its folder and the file itself, named and walked: one file."""
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.yaml").write_text("kind: X\n")
    links = tmp_path / "links"
    links.mkdir()
    (links / "a-link.yaml").symlink_to(real / "a.yaml")
    (tmp_path / "real-link").symlink_to(real)
    named = [str(links), str(tmp_path / "real-link"), str(tmp_path / "real-link" / "a.yaml"), str(real)]
    result = load_paths(named)
    assert [d.source.name for d in result.documents] == [str(links / "a-link.yaml")]
    (links / "b.yaml").write_text("kind: Y\n")  # a file of its own beside the link
    assert [d.data["kind"] for d in load_paths(named).documents] == ["X", "Y"]


def test_text_with_the_marks_bytes_but_not_the_marks_is_streamed(tmp_path: Path) -> None:
    """Bytes the marks end with (0xa9 in "©" and "é", 0x85 in "ą", "%") but not the marks: streamed."""
    text = "kind: A\nnote: café © ą 100%\n---\nkind: B\n"
    path = tmp_path / "accents.yaml"
    path.write_bytes(text.encode())
    inputs = Inputs([str(path)], stream=True)
    documents = list(inputs)
    assert inputs.sources[0].path == path
    assert [(d.data, str(d.locate(("kind",)))) for d in documents] == [
        (d.data, str(d.locate(("kind",)))) for d in load_text(text, str(path)).documents
    ]


def test_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("kind: X\n")
    result = load_paths([str(tmp_path / "a.yaml"), str(tmp_path), str(tmp_path / "." / "a.yaml")])
    assert len(result.documents) == 1


def test_the_pure_python_parser_reads_what_libyaml_reads(smi_spec_dir: Path) -> None:
    """Where PyYAML has no libyaml, its pure-Python parser takes over: the same data and the same located
    issues on real manifests (the spec's examples, the bundled ones, every rule case)."""
    from smi_conformance._yamlparse import parse_chunk
    from smi_conformance.manifests import _split

    texts = real_manifests(smi_spec_dir)
    compared = issues = 0
    for text in texts:
        for start, end in _split(text):
            fast, slow = (
                parse_chunk("x", text[start:end], 0),
                parse_chunk("x", text[start:end], 0, python=True),
            )
            assert fast[0] == slow[0], text[start:end]
            assert [(i.kind, i.location) for i in fast[1]] == [(i.kind, i.location) for i in slow[1]]
            compared += 1
            issues += len(fast[1])
    assert compared > 250 and issues >= 4  # syntax errors, duplicate keys and tags among them
