"""``smi convert``: converts what it is asked to, copies everything else byte for byte, never half-writes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from smi_conformance.manifests import load_text

from .helpers import smi

V1ALPHA1 = """\
# the canary, written for linkerd-smi
apiVersion: split.smi-spec.io/v1alpha1
kind: TrafficSplit
metadata:
  name: canary
spec:
  service: web
  backends:
  - service: web-v1
    weight: "1"
  - service: web-v2
    weight: 500m
"""
SERVICE = """\
# a Service: copied as is, comments and flow style included
apiVersion: v1
kind: Service
metadata: {name: web}
"""
TARGET_WITH_PORT = """\
apiVersion: access.smi-spec.io/v1alpha2
kind: TrafficTarget
metadata: {name: t}
spec:
  destination: {kind: ServiceAccount, name: api, port: 8080}
  rules: [{kind: TCPRoute, name: r}]
  sources: [{kind: ServiceAccount, name: web}]
"""


def test_converts_only_the_targeted_kind_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(V1ALPHA1 + "---\n" + SERVICE + "---\n" + TARGET_WITH_PORT)
    result = smi("convert", "--to", "split.smi-spec.io/v1alpha4", str(path))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("# the canary, written for linkerd-smi\napiVersion: split.smi-spec.io/v1alpha4\n")
    assert ("---\n" + SERVICE + "---\n" + TARGET_WITH_PORT) in out  # untouched documents, byte for byte
    split = next(yaml.safe_load_all(out))
    assert split["spec"]["backends"] == [
        {"service": "web-v1", "weight": 2},
        {"service": "web-v2", "weight": 1},
    ]
    assert path.read_text().startswith(V1ALPHA1)  # stdout only without --write


def test_converted_output_lints_without_the_superseded_finding(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(V1ALPHA1)
    before = smi("lint", "--format", "json", str(path)).stdout
    assert "smi convert --to split.smi-spec.io/v1alpha4" in before
    assert smi("convert", "--to", "split.smi-spec.io/v1alpha4", "--write", str(path)).exit_code == 0
    after = smi("lint", "--format", "json", "--select", "SMI6", str(path))
    assert after.exit_code == 0 and '"findings": []' in after.stdout


def test_lossy_conversion_is_refused_with_a_location_and_nothing_is_written(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(V1ALPHA1)
    bad = tmp_path / "bad.yaml"
    bad.write_text(SERVICE + "---\n" + TARGET_WITH_PORT)
    result = smi(
        "convert", "--to", "access.smi-spec.io/v1alpha3", "--to", "split.smi-spec.io/v1alpha4", "--write",
        str(good), str(bad),
    )  # fmt: skip
    assert result.exit_code == 1
    line = TARGET_WITH_PORT.count("\n", 0, TARGET_WITH_PORT.index("port:")) + SERVICE.count("\n") + 2
    assert f"{bad}:{line}:" in result.stderr and "port" in result.stderr
    assert "nothing written" in result.stderr
    assert good.read_text() == V1ALPHA1 and bad.read_text() == SERVICE + "---\n" + TARGET_WITH_PORT


def test_list_members_are_converted_in_place(tmp_path: Path) -> None:
    items = yaml.safe_load(V1ALPHA1)
    path = tmp_path / "list.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [items]}))
    result = smi("convert", "--to", "v1alpha4", str(path))
    assert result.exit_code == 0, result.output
    (doc,) = load_text(result.stdout).documents
    assert doc.data["apiVersion"] == "split.smi-spec.io/v1alpha4" and doc.parent["kind"] == "List"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--to", "split.smi-spec.io/v1alpha4", "--write", "-"], "cannot rewrite stdin"),
        (["--to", "split.smi-spec.io/v1alpha4", "missing.yaml"], "no such file"),
        (["--to", "v9", "app.yaml"], "unknown --to 'v9'"),
        (["--to", "split.smi-spec.io/v1alpha4", "--to", "split.example.com/v1", "app.yaml"], "known: access"),
        (["--to", "v1alpha4", "empty.yaml"], "no YAML or JSON documents in empty.yaml"),
    ],
)
def test_usage_errors(args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.yaml").write_text(V1ALPHA1)
    (tmp_path / "empty.yaml").write_text("# nothing here\n")
    result = smi("convert", *args)
    assert result.exit_code == 2 and message in result.stderr
    assert (tmp_path / "app.yaml").read_text() == V1ALPHA1


def test_unparseable_input_is_reported_and_not_converted(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(V1ALPHA1 + "---\nkind: [\n")
    result = smi("convert", "--to", "split.smi-spec.io/v1alpha4", "--write", str(path))
    assert result.exit_code == 2
    assert f"{path}:15:1: error: YAML syntax error" in result.stderr
    assert path.read_text() == V1ALPHA1 + "---\nkind: [\n"


def test_stdin_to_stdout() -> None:
    result = smi("convert", "--to", "split.smi-spec.io/v1alpha4", "-", input=V1ALPHA1)
    assert result.exit_code == 0
    assert "weight: 2" in result.stdout and "split.smi-spec.io/v1alpha4" in result.stdout
