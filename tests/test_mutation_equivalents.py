"""The equivalent mutants written down for ``make mutation`` (benchmarks/mutation_equivalents.yaml) stay
readable and current: each names a file that exists, a line that is still in it, and a reason."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENTS = ROOT / "benchmarks" / "mutation_equivalents.yaml"


def test_every_equivalent_names_a_current_line_and_says_why() -> None:
    data = yaml.safe_load(EQUIVALENTS.read_text())
    assert isinstance(data, dict) and data
    for file, entries in data.items():
        source = (ROOT / file).read_text()
        lines = {line.strip() for line in source.splitlines()}
        for entry in entries:
            assert set(entry) == {"in", "from", "to", "why"}, (file, entry)
            assert all(isinstance(v, str) and v.strip() for v in entry.values()), (file, entry)
            for part in entry["from"].split(" | "):  # a mutant that spans lines lists them joined
                assert part in lines, f"{file}: {entry['in']}: {part!r} is no longer in the file"
            assert entry["to"] != entry["from"], (file, entry)
