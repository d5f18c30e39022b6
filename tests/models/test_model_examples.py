"""Every SMI object in the spec's examples gets the verdict `_validation.tsv` and SPEC-NOTES imply.

The docs leave out apiVersion from some versions on; `_validation.tsv` names the version each document's doc
implies, and the test validates with that. Where the official CRD sets disagree, SPEC-NOTES decides (headers:
map or list; access v1alpha1 destination.port: optional). The docs' own mistakes are listed in DOC_BUGS with
the problems a strict model must report.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import yaml

from smi_conformance import models

GROUPS = {
    "TrafficSplit": "split.smi-spec.io",
    "TrafficTarget": "access.smi-spec.io",
    "IdentityBinding": "access.smi-spec.io",
    "HTTPRouteGroup": "specs.smi-spec.io",
    "TCPRoute": "specs.smi-spec.io",
    "UDPRoute": "specs.smi-spec.io",
    "TrafficMetrics": "metrics.smi-spec.io",
    "TrafficMetricsList": "metrics.smi-spec.io",
}

# (file, document number): the problems a strict model reports. All three are the same doc bug: the split docs
# of v1alpha3, v1alpha4 and the v1alpha5 draft show an HTTPRouteGroup in the v1alpha1/v1alpha2 layout
# (top-level `matches`, no `spec`). An API server would prune the unknown `matches` and store a group that
# matches nothing.
_NO_SPEC = {(("spec",), "missing-field"), (("matches",), "unknown-field")}
DOC_BUGS: dict[tuple[str, int], set[tuple[tuple[str | int, ...], str]]] = {
    ("traffic-split-v1alpha3-2.yaml", 2): _NO_SPEC,
    ("traffic-split-v1alpha4-2.yaml", 2): _NO_SPEC,
    ("traffic-split-v1alpha5-draft-2.yaml", 2): _NO_SPEC,
}

# Reasons an official CRD set rejects an example that SPEC-NOTES resolves in the document's favour (every part
# of a reason must appear; the table truncates long messages).
RESOLVED_DISAGREEMENTS = (
    (
        "headers: {",
        "is not of type 'a",
    ),  # headers as a map (sdk-go wants a list): SPEC-NOTES accepts both forms
    (
        "destination: 'port' is a required property",
    ),  # access v1alpha1 destination.port: optional per the docs
)


def _documents(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [d for d in yaml.load_all(handle, Loader=yaml.CSafeLoader) if d is not None]


def _validation_rows(examples: Path) -> list[dict[str, str]]:
    with (examples / "_validation.tsv").open(encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle, delimiter="\t") if row["doc_in_file"] != "-"]


def _crd_columns(row: dict[str, str]) -> list[str]:
    return [v for k, v in row.items() if k.endswith("crds")]


def test_every_smi_object_in_the_examples_gets_its_implied_verdict(smi_spec_dir: Path) -> None:
    examples = smi_spec_dir / "examples"
    rows = _validation_rows(examples)
    assert len(rows) >= 90, "the reference table looks truncated"
    checked = 0
    for row in rows:
        number_text, kind = row["doc_in_file"].split()
        number = int(number_text.lstrip("#"))
        doc = dict(_documents(examples / row["file"])[number - 1])
        assert doc["kind"] == kind
        doc["apiVersion"] = f"{GROUPS[kind]}/{row['version_assumed']}"
        info = models.lookup(doc["apiVersion"], kind)
        assert info is not None, f"{doc['apiVersion']} {kind} is not recognised"
        problems = models.validate(doc)
        key = (row["file"], number)
        where = f"{row['file']} #{number} {kind} {row['version_assumed']}"
        if key in DOC_BUGS:
            assert {(p.path, p.kind) for p in problems} == DOC_BUGS[key], where
            continue
        for verdict in _crd_columns(row):
            if not verdict.startswith("INVALID"):
                continue
            for reason in verdict.removeprefix("INVALID: ").split("; "):
                assert any(all(part in reason for part in known) for known in RESOLVED_DISAGREEMENTS), (
                    f"{where}: an official CRD set rejects it for a reason SPEC-NOTES does not resolve: "
                    f"{reason}"
                )
        assert problems == [], f"{where}: {[str(p) for p in problems]}"
        models.load(doc)  # and it loads into its typed model
        checked += 1
    assert checked >= 90


def test_draft_examples_are_recognised_as_experimental(smi_spec_dir: Path) -> None:
    for row in _validation_rows(smi_spec_dir / "examples"):
        if row["version_assumed"] == "v1alpha5-draft":
            kind = row["doc_in_file"].split()[1]
            info = models.lookup(f"{GROUPS[kind]}/v1alpha5-draft", kind)
            assert info is not None and info.status == "experimental"


@pytest.mark.parametrize("version", ["v1alpha1", "v1alpha2"])
def test_metrics_examples_are_valid_in_both_metrics_versions(smi_spec_dir: Path, version: str) -> None:
    """The metrics doc (labelled v1alpha1) holds the v1alpha2 text; SPEC-NOTES: models for both accept it."""
    examples = smi_spec_dir / "examples"
    seen = set()
    for path in sorted(examples.glob("traffic-metrics-*.yaml")):
        try:
            documents = _documents(path)
        except yaml.YAMLError:
            continue  # the APIResourceList fragment with an elision: not an SMI object
        for doc in documents:
            if doc.get("kind") not in ("TrafficMetrics", "TrafficMetricsList"):
                continue  # fragments without kind, APIService, Role
            doc = {**doc, "apiVersion": f"metrics.smi-spec.io/{version}"}
            assert models.validate(doc) == [], f"{path.name}: {[str(p) for p in models.validate(doc)]}"
            seen.add((path.name, doc["kind"]))
    assert {kind for _, kind in seen} == {"TrafficMetrics", "TrafficMetricsList"}
    assert len(seen) == 5


def test_every_valid_example_upgrades_to_its_latest_version_unless_it_uses_a_dropped_port(
    smi_spec_dir: Path,
) -> None:
    """`smi convert` on the spec's own examples. Two kinds of refusal only: access v1alpha1/v1alpha2 targets
    with a destination port (v1alpha3 moved ports to TCPRoute), and experimental v1alpha4 targets with
    IdentityBinding subjects (v1alpha3 only knows ServiceAccounts); each says so at the offending field."""
    examples = smi_spec_dir / "examples"
    upgraded = refused = 0
    for row in _validation_rows(examples):
        number_text, kind = row["doc_in_file"].split()
        number = int(number_text.lstrip("#"))
        if (row["file"], number) in DOC_BUGS:
            continue
        doc = dict(_documents(examples / row["file"])[number - 1])
        doc["apiVersion"] = f"{GROUPS[kind]}/{row['version_assumed']}"
        info = models.lookup(doc["apiVersion"], kind)
        assert info is not None
        try:
            out = models.convert(doc, info.latest)
        except models.ConversionError as error:
            fields = {p.path[-1] for p in error.problems}
            assert info.kind == "TrafficTarget", [str(p) for p in error.problems]
            assert fields == ({"port"} if info.version in ("v1alpha1", "v1alpha2") else {"kind"})
            refused += 1
            continue
        assert out["apiVersion"] == info.latest and models.validate(out) == []
        upgraded += 1
    assert (refused, upgraded) == (4 + 4, len(_validation_rows(examples)) - len(DOC_BUGS) - 8)
