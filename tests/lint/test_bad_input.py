"""Hostile and broken inputs: each yields a located finding, in bounded time and memory, never a traceback.

Time is bounded by pytest-timeout (generous, for a loaded machine), not by timing assertions.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .helpers import CLEAN, findings, smi, write

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _only(found: list[dict[str, object]], code: str) -> dict[str, object]:
    hits = [f for f in found if f["code"] == code]
    assert hits, found
    return hits[0]


def test_alias_bomb(tmp_path: Path) -> None:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 12)]  # 10^12 nodes expanded
    write(
        tmp_path, "bomb.yaml", "apiVersion: v1\nkind: ConfigMap\ndata:\n" + "\n".join("  " + x for x in lines)
    )
    code, found = findings("bomb.yaml")
    assert code == 1
    bomb = _only(found, "SMI006")
    assert (bomb["line"], bomb["column"]) == (1, 1) and "alias" in str(bomb["message"])


def test_modest_aliases_are_fine(tmp_path: Path) -> None:
    text = CLEAN + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: &x hello, b: *x}\n"
    assert findings(str(write(tmp_path, "a.yaml", text)))[1] == []


@pytest.mark.parametrize("style", ["flow", "block", "json"])
def test_ten_thousand_levels_of_nesting(tmp_path: Path, style: str) -> None:
    depth = 10_000
    if style == "flow":
        text = "a: " + "[" * depth + "]" * depth + "\n"
    elif style == "block":
        text = "- " * depth + "x\n"
    else:
        text = "[" * depth + "]" * depth
    name = "deep.json" if style == "json" else "deep.yaml"
    code, found = findings(str(write(tmp_path, name, text)))
    assert code == 1
    assert found[0]["code"] in ("SMI001", "SMI006") and found[0]["line"] >= 1


def test_nesting_just_past_the_limit_is_located_where_it_happens(tmp_path: Path) -> None:
    text = "apiVersion: v1\nkind: ConfigMap\ndata:\n  x: " + "[" * 250 + "]" * 250 + "\n"
    _, found = findings(str(write(tmp_path, "deep.yaml", text)))
    deep = _only(found, "SMI006")
    assert (deep["line"], deep["column"]) == (4, 204)


def test_fifty_megabyte_file(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as fh:
        line = b"- {apiVersion: v1, kind: ConfigMap, metadata: {name: filler}}\n"
        fh.write(line * (50 * 1024 * 1024 // len(line) + 1))
    assert path.stat().st_size > 50 * 1024 * 1024
    code, found = findings("huge.yaml", "--max-bytes", str(16 * 1024 * 1024))
    assert code == 1
    assert [(f["code"], f["line"], f["column"]) for f in found] == [("SMI005", 1, 1)]
    from_stdin = findings("-", input=path.read_bytes())[1]
    assert [(f["file"], f["code"]) for f in from_stdin] == [("<stdin>", "SMI005")]


def test_binary_file(tmp_path: Path) -> None:
    write(tmp_path, "image.yaml", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(2048))
    code, found = findings("image.yaml")
    assert code == 1
    assert [(f["code"], f["line"], f["column"]) for f in found] == [("SMI004", 3, 1)]


def test_latin1_bytes(tmp_path: Path) -> None:
    write(
        tmp_path, "latin1.yaml", "apiVersion: v1\nkind: ConfigMap\ndata:\n  city: Orléans\n".encode("latin-1")
    )
    code, found = findings("latin1.yaml")
    assert code == 1
    assert [(f["code"], f["line"], f["column"]) for f in found] == [("SMI003", 4, 12)]
    assert "0xe9" in str(found[0]["message"])


def test_utf16_with_bom_is_valid_yaml(tmp_path: Path) -> None:
    write(tmp_path, "utf16.yaml", CLEAN.encode("utf-16"))
    assert findings("utf16.yaml") == (0, [])


def test_duplicate_keys_yaml_and_json(tmp_path: Path) -> None:
    write(tmp_path, "dup.yaml", CLEAN.replace("  service: web\n", "  service: web\n  service: web\n"))
    dup = _only(findings("dup.yaml")[1], "SMI002")
    assert (dup["line"], dup["column"]) == (6, 3)
    doc = '{"apiVersion": "v1", "kind": "Service",\n "metadata": {"name": "a",\n   "name": "b"}}'
    write(tmp_path, "dup.json", doc)
    dup = _only(findings("dup.json")[1], "SMI002")
    assert (dup["line"], dup["column"]) == (3, 4)


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("apiVersion: v1\nkind: Service\nmetadata:\n\tname: web\n", 4, 1),  # a tab for indentation
        ("apiVersion: v1\nkind: Service\nmetadata: {name: web\n", 4, 1),  # unclosed flow mapping
        ('apiVersion: v1\nkind: "Service\n', 3, 1),  # unclosed quote
        ("apiVersion: v1\nkind: Service\nbad: \x07\n", 3, 6),  # a control character
        ("- a\nb: c\n", 2, 1),  # a sequence turning into a mapping
    ],
)
def test_malformed_yaml_is_located(tmp_path: Path, text: str, line: int, column: int) -> None:
    code, found = findings(str(write(tmp_path, "bad.yaml", text)))
    assert code == 1
    assert [(f["code"], f["line"], f["column"]) for f in found] == [("SMI001", line, column)]


def test_malformed_json_is_located(tmp_path: Path) -> None:
    _, found = findings(str(write(tmp_path, "bad.json", '{"apiVersion": "v1",\n  "kind": }')))
    assert [(f["code"], f["line"], f["column"]) for f in found] == [("SMI001", 2, 11)]


@pytest.mark.parametrize("name", ["huge.json", "huge.yaml", "-"])
def test_an_integer_of_five_thousand_digits_is_an_integer(tmp_path: Path, name: str) -> None:
    """Past Python's 4,300-digit conversion limit, a weight is still read (and reported) as an integer,
    from a file of either kind or from stdin; ``smi convert`` refuses it with a location."""
    weight = "1" * 5000
    text = (
        '{"apiVersion": "split.smi-spec.io/v1alpha4", "kind": "TrafficSplit", "metadata": {"name": "web"},\n'
        f' "spec": {{"service": "web", "backends": [{{"service": "web-v1", "weight": {weight}}}]}}}}\n'
    )
    if name != "-":
        write(tmp_path, name, text)
    code, found = findings(name, input=text if name == "-" else None)
    weights = [(f["code"], f["line"], f["column"], f["message"]) for f in found if f["code"] == "SMI104"]
    assert code == 1 and weights == [
        ("SMI104", 2, 74, "weight must be <= 9223372036854775807, got an integer of 5000 digits")
    ]
    result = smi("convert", "--to", "split.smi-spec.io/v1alpha2", name, input=text if name == "-" else None)
    assert result.exit_code == 1 and "Traceback" not in result.output  # 1: refused, nothing converted
    where = "<stdin>" if name == "-" else name
    assert f"{where}:2:74: TrafficSplit is not valid" in result.stderr and "5000 digits" in result.stderr


def test_locations_survive_crlf_and_bom(tmp_path: Path) -> None:
    text = "\ufeff# deploy\r\n" + (CLEAN.replace("weight: 90", "weight: -1")).replace("\n", "\r\n")
    write(tmp_path, "crlf.yaml", text.encode())
    found = findings("crlf.yaml")[1]
    assert [(f["code"], f["line"], f["column"]) for f in found] == [("SMI201", 8, 31)]


def test_unreadable_file_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    if os.geteuid() != 0:
        write(tmp_path, "secret.yaml", CLEAN).chmod(0)
        result = smi("lint", "secret.yaml")
        assert result.exit_code == 2 and "secret.yaml: Permission denied" in result.stderr
    # root reads every file, but not this one: reading it from offset 0 fails with EIO
    result = smi("lint", "/proc/self/mem")
    assert result.exit_code == 2 and "/proc/self/mem: Input/output error" in result.stderr


def test_json_output_stays_valid_with_hostile_text(tmp_path: Path) -> None:
    text = CLEAN.replace("name: web,", 'name: "we\\u0000b\\u202e\\"</x>",')
    _, found = findings(str(write(tmp_path, "odd.yaml", text)))
    assert json.dumps(found)  # serialisable; messages keep the odd characters escaped


def test_endless_device_is_cut_at_the_limit() -> None:
    _, found = findings("/dev/zero", "--max-bytes", "100000")
    assert [(f["code"], f["file"]) for f in found] == [("SMI005", "/dev/zero")]
