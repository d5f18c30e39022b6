"""The compiled YAML reader (native/) against the Python path (libyaml's nodes + _Builder): for every document
it reads, the same data (types included) and no issue the Python path would have reported; every document it
declines has something only the Python path handles (an issue, an anchor, a tag, a merge key...)."""

from __future__ import annotations

import json
import math
import os
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smi_conformance import _yamlparse
from smi_conformance._yamlparse import NativeReader, compose_marks, find, parse_chunk, parse_chunk_tree
from smi_conformance.manifests import _split
from tests.conftest import missing_input

from .helpers import json_report_in_a_process, only_json_types, real_manifests, rule_case_inputs

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def native() -> NativeReader:
    if _yamlparse.NATIVE is None:
        missing_input("the compiled YAML reader is not installed (make setup builds it when cargo is there)")
    assert _yamlparse.NATIVE is not None
    return _yamlparse.NATIVE


def same(a: Any, b: Any) -> bool:
    """Equal with types: ``1``, ``1.0`` and ``True`` differ, NaN equals NaN, key order counts."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def depth(data: Any) -> int:
    if isinstance(data, dict):
        return 1 + max((depth(v) for v in data.values()), default=0)
    if isinstance(data, list):
        return 1 + max((depth(v) for v in data), default=0)
    return 0


def compare(reader: NativeReader, chunk: str) -> bool:
    """Check one document both ways; True if the compiled reader read it."""
    read = reader.document(chunk)
    data, issues, _, json_typed = parse_chunk_tree("x", chunk, 0, native=False)
    assert not json_typed  # said only by the compiled reader
    if read is not None:
        assert not issues, (chunk, issues)
        assert same(read[0], data), (chunk, read[0], data)
        assert read[1] is only_json_types(data), (chunk, read[1])
        return True
    # Declined: only for what the Python path alone handles.
    marks = any(mark in chunk for mark in ("&", "*", "!", "%", "<<"))
    assert issues or marks or documents(chunk) > 1 or depth(data) >= 150, chunk
    return False


def documents(text: str) -> int:
    """How many documents libyaml finds in ``text`` (0 if it cannot parse it)."""
    try:
        events = list(yaml.parse(text, Loader=yaml.CSafeLoader))
    except yaml.YAMLError:
        return 0
    return sum(isinstance(event, yaml.DocumentStartEvent) for event in events)


# YAML 1.1 plain scalars that are not strings, or look like it (what Kubernetes' reader types): each is read
# unquoted, so the value comes from _yamlparse.plain_value on both paths.
PLAIN = [
    "yes", "No", "ON", "off", "y", "n", "Y", "true", "False", "TRUE", "~", "null", "Null", "NULL", "",
    "0x1F", "0o17", "017", "0b101", "1_000", "1:30", "190:20:30", "-1:30", "09", "0", "-0", "+1", "00",
    ".inf", "-.Inf", "+.INF", ".nan", ".NaN", "1e3", "1.5e3", "1.0e+3", "6.8523015e+5", "685.230_15e+03",
    "2001-12-14", "2001-12-14t21:59:43.10-05:00", "=", "1.", ".5", "-.5", "1_", "0x", "1" * 30, "9" * 4400,
    "web-v2", "héllo", "a b", "8080", "v1alpha4",
]  # fmt: skip


@pytest.mark.parametrize("text", PLAIN)
def test_plain_scalars_are_typed_alike(native: NativeReader, text: str) -> None:
    assert compare(native, f"value: {text}\nlist: [{text}]\nnested:\n  - {text}\n")


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",  # anchors and aliases
        "a: !!str 1\n",  # tags
        "a: !custom x\n",
        "!!map {a: 1}\n",
        "<<: {a: 1}\nb: 2\n",  # a merge key
        "a: 1\na: 2\n",  # a duplicate key
        "? [a]\n: b\n",  # a collection as a key
        "? {a: 1}\n: b\n",
        "a: [1, 2\n",  # a syntax error
        "a:\tb\n\tc: d\n",
        "%YAML 1.1\n---\na: 1\n",  # a directive
        "a: 1\n--- \nb: 2\n",  # two documents
        "a: " + "[" * 160 + "]" * 160 + "\n",  # nested too deep to build here
    ],
)
def test_what_the_python_path_handles_is_declined(native: NativeReader, text: str) -> None:
    assert native.document(text) is None
    assert not compare(native, text)


@pytest.mark.parametrize(
    ("text", "data"),
    [
        ('"<<": {a: 1}\n', {"<<": {"a": 1}}),  # a quoted "<<" is a plain key
        ("'1': a\n2: b\n~: c\n", {"1": "a", "2": "b", "~": "c"}),  # keys are their text
        ("a: |\n  x\n  y\nb: >-\n  p\n  q\n", {"a": "x\ny\n", "b": "p q"}),
        ("a: 'yes'\nb: \"1\"\n", {"a": "yes", "b": "1"}),
        ("", None),  # comments only, or nothing
        ("# only a comment\n", None),
        ("---\n", None),
        ("[]\n", []),
    ],
)
def test_documents_read_here(native: NativeReader, text: str, data: Any) -> None:
    read = native.document(text)
    assert read is not None and same(read[0], data)
    assert compare(native, text)


@pytest.mark.parametrize(
    ("text", "json_typed"),
    [
        ("a: [x, 'y', true, ~, -9223372036854775808, 9223372036854775807]\n", True),
        ("a: 9223372036854775808\n", False),  # past 64 bits
        ("a: 1.5\n", False),
        ("a: 1.0e+3\n", False),  # a float in YAML 1.1 (1e3 is a string there)
        ("a: .inf\n", False),
        ("a: '1.5'\nb: |\n  2.5\n", True),  # quoted and block scalars are strings
        ("1.5: a\n", True),  # keys are their text
        ("", True),
    ],
)
def test_the_json_typed_flag(native: NativeReader, text: str, json_typed: bool) -> None:
    read = native.document(text)
    assert read is not None and read[1] is json_typed
    assert compare(native, text)


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.sampled_from(PLAIN)
    | st.text(alphabet=string.digits + "._:+-eExXoObB ~", max_size=8)
    | st.text(max_size=12)
)
keys = st.sampled_from(
    ["apiVersion", "kind", "metadata", "spec", "<<", "=", "~", "1", "yes", "a b"]
) | st.text(max_size=8)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=30,
)


@SETTINGS
@given(values, st.data())
def test_dumped_documents_read_alike(native: NativeReader, value: Any, data: st.DataObject) -> None:
    """Documents PyYAML writes in every style (block, flow, canonical with tags, folded long lines),
    sometimes damaged at a random place, read alike both ways."""
    text = yaml.safe_dump(
        value,
        default_flow_style=data.draw(st.sampled_from([False, True, None])),
        canonical=data.draw(st.booleans()) and data.draw(st.booleans()),
        allow_unicode=data.draw(st.booleans()),
        width=data.draw(st.sampled_from([20, 80])),
        explicit_start=data.draw(st.booleans()),
    )
    if data.draw(st.integers(0, 3)) == 0:
        at = data.draw(st.integers(0, len(text)))
        text = text[:at] + data.draw(st.text(alphabet=string.printable + "\t\x85é", max_size=4)) + text[at:]
    compare(native, text)


@SETTINGS
@given(st.lists(st.tuples(keys, st.text(alphabet=string.printable, max_size=10)), max_size=6))
def test_hand_written_plain_text_reads_alike(native: NativeReader, pairs: list[tuple[str, str]]) -> None:
    """Unquoted text as people type it (``key: value`` lines, whatever the value holds)."""
    compare(native, "".join(f"{json.dumps(k)}: {v}\n" for k, v in pairs))


def test_real_manifests_are_read_here_and_alike(native: NativeReader, smi_spec_dir: Path) -> None:
    """The spec's examples, the bundled ones and every rule case: nearly all read by the compiled reader,
    with the Python path's data."""
    read = declined = 0
    for text in real_manifests(smi_spec_dir):
        for start, end in _split(text):
            if compare(native, text[start:end]):
                read += 1
            else:
                declined += 1
    assert read > 250 and declined < read / 20, (read, declined)


def test_smi_lint_reports_the_same_either_way(native: NativeReader, tmp_path: Path) -> None:
    """Whole runs, with and without the compiled reader (SMI_YAML_NATIVE=0): the same report, located
    findings included, on every rule case's input (errors, anchors, tags and duplicates among them)."""
    inputs = rule_case_inputs()
    target = tmp_path / "cases.yaml"
    target.write_text("\n---\n".join(inputs))
    reports = {switch: json_report_in_a_process(target, SMI_YAML_NATIVE=switch) for switch in ("1", "0")}
    assert reports["1"] == reports["0"]
    assert len(reports["1"]["findings"]) > 100


def test_the_switch_leaves_the_compiled_reader_out(native: NativeReader) -> None:
    probe = "import smi_conformance._yamlparse as y; print(y.NATIVE is None)"
    for switch, left_out in (("0", "True"), ("1", "False")):
        env = {**os.environ, "SMI_YAML_NATIVE": switch}
        out = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
        )
        assert out.stdout.strip() == left_out


def paths_in(data: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every node path of ``data``, and beside each a step that leads nowhere."""
    found = [prefix, (*prefix, "nowhere"), (*prefix, 7)]
    if isinstance(data, dict):
        for key, value in data.items():
            found += paths_in(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += paths_in(value, (*prefix, index))
    return found


def compare_locations(text: str) -> int:
    """Locate every path of ``text``'s data both ways (the compiled ``locate`` on the text, ``walk`` on
    ``compose_marks``' tree); how many the compiled one located. (Callers take the ``native`` fixture:
    ``locate`` comes with the reader.)"""
    locate = _yamlparse.NATIVE_LOCATE
    assert locate is not None
    tree = compose_marks(text)
    data, _ = parse_chunk("x", text, 0)
    located = 0
    for path in paths_in(data):
        native = locate(text, list(path))
        if native is None:  # declined: only what compose_marks alone handles
            assert tree is None or "*" in text, (text, path)
            continue
        assert native == find(tree, path), (text, path)
        located += 1
    return located


@SETTINGS
@given(values, st.data())
def test_nodes_are_located_alike(native: NativeReader, value: Any, data: st.DataObject) -> None:
    text = yaml.safe_dump(
        value,
        default_flow_style=data.draw(st.sampled_from([False, True, None])),
        allow_unicode=data.draw(st.booleans()),
        width=data.draw(st.sampled_from([20, 80])),
    )
    if data.draw(st.booleans()):  # the same key twice, anywhere a line starts
        lines = text.splitlines(keepends=True)
        at = data.draw(st.integers(0, len(lines)))
        lines[at:at] = lines[at - 1 : at] if at else []
        text = "".join(lines)
    compare_locations(text)


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: {c: [x, {d: é}]}\na: 2\n",  # the last duplicate wins, as in the data
        "ünï: [ä, 'ö', \"ü\"]\n  # comment\nnext:\n  - |\n    block\n    text\n  - >\n    folded\n",
        "a: &x {b: 1}\nc: *x\n",  # an alias: declined, compose_marks shares the anchored node
        "a: [1\n",  # a syntax error: no tree either way
        "? [k]\n: v\nw: 1\n",  # a collection as a key is never matched by a path
    ],
)
def test_hand_written_documents_are_located_alike(native: NativeReader, text: str) -> None:
    compare_locations(text)


def test_documents_located_in_turn_are_not_mixed_up(native: NativeReader) -> None:
    """``locate`` keeps the last document's tree (a document's findings are located one after another):
    another document, even one of the same length, is read anew, and the first one again after it."""
    locate = _yamlparse.NATIVE_LOCATE
    assert locate is not None
    texts = ["a: 1\nb: [x, y]\n", "b: [x, y]\na: 1\n", "a: 2\nb: [x, y]\n", "a:\n  - 1\nb: z\n"]
    expected = {
        (text, path): find(compose_marks(text), path) for text in texts for path in [("a",), ("b", 1)]
    }
    for text, path in [*expected, *reversed(expected), *expected]:
        assert locate(text, list(path)) == expected[text, path], (text, path)


THREADS = """
import sys, threading
from smi_conformance._yamlparse import NATIVE, NATIVE_LOCATE, compose_marks, find
sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
wrong = []

def read(worker):
    for n in range(300):  # scalars never seen before: every one goes through plain_value
        text = f"name: w{worker}-{n}\\nport: {worker * 1000 + n}\\nitems: [{n}.5, x{n}y{worker}]\\n"
        expected = {"name": f"w{worker}-{n}", "port": worker * 1000 + n, "items": [n + 0.5, f"x{n}y{worker}"]}
        read = NATIVE.document(text)
        if read is None or read[0] != expected or type(read[0]["port"]) is not int:
            wrong.append((worker, n, read))
        located = NATIVE_LOCATE(text, ["items", 1])  # the last tree is kept: not another thread's
        if located != find(compose_marks(text), ("items", 1)):
            wrong.append((worker, n, located))

workers = [threading.Thread(target=read, args=(w,)) for w in range(4)]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
print(len(wrong), wrong[:3])
"""


def test_threads_reading_at_once_neither_wait_nor_mix(native: NativeReader) -> None:
    """A reader shared by threads: each call runs Python (``plain_value``) while it holds the reader's
    cache, and the interpreter may switch threads then; the other thread must not wait for that cache
    (it would wait holding the interpreter: a deadlock, so this runs in a process of its own) and each
    must get its own document's data, and its own document's locations (``locate`` keeps a tree)."""
    try:
        run = subprocess.run(
            [sys.executable, "-c", THREADS], capture_output=True, text=True, timeout=120, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail("threads reading at once never finished: a deadlock")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split(" ", 1)[0] == "0", run.stdout
