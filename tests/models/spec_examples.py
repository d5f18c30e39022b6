"""The SMI objects in the spec's examples with the apiVersion their doc implies.

The docs leave out apiVersion from some versions on; `_validation.tsv` names the version each document's doc
implies (``version_assumed``). Files: ../shared/smi-spec/examples. Used by the model, schema and
cluster tests alike.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from smi_conformance import models

GROUPS = {info.kind: info.group for info in models.kinds()}
"""Kind -> API group (kind names are unique across the SMI groups)."""

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


@dataclass(frozen=True)
class Example:
    """One SMI object of the examples."""

    row: dict[str, str]
    """Its row in _validation.tsv."""
    number: int
    """Its place in its file, from 1."""
    doc: dict[str, Any]
    """The object, with the apiVersion its doc implies."""

    @property
    def file(self) -> str:
        return self.row["file"]

    @property
    def kind(self) -> str:
        return str(self.doc["kind"])

    @property
    def version(self) -> str:
        return self.row["version_assumed"]

    @property
    def key(self) -> tuple[str, int]:
        """(file, number), as DOC_BUGS names it."""
        return self.file, self.number

    @property
    def where(self) -> str:
        return f"{self.file} #{self.number} {self.kind} {self.version}"


def read_documents(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [d for d in yaml.load_all(handle, Loader=yaml.CSafeLoader) if d is not None]


def validation_rows(examples: Path) -> list[dict[str, str]]:
    with (examples / "_validation.tsv").open(encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle, delimiter="\t") if row["doc_in_file"] != "-"]


def example_objects(examples: Path) -> list[Example]:
    """Every SMI object `_validation.tsv` lists, in its order."""
    out = []
    for row in validation_rows(examples):
        number_text, kind = row["doc_in_file"].split()
        number = int(number_text.lstrip("#"))
        doc = dict(read_documents(examples / row["file"])[number - 1])
        assert doc["kind"] == kind, (
            f"{row['file']} #{number}: {doc['kind']} where _validation.tsv says {kind}"
        )
        doc["apiVersion"] = f"{GROUPS[kind]}/{row['version_assumed']}"
        out.append(Example(row, number, doc))
    return out
