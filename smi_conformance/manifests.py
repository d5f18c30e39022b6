"""Load Kubernetes manifests (YAML or JSON) and say where any node came from.

Input is read from files, directories (recursively: ``.yaml``, ``.yml``, ``.json``) or stdin, split into
documents, and turned into plain JSON-like data (dict, list, str, int, float, bool, None), never arbitrary
objects. Every :class:`Document` remembers the file and line where it starts; :meth:`Document.locate`
finds the ``file:line:column`` of any node path *lazily*: only documents that end up with a finding are
parsed a second time with marks, so clean documents cost one fast libyaml pass and nothing more.

Whether an input is JSON or YAML is decided by its content, as ``kubectl`` decides it: an input whose first
character (after whitespace and a byte order mark) is ``{`` is JSON, anything else YAML; the file name plays
no part, so a file and the same bytes on stdin get one verdict.

:class:`Inputs` reads lazily, one document at a time: the linter streams documents through its checks and
keeps none of their data, so memory does not grow with the size of a file. A regular file is read line by
line and never held whole; its documents are located later by reading their bytes again. Stdin, devices,
JSON and the rare YAML that needs the whole text (UTF-16/32, directives, line breaks other than ``\\n``
and ``\\r\\n``) are read whole, up to the size limit. :func:`load_paths` and :func:`load_text` collect
everything in memory, for callers that need the text (``smi convert``) or the documents (the reference mesh).

Everything that stops a file or document from being read (syntax errors, duplicate keys, bad encodings,
binary content, alias bombs, excessive nesting or size) becomes a located :class:`LoadIssue`, never an
exception: callers decide how to report it.
"""

from __future__ import annotations

import codecs
import functools
import json
import os
import re
import stat
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from yaml.nodes import Node

from smi_conformance._yamlparse import (
    BREAK,
    MAX_DEPTH,
    MAX_EXPANDED_NODES,
    NATIVE_LOCATE,
    Found,
    LoadIssue,
    Location,
    NodePath,
    compose_marks,
    count_breaks,
    find,
    find_duplicates,
    json_int,
    parse_chunk,
    parse_chunk_tree,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MANIFEST_SUFFIXES",
    "MAX_DEPTH",
    "MAX_EXPANDED_NODES",
    "Document",
    "Inputs",
    "LoadIssue",
    "LoadResult",
    "Location",
    "NodePath",
    "Source",
    "load_paths",
    "load_text",
]

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
#: Files larger than this are reported, not parsed (bounded time and memory); ``--max-bytes`` overrides.
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
#: Marked node trees kept per source for locating (findings come mostly in input order, so few are re-used).
_TREES_KEPT = 32


@dataclass(eq=False)
class Source:
    """One input: a file or stdin. ``name`` is what reports show (the path as given, or ``<stdin>``).

    In memory (``text`` set), document offsets index ``text``; read from a file (``path`` set), they are
    byte offsets into the file, which is read again to locate a document.
    """

    name: str
    text: str = ""
    is_json: bool = False
    path: Path | None = None
    #: Documents kept for locating, by offset: each one's marked node tree, or its text where the compiled
    #: reader locates (``_yamlparse.find`` takes either).
    _trees: OrderedDict[int, Node | str | None] = field(default_factory=OrderedDict, repr=False)
    _parsed: tuple[int, Any] | None = field(default=None, repr=False)  #: the last document reloaded
    #: The node tree (or text) of the document read last, while it is checked: its findings are located
    #: without reading it again (those of the rest are let go).
    _current: tuple[int, Node | str] | None = field(default=None, repr=False)

    def document_text(self, start: int, end: int) -> str:
        """The text of one document (``start``/``end`` as its Document holds them)."""
        if self.path is None:
            return self.text[start:end]
        with self.path.open("rb") as fh:
            fh.seek(start)
            return fh.read(end - start).decode("utf-8", "replace")

    def tree(self, start: int, end: int) -> Node | None:
        """The marked node tree of the document at ``start``."""
        held = self.held(start, end)
        return compose_marks(held) if isinstance(held, str) else held

    def held(self, start: int, end: int) -> Node | str | None:
        """The document at ``start`` as ``_yamlparse.find`` locates in it: its text where the compiled
        reader locates, else its marked node tree (composed on first use); a few are kept."""
        current = self._current
        if current is not None and current[0] == start:
            return current[1]
        trees = self._trees
        if start in trees:
            trees.move_to_end(start)
            return trees[start]
        text = self.document_text(start, end)
        if self.is_json:  # JSON allows tabs as whitespace, YAML 1.1 does not; same columns
            text = text.replace("\t", " ")
        held = trees[start] = text if NATIVE_LOCATE is not None else compose_marks(text)
        if len(trees) > _TREES_KEPT:
            trees.popitem(last=False)
        return held


@dataclass(eq=False, slots=True)
class Document:
    """One manifest: its data plus enough to locate any node in it later."""

    source: Source
    index: int  #: 0-based position among the documents of its source
    start: int  #: offset of the document's text in its source (see :class:`Source`)
    end: int
    first_line: int  #: 0-based line of ``start`` in the source
    data: Any
    base: NodePath = ()  #: path of this object inside its document (``("items", 3)`` for List members)
    parent: Any = None  #: for List members: the whole List document
    #: Whether its data holds only JSON's types, exactly (str, bool, None, 64-bit int), as the compiled YAML
    #: reader found while reading it: what the linter's quick check (``models.quick_accept``) can judge.
    #: None: not looked at (the Python path read it; the check looks itself).
    json_typed: bool | None = None

    def reload(self) -> Any:
        """This object's data, parsed again from its source (after a reader let it go: the linter keeps
        the data of few objects). Consecutive members of one List document parse it once."""
        source = self.source
        cached = source._parsed
        if cached is None or cached[0] != self.start:
            text = source.document_text(self.start, self.end)
            if source.is_json:
                data = json.loads(text, parse_int=json_int)
            else:
                data, _ = parse_chunk(source.name, text, self.first_line)  # its issues were reported
            cached = source._parsed = (self.start, data)
        data = cached[1]
        for step in self.base:
            data = data[step]
        return data

    def locate(self, path: NodePath = (), *, key: bool = False) -> Location:
        """Where the node at ``path`` (relative to this object) is.

        ``key=True`` points at the mapping key instead of its value (unknown fields). A path that does not
        exist (a missing field) resolves to its deepest existing ancestor, at that ancestor's key.
        """
        held = self.source.held(self.start, self.end)
        where = self.base + tuple(path)
        small = isinstance(held, str) and len(held) <= _REMEMBERED_TEXT
        found = _find_in_text(held, where) if small else find(held, where)
        if found is None:
            return Location(self.source.name, self.first_line + 1, 1)
        span, key_span, complete = found
        if key_span is not None and (key or not complete):
            span = key_span
        line, column, end_line, end_column = span
        first = self.first_line + 1
        return Location(self.source.name, first + line, column + 1, first + end_line, end_column + 1)


_REMEMBERED_TEXT = 64 * 1024  #: documents longer than this are not kept by _find_in_text


@functools.lru_cache(maxsize=64)
def _find_in_text(text: str, path: NodePath) -> Found | None:
    """``find`` in a document's text, remembered: copies of one document (a thousand identical splits) have
    their findings at the same places within them, found once."""
    return find(text, path)


@dataclass
class LoadResult:
    """Everything read from the inputs, in input order."""

    documents: list[Document] = field(default_factory=list)
    issues: list[LoadIssue] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    #: Paths that could not be opened at all (missing, permission denied): a usage error, not a finding.
    unreadable: list[tuple[str, str]] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------------
# Reading inputs


class Inputs:
    """The documents of files, directories (recursively) and ``-`` (stdin), read lazily.

    Iterate for documents, in input order; ``issues``, ``sources`` and ``unreadable`` fill as iteration goes.
    ``exclude`` filters files found by walking directories; files named explicitly are always read. With
    ``stream`` (the linter), regular YAML files are read line by line and their documents located by
    reading them again; without it every input is held in memory (``Source.text``).
    """

    def __init__(
        self,
        paths: Sequence[str],
        *,
        stdin: BinaryIO | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        exclude: Callable[[Path], bool] | None = None,
        stream: bool = False,
    ) -> None:
        self.paths = paths
        self.stdin = stdin
        self.max_bytes = max_bytes
        self.exclude = exclude
        self.stream = stream
        self.issues: list[LoadIssue] = []
        self.sources: list[Source] = []
        self.unreadable: list[tuple[str, str]] = []

    def __iter__(self) -> Iterator[Document]:
        seen: set[str] = set()  # a file named twice (or inside a folder also named) is read once
        folders: dict[Path, str] = {}  # see _real_path
        for raw in self.paths:
            if raw == "-":
                if "-" not in seen:
                    seen.add("-")
                    stream = self.stdin if self.stdin is not None else sys.stdin.buffer
                    yield from self._bytes("<stdin>", stream.read(self.max_bytes + 1))
                continue
            path = Path(raw)
            if path.is_dir():
                files: Iterator[Path] = _walk_dir(path, self.exclude)
            elif path.exists():
                files = iter((path,))
            else:
                self.unreadable.append((raw, "no such file or directory"))
                continue
            for file in files:
                key = _real_path(file, folders)
                if key not in seen:
                    seen.add(key)
                    yield from self._file(file)

    def _file(self, path: Path) -> Iterator[Document]:
        name = str(path)
        try:
            info = path.stat()
            if info.st_size > self.max_bytes:
                self.sources.append(Source(name))
                self.issues.append(_too_large(name, info.st_size, self.max_bytes))
                return
            with path.open("rb") as fh:
                if self.stream and stat.S_ISREG(info.st_mode) and _streamable(fh):
                    source = Source(name, path=path)
                    self.sources.append(source)
                    fh.seek(0)
                    yield from _stream_yaml(source, fh, self.issues)
                    return
                fh.seek(0) if fh.seekable() else None
                data = fh.read(
                    self.max_bytes + 1
                )  # never more than the limit: /dev/zero or a FIFO has no size
        except OSError as exc:
            self.unreadable.append((name, exc.strerror or str(exc)))
            return
        yield from self._bytes(name, data)

    def _bytes(self, name: str, data: bytes) -> Iterator[Document]:
        source = Source(name)
        self.sources.append(source)
        if len(data) > self.max_bytes:
            self.issues.append(_too_large(name, None, self.max_bytes))
            return
        text, issue = _decode(name, data)
        if issue is not None:
            self.issues.append(issue)
            return
        assert text is not None
        source.text = text
        if is_json_text(text):
            source.is_json = True
            yield from _load_json(source, self.issues)
        else:
            yield from _load_yaml(source, self.issues)


def load_paths(
    paths: Sequence[str],
    *,
    stdin: BinaryIO | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    exclude: Callable[[Path], bool] | None = None,
) -> LoadResult:
    """Read files, directories (recursively) and ``-`` (stdin) into documents and issues, all in memory.

    ``exclude`` filters files found by walking directories; files named explicitly are always read.
    """
    inputs = Inputs(paths, stdin=stdin, max_bytes=max_bytes, exclude=exclude)
    documents = list(inputs)
    return LoadResult(documents, inputs.issues, inputs.sources, inputs.unreadable)


def load_text(text: str | bytes, name: str = "<string>", *, max_bytes: int = DEFAULT_MAX_BYTES) -> LoadResult:
    """Read one in-memory input (tests, stdin-like callers)."""
    inputs = Inputs((), max_bytes=max_bytes)
    documents = list(inputs._bytes(name, text.encode() if isinstance(text, str) else text))
    return LoadResult(documents, inputs.issues, inputs.sources, inputs.unreadable)


def is_json_text(text: str) -> bool:
    """JSON or YAML, decided by content as kubectl decides it: JSON starts with ``{`` (after whitespace)."""
    return text.lstrip(" \t\r\n").startswith("{")


def _real_path(file: Path, folders: dict[Path, str]) -> str:
    """``os.path.realpath(file)``, with the real path of each folder (``folders``) found once for all its
    files: realpath resolves every component in Python, a tenth of the CPU of linting 1,000 small files."""
    if os.path.islink(file):
        return os.path.realpath(file)
    folder = folders.get(file.parent)
    if folder is None:
        folder = folders[file.parent] = os.path.realpath(file.parent)
    return os.path.join(folder, file.name)


def _walk_dir(root: Path, exclude: Callable[[Path], bool] | None) -> Iterator[Path]:
    """Manifest files under ``root`` in a stable order, skipping dot-directories and excluded files."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith(MANIFEST_SUFFIXES) and not name.startswith("."):
                file = Path(dirpath) / name
                if exclude is None or not exclude(file):
                    yield file


def _too_large(name: str, size: int | None, max_bytes: int) -> LoadIssue:
    """``size`` None: read only up to the limit (stdin, devices), so the real size is unknown."""
    how_big = f"{size} bytes, more than" if size is not None else "larger than"
    return LoadIssue(
        "too-large",
        f"input is {how_big} the {max_bytes}-byte limit; not parsed (raise the limit with --max-bytes)",
        Location(name, 1, 1),
    )


_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)


def _decode(name: str, data: bytes) -> tuple[str | None, LoadIssue | None]:
    """Bytes to text as YAML allows (UTF-8, or UTF-16/32 with a byte order mark); else a located issue."""
    encoding = "utf-8"
    for bom, codec in _BOMS:
        if data.startswith(bom):
            encoding = codec
            break
    if encoding == "utf-8":
        nul = data.find(b"\x00", 0, 8192)
        if nul >= 0:
            line, column = _byte_position(data, nul)
            return None, LoadIssue(
                "binary",
                "binary content (a NUL byte): not a YAML or JSON manifest",
                Location(name, line, column),
            )
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line, column = _byte_position(data, exc.start)
        byte = data[exc.start : exc.start + 1].hex()
        return None, LoadIssue(
            "encoding",
            f"not valid {encoding.upper().replace('-SIG', '')}: byte 0x{byte} cannot be decoded "
            "(YAML must be UTF-8, or UTF-16/32 with a byte order mark)",
            Location(name, line, column),
        )
    return text.lstrip("\ufeff"), None


def _byte_position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters, decoding leniently) of a byte offset."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    line = data.count(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", "replace")) + 1
    return line, column


# --------------------------------------------------------------------------------------------------------
# YAML: split into documents, parse each with libyaml, build plain data


# "---" then a space, a line break or the end; whether a line break (or the start) precedes it is checked
# in Python: a look-behind alternative here would make the regex engine try every position.
_DOC_START = re.compile(rf"---(?=[ \t{BREAK}]|\Z)")
# After a "..." end marker, directives and comments belong to the next document.
_DIRECTIVE_TAIL = re.compile(
    r"(?:^|\n)\.\.\.[ \t]*(?:#[^\n]*)?\n((?:%[^\n]*\n|#[^\n]*\n|[ \t]*\n)*%[^\n]*\n(?:#[^\n]*\n|[ \t]*\n)*)\Z"
)


def _split(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each document's text: splits at ``---`` lines, which end any YAML node."""
    starts = [0] + [
        m.start() for m in _DOC_START.finditer(text) if m.start() > 0 and text[m.start() - 1] in BREAK
    ]
    spans = list(zip(starts, [*starts[1:], len(text)], strict=True))
    if "%" in text:
        for i in range(len(spans) - 1):
            tail = _DIRECTIVE_TAIL.search(text, spans[i][0], spans[i][1])
            if tail:
                cut = tail.start(1)
                spans[i] = (spans[i][0], cut)
                spans[i + 1] = (cut, spans[i + 1][1])
    return spans


def _load_yaml(source: Source, issues: list[LoadIssue]) -> Iterator[Document]:
    """The documents of a source held in memory, parsed one at a time."""
    text = source.text
    line = 0
    previous = 0
    for index, (start, end) in enumerate(_split(text)):
        line += count_breaks(text, previous, start)
        previous = start
        yield from _parsed(source, index, start, end, line, text[start:end], issues)
    source._current = None  # its last document is checked: the tree is not kept per source


def _parsed(
    source: Source, index: int, start: int, end: int, line: int, chunk: str, issues: list[LoadIssue]
) -> Iterator[Document]:
    data, found, tree, json_typed = parse_chunk_tree(source.name, chunk, line)
    # Kept while the document is checked: its tree, or its text when the compiled reader read it.
    source._current = (start, tree if tree is not None else chunk) if data is not None else None
    issues.extend(found)
    if data is not None:  # None: a syntax error, or an empty document ("---" and comments): skipped
        yield from _members(Document(source, index, start, end, line, data, json_typed=json_typed))


#: What a file must not hold to be read a block at a time (else it is read whole): line breaks other than
#: "\n" and "\r\n" (YAML also breaks lines at a lone "\r", NEL, LS and PS), and directives ("%" starting a
#: line), which may move text between documents. Searched for one by one: each is a fast substring search,
#: where one regular expression with these alternatives tries every position; and each only where its last
#: byte is there (``_marked``).
_WHOLE_TEXT_MARKS = (b"\xc2\x85", b"\xe2\x80\xa8", b"\xe2\x80\xa9", b"\n%")
_LONE_CR = re.compile(rb"\r(?!\n)")
_SCAN_CHUNK = 1 << 20


def _streamable(fh: BinaryIO) -> bool:
    """Can this file be read line by line with the same result as whole? UTF-8 without a byte order mark,
    no NUL in the first 8 KiB (binary), YAML rather than JSON, and nothing in ``_NEEDS_WHOLE_TEXT``.
    Anything else (including an encoding error, reported from the whole text) reads the file whole."""
    head = fh.read(8192)
    if b"\x00" in head or head.startswith(b"%") or any(head.startswith(bom) for bom, _ in _BOMS):
        return False
    if head.lstrip(b" \t\r\n")[:1] == b"{" or (not head.lstrip(b" \t\r\n") and head):
        return False  # JSON, or a file that starts with 8 KiB of blank lines: decided on the whole text
    decoder = codecs.getincrementaldecoder("utf-8")()
    tail = b""
    chunk = head
    while chunk:
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError:
            return False
        window = tail + chunk
        if _marked(window) or window.endswith(b"\r"):
            return False
        if b"\r" in window and _LONE_CR.search(window):
            return False
        tail = window[-2:]
        chunk = fh.read(_SCAN_CHUNK)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _marked(window: bytes) -> bool:
    """Does ``window`` hold one of ``_WHOLE_TEXT_MARKS``? A single byte is found with memchr, about a
    hundred times faster than a longer string; the marks' last bytes are rare in manifests, so each mark is
    looked for only in a window holding its last byte."""
    return any(mark[-1:] in window and mark in window for mark in _WHOLE_TEXT_MARKS)


#: A "---" line that starts a document (not the first): after a line break, before a blank or a break.
_MARKER = re.compile(rb"\n---(?=[ \t\r\n])")
_MARKER_AT_END = re.compile(rb"\n---\Z")


def _stream_yaml(source: Source, fh: BinaryIO, issues: list[LoadIssue]) -> Iterator[Document]:
    """The documents of a UTF-8 file read a block at a time (see ``_streamable``): the same documents,
    lines and offsets ``_split`` finds in the whole text, with byte offsets. Only the document being read
    is held."""
    buffer = b""
    start = 0  # file offset of buffer[0], where the current document starts
    line = 0
    index = 0
    while True:
        block = fh.read(_SCAN_CHUNK)
        buffer += block
        # Without more input a marker at the very end may still be followed by a blank: wait for it.
        limit = len(buffer) if not block else max(0, len(buffer) - 4)
        cut = 0
        for marker in _MARKER.finditer(buffer, 0, limit):
            end = marker.start() + 1
            yield from _parsed(
                source, index, start + cut, start + end, line, buffer[cut:end].decode(), issues
            )
            line += buffer.count(b"\n", cut, end)
            index += 1
            cut = end
        if not block:
            if _MARKER_AT_END.search(buffer, cut):  # "---" ending the file starts an empty document
                end = len(buffer) - 3
                yield from _parsed(
                    source, index, start + cut, start + end, line, buffer[cut:end].decode(), issues
                )
                line += buffer.count(b"\n", cut, end)
                index += 1
                cut = end
            yield from _parsed(
                source, index, start + cut, start + len(buffer), line, buffer[cut:].decode(), issues
            )
            source._current = None  # its last document is checked: the tree is not kept per file
            return
        buffer = buffer[cut:]
        start += cut


# --------------------------------------------------------------------------------------------------------
# JSON: json.loads for data (exact JSON semantics), YAML composition of the same text for locations


def _load_json(source: Source, issues: list[LoadIssue]) -> Iterator[Document]:
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in items:
            if key in obj:
                duplicates.append(key)
            obj[key] = value
        return obj

    try:
        data = json.loads(source.text, object_pairs_hook=pairs, parse_int=json_int)
    except json.JSONDecodeError as exc:
        issues.append(
            LoadIssue("syntax", f"JSON syntax error: {exc.msg}", Location(source.name, exc.lineno, exc.colno))
        )
        return
    except RecursionError:
        issues.append(
            LoadIssue("too-complex", "JSON nested too deeply; not checked", Location(source.name, 1, 1))
        )
        return
    if _depth_exceeds(data, MAX_DEPTH):
        issues.append(
            LoadIssue(
                "too-complex",
                f"nested more than {MAX_DEPTH} levels deep; not checked",
                Location(source.name, 1, 1),
            )
        )
        return
    document = Document(source, 0, 0, len(source.text), 0, data)
    if duplicates:
        root = source.tree(0, len(source.text))
        located = find_duplicates(root) if root is not None else []
        unlocated: list[tuple[str, Node | None]] = [(d, None) for d in duplicates]
        for key, node in located or unlocated:
            line, column = (
                (node.start_mark.line + 1, node.start_mark.column + 1) if node is not None else (1, 1)
            )
            issues.append(
                LoadIssue(
                    "duplicate-key",
                    f"duplicate key {key!r}; JSON parsers keep only the last value, so the earlier one is "
                    "lost",
                    Location(source.name, line, column),
                )
            )
    yield from _members(document)


def _depth_exceeds(data: Any, limit: int) -> bool:
    stack = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values() if isinstance(v, (dict, list)))
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value if isinstance(v, (dict, list)))
    return False


# --------------------------------------------------------------------------------------------------------
# Lists


def _members(document: Document) -> Iterator[Document]:
    """A document; a ``kind: List`` (or ``<Kind>List`` from ``kubectl get -o yaml``): its items."""
    data = document.data
    if not _is_list(data):
        yield document
        return
    for i, item in enumerate(data["items"]):
        yield Document(
            document.source,
            document.index,
            document.start,
            document.end,
            document.first_line,
            item,
            base=(*document.base, "items", i),
            parent=data,
            json_typed=document.json_typed,
        )


#: List kinds that are objects in their own right, not wrappers of other objects.
_NOT_WRAPPERS = frozenset({"TrafficMetricsList"})


def _is_list(data: Any) -> bool:
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        return False
    kind = data.get("kind")
    if not isinstance(kind, str) or not kind.endswith("List") or kind in _NOT_WRAPPERS:
        return False
    return kind == "List" or isinstance(data.get("apiVersion"), str)
