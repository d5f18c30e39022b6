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
from collections.abc import Iterator, Sequence
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
    "CREATE TABLE whole (seq INTEGER PRIMARY KEY, data BLOB NOT NULL)",
    "CREATE TABLE keys (lookup INTEGER, a BLOB, b BLOB, c BLOB, seq INTEGER, extra BLOB,"
    " PRIMARY KEY (lookup, a, b, c, seq)) WITHOUT ROWID",
    "BEGIN",  # one transaction for the whole run: nothing is ever committed, the database is dropped
)
_INSERT_OBJECT = "INSERT INTO objects VALUES (?, ?)"
_INSERT_WHOLE = "INSERT INTO whole VALUES (?, ?)"
_WHOLE = "SELECT o.record, w.data FROM whole w JOIN objects o ON o.seq = w.seq ORDER BY w.seq"
_INSERT_KEY = "INSERT INTO keys VALUES (?, ?, ?, ?, ?, ?)"
_DELETE_KEYS_FROM = "DELETE FROM keys WHERE seq >= ?"  #: the keys of a batch (every later seq is in it)
_WHERE = "k.lookup = ? AND k.a = ? AND k.b = ? AND k.c = ?"
_FIND = f"SELECT o.record FROM keys k JOIN objects o ON o.seq = k.seq WHERE {_WHERE} ORDER BY k.seq"
_FIRST_SEQ = f"SELECT k.seq FROM keys k WHERE {_WHERE}"
_AND_EXTRA = " AND k.extra = ?"
_AND_NOT_EXTRA = " AND k.extra IS NOT ?"
_HAS = "SELECT 1 FROM keys k WHERE " + _WHERE + " LIMIT 1"
_EXTRAS = "SELECT k.extra FROM keys k WHERE " + _WHERE + " ORDER BY k.seq"
_GET = "SELECT record FROM objects WHERE seq = ?"
_FIRST = " ORDER BY k.seq LIMIT 1"
_BATCH = 256  #: objects added before their rows are written, if nothing is read meanwhile
#: The Bloom filter has 2**23 bits (1 MiB), two per key: about 0.5% false "maybe" at 300,000 keys.
_SEEN_BITS = 23
_SEEN_BYTES = 1 << (_SEEN_BITS - 3)
_SEEN_MASK = (1 << _SEEN_BITS) - 1
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
        #: Rows not written yet: written together (one call for many rows) before anything is read.
        self._objects: list[tuple[Any, ...]] = []
        self._keys: list[tuple[Any, ...]] = []
        self._wholes: list[tuple[int, bytes]] = []
        #: A Bloom filter of every key written (a fixed 1 MiB): a key it has no bit for was never written,
        #: which answers the common question "is this object the first of its identity?" without a query.
        self._seen = bytearray(_SEEN_BYTES)

    def close(self) -> None:
        self._db.close()

    def add(self, resource: Resource, keys: Sequence[Key], *, whole: bool = False) -> None:
        """Write an object (its data still whole: what rules may read of it is taken here); ``whole``: all
        its data too, for :meth:`whole_objects`."""
        seq = resource.seq
        if self._found:
            self._found.clear()
        self._objects.append((seq, self._record(resource)))
        if whole:
            try:
                self._wholes.append((seq, marshal.dumps(cast(Any, resource.data))))
            except ValueError:  # a HugeInt: read again from the file instead
                self._wholes.append((seq, b""))
        seen = self._seen
        for lookup, key, extra in keys:
            self._keys.append(_params(lookup, key, seq, extra))
            h = hash((lookup, key))
            for bit in (h & _SEEN_MASK, (h >> _SEEN_BITS) & _SEEN_MASK):
                seen[bit >> 3] |= 1 << (bit & 7)
        if len(self._objects) >= _BATCH:
            self._flush()

    def may_have(self, lookup: Lookup, key: tuple[str, ...]) -> bool:
        """False: no object was written with this key (True: one may have been)."""
        seen = self._seen
        h = hash((lookup, key))  # two bits of it (Python's string hash: the same within one run)
        one, two = h & _SEEN_MASK, (h >> _SEEN_BITS) & _SEEN_MASK
        return bool(seen[one >> 3] & (1 << (one & 7)) and seen[two >> 3] & (1 << (two & 7)))

    def whole_objects(self) -> Iterator[Resource]:
        """The objects written ``whole``, in input order, with all their data."""
        if self._objects:
            self._flush()
        for record, data in self._db.execute(_WHOLE):
            resource = self._restore(record)
            resource.data = marshal.loads(data) if data else resource.document.reload()
            resource.metadata = dict_at(resource.data, "metadata") or EMPTY
            yield resource

    def find(self, lookup: Lookup, key: tuple[str, ...]) -> list[Resource]:
        """Every object written with this key, in input order."""
        found = self._found.get((lookup, key))
        if found is None:
            if not self.may_have(lookup, key):
                return []
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
        if not self.may_have(lookup, key):
            return None
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
        if not self.may_have(lookup, key):
            return None
        row = self._execute(_FIRST_SEQ + _AND_NOT_EXTRA + _FIRST, _params(lookup, key, name)).fetchone()
        return None if row is None else self.get(row[0])

    def has(self, lookup: Lookup, key: tuple[str, ...]) -> bool:
        if not self.may_have(lookup, key):
            return False
        return self._execute(_HAS, _params(lookup, key)).fetchone() is not None

    def extras(self, lookup: Lookup, key: tuple[str, ...]) -> list[str]:
        """The ``extra`` of every object written with this key, in input order."""
        if not self.may_have(lookup, key):
            return []
        return [_text(row[0]) for row in self._execute(_EXTRAS, _params(lookup, key))]

    def get(self, seq: int) -> Resource:
        """The object written with this ``seq``."""
        row = self._execute(_GET, (seq,)).fetchone()
        if row is None:
            raise KeyError(seq)
        return self._restore(row[0])

    def _execute(self, query: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        if self._objects:
            self._flush()
        try:
            return self._db.execute(query, params)
        except UnicodeEncodeError:  # a lone surrogate: see _stored
            return self._db.execute(query, tuple(_stored(value) for value in params))

    def _flush(self) -> None:
        """Write the rows added since the last read."""
        first_seq = self._objects[0][0]
        self._db.executemany(_INSERT_OBJECT, self._objects)
        self._db.executemany(_INSERT_WHOLE, self._wholes)
        try:
            self._db.executemany(_INSERT_KEY, self._keys)
        except UnicodeEncodeError:  # a lone surrogate (see _stored): again, row by row
            self._db.execute(_DELETE_KEYS_FROM, (first_seq,))  # those written before the failing row
            for row in self._keys:
                self._db.execute(_INSERT_KEY, tuple(_stored(value) for value in row))
        self._objects.clear()
        self._keys.clear()
        self._wholes.clear()

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
