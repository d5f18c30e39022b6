"""Every SMI object in the spec's examples gets the verdict `_validation.tsv` and SPEC-NOTES imply.

The docs leave out apiVersion from some versions on; `_validation.tsv` names the version each document's doc
implies, and the test validates with that. Where the official CRD sets disagree, SPEC-NOTES decides (headers:
map or list; access v1alpha1 destination.port: optional). The docs' own mistakes are listed in DOC_BUGS with
the problems a strict model must report.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from spec_examples import DOC_BUGS, example_objects, read_documents

from smi_conformance import models

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


def _crd_columns(row: dict[str, str]) -> list[str]:
    return [v for k, v in row.items() if k.endswith("crds")]


def test_every_smi_object_in_the_examples_gets_its_implied_verdict(smi_spec_dir: Path) -> None:
    objects = example_objects(smi_spec_dir / "examples")
    assert len(objects) >= 90, "the reference table looks truncated"
    checked = 0
    for example in objects:
        doc, where = example.doc, example.where
        info = models.lookup(doc["apiVersion"], example.kind)
        assert info is not None, f"{doc['apiVersion']} {example.kind} is not recognised"
        problems = models.validate(doc)
        if example.key in DOC_BUGS:
            assert {(p.path, p.kind) for p in problems} == DOC_BUGS[example.key], where
            continue
        for verdict in _crd_columns(example.row):
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
    for example in example_objects(smi_spec_dir / "examples"):
        if example.version == "v1alpha5-draft":
            info = models.lookup(example.doc["apiVersion"], example.kind)
            assert info is not None and info.status == "experimental"


@pytest.mark.parametrize("version", ["v1alpha1", "v1alpha2"])
def test_metrics_examples_are_valid_in_both_metrics_versions(smi_spec_dir: Path, version: str) -> None:
    """The metrics doc (labelled v1alpha1) holds the v1alpha2 text; SPEC-NOTES: models for both accept it."""
    examples = smi_spec_dir / "examples"
    seen = set()
    for path in sorted(examples.glob("traffic-metrics-*.yaml")):
        try:
            documents = read_documents(path)
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
    examples = example_objects(smi_spec_dir / "examples")
    upgraded = refused = 0
    for example in examples:
        if example.key in DOC_BUGS:
            continue
        doc = example.doc
        info = models.lookup(doc["apiVersion"], example.kind)
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
    assert (refused, upgraded) == (4 + 4, len(examples) - len(DOC_BUGS) - 8)
