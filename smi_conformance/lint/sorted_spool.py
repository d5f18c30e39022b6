"""Records kept in a temporary sqlite database and read back sorted by their keys: an external sort.

Why: on a large input the findings grow with it (a 50 MB file had 44,000), and sorting them for the
report held every one in memory at once. Past the linter's threshold they are written here as they come
and read back one at a time in report order, so memory no longer follows their number.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

__all__ = ["SortedSpool"]


class SortedSpool:
    """Rows of (``keys`` integer or text sort keys, a record), read back sorted by the keys; ties in the
    order written (what Python's stable sort gives)."""

    def __init__(self, keys: int) -> None:
        # "": private, on disk past its page cache. Any thread may read the findings the linter returns (one
        # at a time: the spool is written once, then only read).
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        columns = ", ".join(f"k{i}" for i in range(keys))
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute(f"CREATE TABLE rows (n INTEGER PRIMARY KEY, {columns}, record BLOB NOT NULL)")
        self._db.execute("BEGIN")
        self._insert = f"INSERT INTO rows VALUES (NULL, {'?, ' * keys}?)"
        self._select = f"SELECT record FROM rows ORDER BY {columns}, n"
        self._count = 0

    def add(self, keys: tuple[int | str, ...], record: bytes) -> None:
        self._db.execute(self._insert, (*keys, record))
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[bytes]:
        """The records in key order (each pass reads them again from disk)."""
        for (record,) in self._db.execute(self._select):
            yield record

    def close(self) -> None:
        self._db.close()
