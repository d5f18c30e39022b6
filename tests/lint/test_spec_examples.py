"""Every example of the SMI spec docs gets the verdict that _validation.tsv and SPEC-NOTES imply.

The expected verdict of each document is derived, not hard-coded:
- a file that does not parse (``yaml-error``) gets a located syntax finding;
- drafts no CRD set has a schema for are recognised and flagged as experimental (SPEC-NOTES, "Versions");
- otherwise the linter reports a schema error exactly when no official CRD set takes the document *as
  written* (its schema validates it and prunes nothing: our models are strict about unknown fields), except
  for the documented differences in ``ACCEPTED_BEYOND_CRDS``; and for documents it accepts, the portability
  rules SMI701/SMI702 fire exactly when that CRD set would reject, not serve, or prune the document.
The CRD verdicts come from the CRD files (``spec_data.crd_rejections``), cross-checked with the tsv.
"""

from __future__ import annotations

import collections
import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from smi_conformance.lint import LintConfig, Severity, lint
from smi_conformance.manifests import load_text

from . import spec_data as sd

#: Where this project accepts more than both CRD sets, on purpose: (kind, version, pruned path) -> reason.
ACCEPTED_BEYOND_CRDS = {
    (
        "TrafficTarget",
        "v1alpha4",
        ".spec.destination.group",
    ): "the v1alpha4 doc's own examples name the subject's "
    "API group; the models accept it, and SMI702 tells that the controller-sdk CRDs would drop it",
    ("TrafficTarget", "v1alpha4", ".spec.sources[].group"): "as above, for sources",
}


def _examples(spec_dir: Path) -> dict[str, list[sd.Verdict]]:
    by_file: dict[str, list[sd.Verdict]] = collections.defaultdict(list)
    for row in sd.verdicts(spec_dir):
        by_file[row.file].append(row)
    return dict(by_file)


def _normalise(path: str) -> str:
    return re.sub(r"\[\d+\]", "[]", path)


def _document_findings(text: str, findings: list[Any]) -> tuple[list[list[Any]], list[Any]]:
    """Findings per SMI document of ``text`` (by line range), in document order."""
    docs = [
        d
        for d in load_text(text).documents
        if isinstance(d.data, dict) and d.data.get("kind") in sd.GROUP_OF_KIND
    ]
    starts = [d.first_line + 1 for d in docs] + [10**9]
    return [
        [f for f in findings if starts[i] <= f.location.line < starts[i + 1]] for i in range(len(docs))
    ], docs


def test_every_example(smi_spec_dir: Path, tmp_path: Path) -> None:
    checked = 0
    for file, rows in sorted(_examples(smi_spec_dir).items()):
        text = (smi_spec_dir / "examples" / file).read_text()
        versions = {r.index: (r.kind, r.version) for r in rows if r.index}
        manifest = tmp_path / file
        manifest.write_text(sd.with_api_versions(text, versions))
        result = lint([str(manifest)], LintConfig(root=tmp_path))
        if any(r.by_set[s] == "yaml-error" for r in rows for s in sd.CRD_SETS):
            assert [f.code for f in result.findings] == ["SMI001"], file
            checked += 1
            continue
        per_doc, docs = _document_findings(manifest.read_text(), result.findings)
        for row in rows:
            _check_document(file, row, docs[row.index - 1].data, per_doc[row.index - 1], smi_spec_dir)
            checked += 1
    assert checked == len(sd.verdicts(smi_spec_dir))


def _check_document(
    file: str, row: sd.Verdict, doc: dict[str, Any], findings: list[Any], spec_dir: Path
) -> None:
    where = f"{file} #{row.index} {row.kind} {row.version}: " + "; ".join(
        f"{f.code} {f.message}" for f in findings
    )
    codes = {f.code for f in findings}
    errors = {f.code for f in findings if f.severity is Severity.ERROR and f.code[:4] in ("SMI0", "SMI1")}
    assert "SMI106" not in codes, where  # every kind and version of the docs is recognised
    with_schema = [s for s in sd.CRD_SETS if row.by_set[s] != "no-schema"]
    if not with_schema:
        assert "SMI602" in codes, where  # drafts: recognised and flagged, never required
        return
    rejections = {s: sd.crd_rejections(spec_dir / "crds" / s, doc) for s in sd.CRD_SETS}
    for s in with_schema:  # the validator used here agrees with the tsv
        assert row.by_set[s].startswith("INVALID") == any(p.startswith("invalid") for p in rejections[s]), (
            s,
            where,
        )

    def takes_as_written(s: str) -> bool:
        left = [p for p in rejections[s] if p != "not served"]
        left = [p for p in left if (row.kind, row.version, _normalise(p.removeprefix("pruned: "))) not in
                ACCEPTED_BEYOND_CRDS]  # fmt: skip
        return not left

    expect_error = not any(takes_as_written(s) for s in with_schema)
    assert bool(errors) == expect_error, where
    if not expect_error:
        assert ("SMI701" in codes) == bool(rejections["smi-sdk-go"]), where
        assert ("SMI702" in codes) == bool(rejections["smi-controller-sdk"]), where


def test_examples_as_published_name_their_missing_api_versions(smi_spec_dir: Path, tmp_path: Path) -> None:
    """Without the version the docs imply, an SMI document is reported (SMI010), never silently skipped."""
    for file, rows in sorted(_examples(smi_spec_dir).items()):
        if not all(r.index for r in rows):
            continue
        path = smi_spec_dir / "examples" / file
        result = lint([str(path)], LintConfig(root=tmp_path))
        per_doc, docs = _document_findings(path.read_text(), result.findings)
        for row, doc, found in zip(rows, docs, per_doc, strict=True):
            api_version = doc.data.get("apiVersion")
            if not isinstance(api_version, str) or "/" not in api_version:
                assert "SMI010" in {f.code for f in found}, (file, row.index)


@pytest.mark.parametrize("crd_set", sd.CRD_SETS)
def test_portability_rules_agree_with_the_crds_on_variants(
    smi_spec_dir: Path, tmp_path: Path, crd_set: str
) -> None:
    """Beyond the examples: header forms swapped, ports and fields added or removed; whenever the models
    accept a variant, the portability rule fires exactly when the CRD set rejects, does not serve, or prunes
    it."""
    code = {"smi-sdk-go": "SMI701", "smi-controller-sdk": "SMI702"}[crd_set]
    compared = 0
    for file, rows in sorted(_examples(smi_spec_dir).items()):
        if not all(r.index for r in rows):
            continue
        text = sd.with_api_versions(
            (smi_spec_dir / "examples" / file).read_text(), {r.index: (r.kind, r.version) for r in rows}
        )
        for doc in load_text(text).documents:
            if doc.data.get("kind") not in sd.GROUP_OF_KIND or "v1alpha5" in str(doc.data.get("apiVersion")):
                continue
            for variant in _variants(doc.data):
                path = tmp_path / "variant.yaml"
                path.write_text(yaml.safe_dump(variant, sort_keys=False))
                findings = lint([str(path)], LintConfig(root=tmp_path)).findings
                if any(f.code[:4] in ("SMI0", "SMI1") for f in findings):
                    continue  # the models reject the variant: portability is not reported
                rejected = bool(sd.crd_rejections(smi_spec_dir / "crds" / crd_set, variant))
                assert (code in {f.code for f in findings}) == rejected, (file, variant, findings)
                compared += 1
    assert compared > 100


def _variants(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out = [doc]
    kind, version = doc["kind"], doc["apiVersion"].rpartition("/")[2]
    body = doc.get("spec", doc) if isinstance(doc.get("spec"), dict) else doc
    if kind == "HTTPRouteGroup":
        for form in ("map", "list"):
            v = copy.deepcopy(doc)
            vbody = v.get("spec", v) if isinstance(v.get("spec"), dict) else v
            for match in vbody.get("matches", []):
                if form == "map":
                    match["headers"] = {"x-user": "beta.*"}
                else:
                    match["headers"] = [{"x-user": "beta.*"}]
                match.setdefault("methods", ["GET"])
            out.append(v)
    if kind == "TrafficTarget":
        destination = body.get("destination")
        if isinstance(destination, dict):
            v = copy.deepcopy(doc)
            vdest = (v.get("spec", v) if isinstance(v.get("spec"), dict) else v)["destination"]
            if "port" in vdest:
                del vdest["port"]
            else:
                vdest["port"] = 8080
            out.append(v)
    if kind == "TrafficSplit" and version in ("v1alpha3", "v1alpha4"):
        v = copy.deepcopy(doc)
        v["spec"]["matches"] = [{"kind": "HTTPRouteGroup", "name": "g", "apiGroup": "specs.smi-spec.io"}]
        out.append(v)
        v = copy.deepcopy(doc)
        v["spec"]["matches"] = [{"kind": "HTTPRouteGroup", "name": "g"}]
        out.append(v)
    if kind in ("TCPRoute", "UDPRoute") and version == "v1alpha4":
        v = copy.deepcopy(doc)
        v["spec"] = {"matches": {"name": "db", "ports": [5432]}}
        out.append(v)
        v = copy.deepcopy(doc)
        v["spec"] = {"matches": {"ports": []}}
        out.append(v)
    return out
