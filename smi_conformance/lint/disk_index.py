"""The linted set's index past a threshold of objects, in a temporary sqlite database on disk.

Why: the cross-object rules look objects up among every object of the input (by identity, split root,
namespace...). Kept in Python, each object costs about half a kilobyte of index (its identity, where its
document is, the few fields other objects' rules read), so memory grew with the input: 226 MB for a 50 MB
file. Past ``LintContext``'s threshold, objects go to a table on disk instead, with one row per lookup key;
sqlite's page cache (a couple of MiB) is all that stays in memory, whatever the size of the input.

An object read back is a new :class:`Resource` each time: rules compare objects by ``seq`` (their place in
the linted set), never by identity. Its data is what :func:`kept_data` keeps, its document enough to locate
a node (the file is read again, as for any document whose data was let go).
"""

from __future__ import annotations

import enum
import marshal
import sqlite3
from collections.abc import Sequence
from typing import Any, cast

from smi_conformance.lint.resources import EMPTY, Resource, dict_at, kept_data
from smi_conformance.manifests import Document, Source

__all__ = ["DiskIndex", "Key", "Lookup"]


class Lookup(enum.IntEnum):
    """What a key finds; each lookup has its own key shape (a tuple of strings)."""

    IDENTITY = 0  #: (kind, namespace, name); ``extra``: the API group
    LISTED = 1  #: (kind, namespace) of Services, Pods and workloads
    NAMED = 2  #: (kind, name) of Services and ServiceAccounts; ``extra``: the written namespace
    SPLIT_ROOT = 3  #: (namespace, root service) of TrafficSplits; ``extra``: the split's name
    BINDING = 4  #: (namespace, IdentityBinding name) of the TrafficTargets whose destination it is


#: (lookup, key, extra): one row of the key table.
Key = tuple[Lookup, tuple[str, ...], "str | None"]

# Keys and extras are stored as text, except strings sqlite cannot take as text (lone surrogates, which
# names read from JSON may hold): those as UTF-8 bytes with the surrogates passed through. Each string is
# always stored the same way, so lookups match exactly.
_SCHEMA = (
    "PRAGMA journal_mode = OFF",
    "PRAGMA synchronous = OFF",
    "CREATE TABLE objects (seq INTEGER PRIMARY KEY, record BLOB NOT NULL)",
    "CREATE TABLE keys (lookup INTEGER, a BLOB, b BLOB, c BLOB, seq INTEGER, extra BLOB,"
    " PRIMARY KEY (lookup, a, b, c, seq)) WITHOUT ROWID",
    "BEGIN",  # one transaction for the whole run: nothing is ever committed, the database is dropped
)
_INSERT_OBJECT = "INSERT INTO objects VALUES (?, ?)"
_INSERT_KEY = "INSERT INTO keys VALUES (?, ?, ?, ?, ?, ?)"
_WHERE = "k.lookup = ? AND k.a = ? AND k.b = ? AND k.c = ?"
_FIND = f"SELECT o.record FROM keys k JOIN objects o ON o.seq = k.seq WHERE {_WHERE} ORDER BY k.seq"
_FIRST_SEQ = f"SELECT k.seq FROM keys k WHERE {_WHERE}"
_AND_EXTRA = " AND k.extra = ?"
_AND_NOT_EXTRA = " AND k.extra IS NOT ?"
_HAS = "SELECT 1 FROM keys k WHERE " + _WHERE + " LIMIT 1"
_EXTRAS = "SELECT k.extra FROM keys k WHERE " + _WHERE + " ORDER BY k.seq"
_GET = "SELECT record FROM objects WHERE seq = ?"
_FIRST = " ORDER BY k.seq LIMIT 1"
_FOUND_KEPT = 64  #: lookups whose results DiskIndex.find keeps
_RELOAD = b"r"  #: a record whose kept data marshal cannot write (a HugeInt): read again from the file


def _params(lookup: Lookup, key: tuple[str, ...], *more: Any) -> tuple[Any, ...]:
    return (int(lookup), *key, *_UNUSED[len(key) :], *more)


_UNUSED = ("", "", "")  #: the key columns a shorter key leaves empty


def _stored(value: Any) -> Any:
    """A parameter as sqlite can take it (see above)."""
    if type(value) is str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogatepass")
    return value


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", "surrogatepass")


class DiskIndex:
    """Objects written once, in input order, and found by the keys they were written with."""

    def __init__(self) -> None:
        # "": a private temporary database, on disk past its page cache, deleted when closed.
        self._db = sqlite3.connect("", isolation_level=None)
        for statement in _SCHEMA:
            self._db.execute(statement)
        self._sources: list[Source] = []
        self._source_numbers: dict[int, int] = {}  #: id(source) -> its index in _sources
        #: The last lookups' results: the rules checking one object look up the same few objects in turn.
        #: Emptied when an object is written (results would change); rules never change what they read.
        self._found: dict[tuple[Lookup, tuple[str, ...]], list[Resource]] = {}

    def close(self) -> None:
        self._db.close()

    def add(self, resource: Resource, keys: Sequence[Key]) -> None:
        """Write an object (its data still whole: what rules may read of it is taken here)."""
        seq = resource.seq
        if self._found:
            self._found.clear()
        self._execute(_INSERT_OBJECT, (seq, self._record(resource)))
        for lookup, key, extra in keys:
            self._execute(_INSERT_KEY, _params(lookup, key, seq, extra))

    def find(self, lookup: Lookup, key: tuple[str, ...]) -> list[Resource]:
        """Every object written with this key, in input order."""
        found = self._found.get((lookup, key))
        if found is None:
            if len(self._found) >= _FOUND_KEPT:
                self._found.clear()
            found = [self._restore(row[0]) for row in self._execute(_FIND, _params(lookup, key))]
            self._found[(lookup, key)] = found
        return found

    def first(
        self,
        lookup: Lookup,
        key: tuple[str, ...],
        *,
        extra: str | None = None,
        unless: Resource | None = None,
    ) -> Resource | None:
        """The first object written with this key (and this ``extra``, when given); ``unless`` itself when it
        is that object (not read back: most objects are the first of their identity)."""
        if extra is not None:
            rows = self._execute(_FIRST_SEQ + _AND_EXTRA + _FIRST, _params(lookup, key, extra))
        else:
            rows = self._execute(_FIRST_SEQ + _FIRST, _params(lookup, key))
        row = rows.fetchone()
        if row is None:
            return None
        return unless if unless is not None and row[0] == unless.seq else self.get(row[0])

    def first_not_named(self, lookup: Lookup, key: tuple[str, ...], name: str | None) -> Resource | None:
        """The first object written with this key whose ``extra`` is not ``name`` (None included)."""
        row = self._execute(_FIRST_SEQ + _AND_NOT_EXTRA + _FIRST, _params(lookup, key, name)).fetchone()
        return None if row is None else self.get(row[0])

    def has(self, lookup: Lookup, key: tuple[str, ...]) -> bool:
        return self._execute(_HAS, _params(lookup, key)).fetchone() is not None

    def extras(self, lookup: Lookup, key: tuple[str, ...]) -> list[str]:
        """The ``extra`` of every object written with this key, in input order."""
        return [_text(row[0]) for row in self._execute(_EXTRAS, _params(lookup, key))]

    def get(self, seq: int) -> Resource:
        """The object written with this ``seq``."""
        row = self._execute(_GET, (seq,)).fetchone()
        if row is None:
            raise KeyError(seq)
        return self._restore(row[0])

    def _execute(self, query: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        try:
            return self._db.execute(query, params)
        except UnicodeEncodeError:  # a lone surrogate: see _stored
            return self._db.execute(query, tuple(_stored(value) for value in params))

    # -----------------------------------------------------------------------------------------------------

    def _record(self, resource: Resource) -> bytes:
        document = resource.document
        source = document.source
        number = self._source_numbers.get(id(source))
        if number is None:
            number = self._source_numbers[id(source)] = len(self._sources)
            self._sources.append(source)
        fields = (
            resource.seq, resource.position, resource.api_version, resource.kind, resource.name,
            resource.namespace, resource.is_checked, resource.schema_error, number, document.index,
            document.start, document.end, document.first_line, document.base,
        )  # fmt: skip
        kept = kept_data(resource)
        kept_or_none = None if kept is EMPTY else kept  # EMPTY (a mapping proxy) is not marshal's
        try:
            return marshal.dumps(cast(Any, (*fields, kept_or_none)))
        except ValueError:  # a HugeInt in what is kept
            return _RELOAD + marshal.dumps(fields)

    def _restore(self, record: bytes) -> Resource:
        reload = record[:1] == _RELOAD
        fields = marshal.loads(record[1:] if reload else record)
        (seq, position, api_version, kind, name, namespace, checked, schema_error, number, index, start, end,
         first_line, base) = fields[:14]  # fmt: skip
        document = Document(self._sources[number], index, start, end, first_line, None, base)
        resource = Resource.restored(
            document, api_version, kind, name, namespace,
            seq=seq, position=position, is_checked=checked, schema_error=schema_error,
        )  # fmt: skip
        if reload:
            resource.data = document.reload()
            resource.metadata = dict_at(resource.data, "metadata") or EMPTY
            resource.data, resource.metadata = kept_data(resource), EMPTY
        elif fields[14] is not None:
            resource.data = fields[14]
        return resource
