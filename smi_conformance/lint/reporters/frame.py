"""A report written as it goes: its frame written whole by its format's library, the findings poured in.

Why: a large input's findings are read back from disk one at a time (``stored_findings``), so a report that
holds them all (as one JSON document or one XML tree) would make memory follow their number. The frame (the
document with ``MARK`` where findings go) is small; ``json`` or ElementTree write it as they always do, so its
layout, escaping and key order stay theirs, and only the findings are written piece by piece.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Iterator

__all__ = ["MARK", "fill", "json_pieces"]

#: Stands in the frame where findings go: random, so no text in a report can be mistaken for it.
MARK = f"smi-lint-findings-{secrets.token_hex(16)}"

_LINE_START = re.compile(r"^", re.MULTILINE)


def fill(frame: str, fillers: Iterable[Iterable[str]]) -> Iterator[str]:
    """``frame`` with each ``MARK`` in it replaced by the pieces of the next filler, in order."""
    parts = frame.split(MARK)
    yield parts[0]
    for filler, part in zip(fillers, parts[1:], strict=True):
        yield from filler
        yield part


def json_pieces(document: object, items: Iterable[object]) -> Iterator[str]:
    """What ``json.dumps(document, indent=2, ensure_ascii=False)`` and a newline write, an item at a time:
    the one ``MARK`` value in ``document`` stands for the array of ``items``."""
    frame = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    quoted = json.dumps(MARK)
    at = frame.index(quoted)
    line = frame[frame.rfind("\n", 0, at) + 1 : at]
    outer = " " * (len(line) - len(line.lstrip(" ")))
    yield from fill(frame.replace(quoted, MARK, 1), [_array(items, outer)])


def _array(items: Iterable[object], outer: str) -> Iterator[str]:
    inner = outer + "  "
    opening = "[\n"
    for item in items:
        yield opening + _LINE_START.sub(inner, json.dumps(item, indent=2, ensure_ascii=False))
        opening = ",\n"
    yield "[]" if opening == "[\n" else f"\n{outer}]"
