"""The findings of a large input, sorted on disk and read back one at a time as the report is written.

Why: their number follows the input's size (44,000 on a 50 MB file); as a list of objects, they alone
took tens of megabytes. ``LintResult.findings`` is then this sequence instead of a list: reporters iterate
it (each pass reads the findings again), so a report written as it goes holds one finding at a time.
"""

from __future__ import annotations

import marshal
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import overload

from smi_conformance.lint.engine import Finding, location_record
from smi_conformance.lint.rule import Severity
from smi_conformance.lint.sorted_spool import SortedSpool
from smi_conformance.manifests import Location

__all__ = ["StoredFindings"]


class StoredFindings(Sequence[Finding]):
    """Findings in report order: the order of their file's first finding, line, column, code; ties in the
    order added (what ``sorted`` gives a list)."""

    def __init__(self) -> None:
        self._spool = SortedSpool(keys=4)
        self.severities: Counter[Severity] = Counter()  #: LintResult.count reads it

    def add(self, file_order: int, finding: Finding) -> None:
        location = finding.location
        record = (finding.code, finding.name, int(finding.severity), finding.message,
                  location_record(location), finding.object)  # fmt: skip
        self.severities[finding.severity] += 1
        self._spool.add((file_order, location.line, location.column, finding.code), marshal.dumps(record))

    def __iter__(self) -> Iterator[Finding]:
        for record in self._spool:
            code, name, severity, message, where, obj = marshal.loads(record)
            yield Finding(code, name, Severity(severity), message, Location(*where), obj)

    def __len__(self) -> int:
        return len(self._spool)

    @overload
    def __getitem__(self, index: int) -> Finding: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Finding]: ...
    def __getitem__(self, index: int | slice) -> Finding | Sequence[Finding]:
        """By position (reads the findings up to it: reporters iterate instead)."""
        return list(self)[index]
