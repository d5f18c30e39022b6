"""schemas/: JSON Schemas and CRDs generated from the models, and the check that the files match them.

``python -m smi_conformance.schema generate`` (``make schemas``) writes them; ``... check`` exits 1 with the
list of files that differ. Layout::

    schemas/json/<group>/<kind>_<version>.json    JSON Schema 2020-12, every kind and version
    schemas/json/conformance.smi-conformance.io/conformancereport_v1alpha1.json    the ConformanceReport
    schemas/crds/<group>_<plural>.yaml             apiextensions.k8s.io/v1 CRDs of the released kinds
    schemas/crds/experimental/...                  CRDs of experimental-only kinds (IdentityBinding)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from smi_conformance.models.registry import kinds
from smi_conformance.schema.compare import Difference, compare_crds
from smi_conformance.schema.crd import GENERATED_NOTE, crds
from smi_conformance.schema.jsonschema import (
    REPORT_SCHEMA_PATH,
    json_schema,
    json_schema_path,
    report_json_schema,
)

GENERATED = GENERATED_NOTE
GENERATED_REPORT = "Generated from smi_conformance.report.model by `make schemas`; do not edit."
GENERATED_DIRS = ("json", "crds")


class _Dumper(yaml.SafeDumper):
    """Plain block YAML: no anchors/aliases, keys in the order given."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(document: Any) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True)


def generate() -> dict[str, str]:
    """Every generated file, by path relative to schemas/, with its exact text."""
    files: dict[str, str] = {}
    for info in kinds():
        schema = {"$comment": GENERATED, **json_schema(info)}
        files[f"json/{json_schema_path(info)}"] = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    report = {"$comment": GENERATED_REPORT, **report_json_schema()}
    files[f"json/{REPORT_SCHEMA_PATH}"] = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    for path, crd in crds().items():
        files[f"crds/{path}"] = f"# {GENERATED}\n---\n{dump_yaml(crd)}"
    return files


def write(root: Path) -> list[str]:
    """Write every generated file under ``root`` and delete stale ones; the paths written or removed."""
    files = generate()
    changed = []
    for relative in _existing(root):
        if relative not in files:
            (root / relative).unlink()
            changed.append(relative)
    for relative, text in files.items():
        path = root / relative
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(relative)
    return sorted(changed)


def drift(root: Path) -> list[str]:
    """Files under ``root`` that differ from what the models generate: "changed: x", "missing: x", ..."""
    files = generate()
    problems = []
    for relative, text in sorted(files.items()):
        path = root / relative
        if not path.is_file():
            problems.append(f"missing: {relative}")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"changed: {relative}")
    problems += [f"stale: {relative}" for relative in sorted(_existing(root)) if relative not in files]
    return problems


def official_differences(crd_dir: Path) -> list[tuple[str, Difference]]:
    """(set name, difference) for every CRD in the sets under ``crd_dir`` (one subfolder per set)."""
    ours = {c["spec"]["names"]["kind"]: c for c in crds().values()}
    out = []
    for set_dir in sorted(p for p in crd_dir.iterdir() if p.is_dir()):
        for path in sorted(set_dir.glob("*.yaml")):
            for theirs in yaml.safe_load_all(path.read_text(encoding="utf-8")):
                if theirs and theirs.get("kind") == "CustomResourceDefinition":
                    kind = theirs["spec"]["names"]["kind"]
                    out += [(set_dir.name, d) for d in compare_crds(ours[kind], theirs)]
    return out


def _existing(root: Path) -> list[str]:
    return [
        p.relative_to(root).as_posix()
        for d in GENERATED_DIRS
        for p in (root / d).rglob("*")
        if p.is_file() and p.suffix in (".json", ".yaml")
    ]


__all__ = ["drift", "generate", "json_schema", "official_differences", "report_json_schema", "write"]
