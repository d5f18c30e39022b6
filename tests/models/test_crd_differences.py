"""Our CRDs against both official CRD sets: every difference is listed, with its reason, in
docs/crd-differences.md.

The test fails on a difference no row covers (fix it or document it) and on a row that covers nothing (the
page would no longer be true).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from smi_conformance.schema import official_differences
from smi_conformance.schema.compare import Difference

DOC = Path(__file__).resolve().parents[2] / "docs" / "crd-differences.md"
SETS = {"sdk-go": "smi-sdk-go", "controller-sdk": "smi-controller-sdk"}


@dataclass(frozen=True)
class Row:
    line: int
    sets: frozenset[str]
    kinds: tuple[str, ...]
    versions: tuple[str, ...]
    paths: tuple[str, ...]
    aspects: tuple[str, ...]
    reason: str

    def covers(self, set_name: str, difference: Difference) -> bool:
        return (
            set_name in self.sets
            and _any(self.kinds, difference.kind)
            and _any(self.versions, difference.version)
            and _any(self.paths, difference.path)
            and _any(self.aspects, difference.aspect)
        )


def _any(patterns: tuple[str, ...], value: str) -> bool:
    return any(re.fullmatch(".*".join(map(re.escape, p.split("*"))), value) for p in patterns)


def _split(cell: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("`") for part in cell.split(",") if part.strip())


def rows() -> list[Row]:
    out = []
    for number, line in enumerate(DOC.read_text(encoding="utf-8").splitlines(), 1):
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if not line.startswith("|") or len(cells) != 6 or cells[0] in ("Set", "---"):
            continue
        if set(cells[0]) <= {"-", "|"}:
            continue
        sets = frozenset(SETS.values()) if cells[0] == "both" else frozenset({SETS[cells[0]]})
        out.append(Row(number, sets, *map(_split, cells[1:5]), reason=cells[5]))  # type: ignore[arg-type]
    return out


def test_the_page_parses() -> None:
    parsed = rows()
    assert len(parsed) >= 25
    for row in parsed:
        assert row.kinds and row.versions and row.paths and row.aspects, f"line {row.line}"
        assert len(row.reason) > 30, f"line {row.line}: a row needs a reason"


def test_every_difference_from_the_official_crds_is_listed_and_every_row_is_still_true(
    smi_spec_dir: Path,
) -> None:
    parsed = rows()
    differences = official_differences(smi_spec_dir / "crds")
    assert len(differences) > 100  # both sets were read
    unlisted = [f"{s}: {d}" for s, d in differences if not any(r.covers(s, d) for r in parsed)]
    assert unlisted == [], "differences missing from docs/crd-differences.md:\n" + "\n".join(unlisted)
    stale = [f"line {r.line}" for r in parsed if not any(r.covers(s, d) for s, d in differences)]
    assert stale == [], "rows of docs/crd-differences.md that match no difference: " + ", ".join(stale)
