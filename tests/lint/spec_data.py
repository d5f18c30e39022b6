"""Reading the reference data in ../shared/smi-spec: example manifests with their verdicts, and the two
official CRD sets as validators (with Kubernetes' structural-schema semantics: validation plus pruning).

Nothing here is copied from the reference data; it is read at test time.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

GROUP_OF_KIND = {
    "TrafficSplit": "split.smi-spec.io",
    "TrafficTarget": "access.smi-spec.io",
    "IdentityBinding": "access.smi-spec.io",
    "HTTPRouteGroup": "specs.smi-spec.io",
    "TCPRoute": "specs.smi-spec.io",
    "UDPRoute": "specs.smi-spec.io",
    "TrafficMetrics": "metrics.smi-spec.io",
    "TrafficMetricsList": "metrics.smi-spec.io",
}
CRD_SETS = ("smi-sdk-go", "smi-controller-sdk")


@dataclass(frozen=True)
class Verdict:
    """One row of _validation.tsv: how each official CRD set judged one example document."""

    file: str
    index: int  # 1-based document number among the file's documents, "-" rows have 0
    kind: str
    version: str
    by_set: dict[str, str]  # "valid", "INVALID: ...", "no-schema", "yaml-error"


def verdicts(spec_dir: Path) -> list[Verdict]:
    rows = []
    with (spec_dir / "examples" / "_validation.tsv").open() as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        columns = reader.fieldnames or []
        set_columns = {s: next(c for c in columns if c.startswith(s)) for s in CRD_SETS}
        for row in reader:
            doc = row["doc_in_file"]
            index, kind = (0, "-") if doc == "-" else (int(doc.split()[0][1:]), doc.split()[1])
            rows.append(
                Verdict(
                    row["file"],
                    index,
                    kind,
                    row["version_assumed"],
                    {s: row[c] for s, c in set_columns.items()},
                )
            )
    return rows


def api_version(kind: str, version: str) -> str:
    """The apiVersion a document of the spec docs means (drafts are v1alpha5)."""
    return f"{GROUP_OF_KIND[kind]}/{version.replace('-draft', '')}"


def with_api_versions(text: str, versions: dict[int, tuple[str, str]]) -> str:
    """The example with ``apiVersion`` set where the docs leave it out (or leave out the group).

    ``versions`` maps the 1-based number of an SMI document to its (kind, version).
    """
    chunks = re.split(r"(?m)^(?=---\s*$)", text)
    out, number = [], 0
    for chunk in chunks:
        if re.search(r"(?m)^kind:", chunk):
            number += 1
            if number in versions:
                kind, version = versions[number]
                chunk = re.sub(r"(?m)^apiVersion:.*\n", "", chunk)
                chunk = re.sub(
                    r"(?m)^kind:", f"apiVersion: {api_version(kind, version)}\nkind:", chunk, count=1
                )
        out.append(chunk)
    return "".join(out)


@dataclass(frozen=True)
class CrdVersion:
    served: bool
    schema: dict[str, Any]


@cache
def crd_versions(crd_dir: Path) -> dict[tuple[str, str, str], CrdVersion]:
    """(group, kind, version) -> served flag and openAPIV3Schema, for one CRD set."""
    found = {}
    for path in sorted(crd_dir.glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd:
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                schema = version["schema"]["openAPIV3Schema"]
                found[(spec["group"], spec["names"]["kind"], version["name"])] = CrdVersion(
                    version["served"], schema
                )
    return found


def _jsonschema(schema: Any) -> Any:
    """OpenAPI v3 (Kubernetes flavour) -> JSON Schema draft 4: nullable and int-or-string."""
    if isinstance(schema, list):
        return [_jsonschema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {
        k: _jsonschema(v) for k, v in schema.items() if not k.startswith("x-kubernetes") and k != "nullable"
    }
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("pattern", None)
        out["anyOf"] = [
            {"type": "integer"},
            {"type": "string", **({"pattern": schema["pattern"]} if "pattern" in schema else {})},
        ]
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def _pruned(schema: dict[str, Any], value: Any, path: str, root: bool) -> list[str]:
    """Fields a structural schema would prune (unknown fields), as Kubernetes does on write."""
    out: list[str] = []
    if (isinstance(value, dict) and schema.get("type") == "object") or (
        isinstance(value, dict) and "properties" in schema
    ):
        if schema.get("x-kubernetes-preserve-unknown-fields") or "additionalProperties" in schema:
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict):
                for k, v in value.items():
                    out += _pruned(extra, v, f"{path}.{k}", False)
            return out
        props = schema.get("properties", {})
        for k, v in value.items():
            if root and k in ("apiVersion", "kind", "metadata"):
                continue
            if k in props:
                out += _pruned(props[k], v, f"{path}.{k}", False)
            else:
                out.append(f"{path}.{k}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            out += _pruned(schema["items"], item, f"{path}[{i}]", False)
    return out


def crd_rejections(crd_dir: Path, doc: dict[str, Any]) -> list[str]:
    """Why a CRD set rejects ``doc`` or prunes part of it: [] when it takes the document as written."""
    group, _, version = str(doc.get("apiVersion")).rpartition("/")
    entry = crd_versions(crd_dir).get((group, str(doc.get("kind")), version))
    if entry is None:
        return ["no such version"]
    problems = [] if entry.served else ["not served"]
    validator = jsonschema.Draft4Validator(_jsonschema(entry.schema))
    problems += [f"invalid: {'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(doc)]
    problems += [f"pruned: {p}" for p in _pruned(entry.schema, doc, "", True)]
    return problems
