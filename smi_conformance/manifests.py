"""Load Kubernetes manifests (YAML or JSON) and say where any node came from.

Input is read from files, directories (recursively: ``.yaml``, ``.yml``, ``.json``) or stdin, split into
documents, and turned into plain JSON-like data (dict, list, str, int, float, bool, None), never arbitrary
objects. Every :class:`Document` remembers the file and line where it starts; :meth:`Document.locate`
finds the ``file:line:column`` of any node path *lazily*: only documents that end up with a finding are
parsed a second time with marks, so clean documents cost one fast libyaml pass and nothing more.

Everything that stops a file or document from being read (syntax errors, duplicate keys, bad encodings,
binary content, alias bombs, excessive nesting or size) becomes a located :class:`LoadIssue`, never an
exception: callers decide how to report it.
"""

from __future__ import annotations

import json
import marshal
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from yaml.nodes import Node

from smi_conformance._yamlparse import (
    BREAK,
    MAX_DEPTH,
    MAX_EXPANDED_NODES,
    LoadIssue,
    Location,
    NodePath,
    compose_marks,
    count_breaks,
    find_duplicates,
    parse_chunk,
    walk,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MANIFEST_SUFFIXES",
    "MAX_DEPTH",
    "MAX_EXPANDED_NODES",
    "Document",
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


@dataclass(eq=False)
class Source:
    """One input: a file or stdin. ``name`` is what reports show (the path as given, or ``<stdin>``)."""

    name: str
    text: str = ""
    is_json: bool = False
    _trees: dict[int, Node | None] = field(default_factory=dict, repr=False)


@dataclass(eq=False)
class Document:
    """One manifest: its data plus enough to locate any node in it later."""

    source: Source
    index: int  #: 0-based position among the documents of its source
    start: int  #: offset of the document's text in ``source.text``
    end: int
    first_line: int  #: 0-based line of ``start`` in the source
    data: Any
    base: NodePath = ()  #: path of this object inside its document (``("items", 3)`` for List members)
    parent: Any = None  #: for List members: the whole List document

    def locate(self, path: NodePath = (), *, key: bool = False) -> Location:
        """Where the node at ``path`` (relative to this object) is.

        ``key=True`` points at the mapping key instead of its value (unknown fields). A path that does not
        exist (a missing field) resolves to its deepest existing ancestor, at that ancestor's key.
        """
        root = self._tree()
        if root is None:
            return Location(self.source.name, self.first_line + 1, 1)
        node, key_node, complete = walk(root, self.base + tuple(path))
        mark_node = key_node if key_node is not None and (key or not complete) else node
        start, end = mark_node.start_mark, mark_node.end_mark
        return Location(
            self.source.name,
            self.first_line + start.line + 1,
            start.column + 1,
            self.first_line + end.line + 1,
            end.column + 1,
        )

    def _tree(self) -> Node | None:
        trees = self.source._trees
        if self.start not in trees:
            text = self.source.text[self.start : self.end]
            if self.source.is_json:  # JSON allows tabs as whitespace, YAML 1.1 does not; same columns
                text = text.replace("\t", " ")
            trees[self.start] = compose_marks(text)
        return trees[self.start]


@dataclass
class LoadResult:
    """Everything read from the inputs, in input order."""

    documents: list[Document] = field(default_factory=list)
    issues: list[LoadIssue] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    #: Paths that could not be opened at all (missing, permission denied): a usage error, not a finding.
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    #: YAML documents waiting to be parsed: (source, index, start, end, first line).
    _pending: list[tuple[Source, int, int, int, int]] = field(default_factory=list, repr=False)


# --------------------------------------------------------------------------------------------------------
# Reading inputs


def load_paths(
    paths: Sequence[str],
    *,
    stdin: BinaryIO | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    exclude: Callable[[Path], bool] | None = None,
) -> LoadResult:
    """Read files, directories (recursively) and ``-`` (stdin) into documents and issues.

    ``exclude`` filters files found by walking directories; files named explicitly are always read.
    """
    result = LoadResult()
    seen: set[str] = set()  # a file named twice (or inside a folder also named) is read once

    def read(file: Path) -> None:
        key = os.path.realpath(file)
        if key not in seen:
            seen.add(key)
            _load_file(result, file, max_bytes)

    for raw in paths:
        if raw == "-":
            if "-" not in seen:
                seen.add("-")
                stream = stdin if stdin is not None else sys.stdin.buffer
                data = stream.read(max_bytes + 1)
                _load_bytes(result, "<stdin>", data, max_bytes=max_bytes, is_json=False)
            continue
        path = Path(raw)
        if path.is_dir():
            for file in _walk_dir(path, exclude):
                read(file)
        elif path.exists():
            read(path)
        else:
            result.unreadable.append((raw, "no such file or directory"))
    _parse_pending(result)
    return result


def load_text(text: str | bytes, name: str = "<string>", *, max_bytes: int = DEFAULT_MAX_BYTES) -> LoadResult:
    """Read one in-memory input (tests, stdin-like callers)."""
    result = LoadResult()
    data = text.encode() if isinstance(text, str) else text
    _load_bytes(result, name, data, max_bytes=max_bytes, is_json=name.endswith(".json"))
    _parse_pending(result)
    return result


def _walk_dir(root: Path, exclude: Callable[[Path], bool] | None) -> Iterator[Path]:
    """Manifest files under ``root`` in a stable order, skipping dot-directories and excluded files."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith(MANIFEST_SUFFIXES) and not name.startswith("."):
                file = Path(dirpath) / name
                if exclude is None or not exclude(file):
                    yield file


def _load_file(result: LoadResult, path: Path, max_bytes: int) -> None:
    name = str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            result.sources.append(Source(name))
            result.issues.append(_too_large(name, size, max_bytes))
            return
        with path.open("rb") as fh:  # never more than the limit: /dev/zero or a FIFO has no size
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        result.unreadable.append((name, exc.strerror or str(exc)))
        return
    _load_bytes(result, name, data, max_bytes=max_bytes, is_json=path.suffix == ".json")


def _too_large(name: str, size: int | None, max_bytes: int) -> LoadIssue:
    """``size`` None: read only up to the limit (stdin, devices), so the real size is unknown."""
    how_big = f"{size} bytes, more than" if size is not None else "larger than"
    return LoadIssue(
        "too-large",
        f"input is {how_big} the {max_bytes}-byte limit; not parsed (raise the limit with --max-bytes)",
        Location(name, 1, 1),
    )


def _load_bytes(result: LoadResult, name: str, data: bytes, *, max_bytes: int, is_json: bool) -> None:
    source = Source(name, is_json=is_json)
    result.sources.append(source)
    if len(data) > max_bytes:
        result.issues.append(_too_large(name, None, max_bytes))
        return
    text, issue = _decode(name, data)
    if issue is not None:
        result.issues.append(issue)
        return
    assert text is not None
    source.text = text
    if is_json:
        _load_json(result, source)
    else:
        _load_yaml(result, source)


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


def _load_yaml(result: LoadResult, source: Source) -> None:
    """Queue the documents of one source; :func:`_parse_pending` parses every queued document at once."""
    text = source.text
    line = 0
    previous = 0
    for index, (start, end) in enumerate(_split(text)):
        line += count_breaks(text, previous, start)
        previous = start
        result._pending.append((source, index, start, end, line))


#: Inputs at least this large are parsed by two processes (libyaml parsing is most of the time of a run).
PARALLEL_MIN_CHARS = 1_000_000
Parsed = list[tuple[Any, list[LoadIssue]]]


def _parse_pending(result: LoadResult) -> None:
    """Parse the queued YAML documents in input order, the second half in a forked process when large."""
    tasks, result._pending = result._pending, []
    size = sum(end - start for _, _, start, end, _ in tasks)
    parsed: Parsed | None = None
    if size >= PARALLEL_MIN_CHARS and len(tasks) > 1 and _can_fork():
        parsed = _parse_two_processes(tasks)
    if parsed is None:
        parsed = _parse(tasks)
    for (source, index, start, end, line), (data, issues) in zip(tasks, parsed, strict=True):
        result.issues.extend(issues)
        if data is not None:  # None: a syntax error, or an empty document ("---" and comments): skipped
            _add_documents(result, Document(source, index, start, end, line, data))


def _issue_tuple(issue: LoadIssue) -> tuple[Any, ...]:
    loc = issue.location
    return (issue.kind, issue.message, loc.file, loc.line, loc.column, loc.end_line, loc.end_column)


def _issue_from_tuple(fields: tuple[Any, ...]) -> LoadIssue:
    kind, message, *location = fields
    return LoadIssue(kind, message, Location(*location))


def _can_fork() -> bool:
    """Forking is safe and useful: a POSIX system, no other thread running, and a core to spare (on a
    machine whose cores are all busy, a second process only adds the cost of sending the results back)."""
    if not hasattr(os, "fork") or threading.active_count() != 1:
        return False
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:  # pragma: no cover - no load average on this system
        busy = 0.0
    return cores > 1 and busy <= cores - 1


def _parse(tasks: Sequence[tuple[Source, int, int, int, int]]) -> Parsed:
    return [parse_chunk(source.name, source.text[start:end], line) for source, _, start, end, line in tasks]


def _parse_two_processes(tasks: list[tuple[Source, int, int, int, int]]) -> Parsed | None:
    """Parse the second half of ``tasks`` in a forked child while this process parses the first half.

    The child sends its results back with ``marshal`` (plain data and issue tuples only: faster than
    pickle). Any failure of the child falls back to parsing its half here: the result never depends on
    whether the fork worked.
    """
    half = len(tasks) // 2
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        return None
    if pid == 0:  # the child: parse, send, leave without running any cleanup of the parent's
        status = 1
        try:
            os.close(read_fd)
            with os.fdopen(write_fd, "wb") as pipe:
                marshal.dump(
                    [(data, [_issue_tuple(i) for i in issues]) for data, issues in _parse(tasks[half:])], pipe
                )
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    first = _parse(tasks[:half])
    with os.fdopen(read_fd, "rb") as pipe:
        payload = pipe.read()
    _, status = os.waitpid(pid, 0)
    second: Parsed | None = None
    if status == 0 and payload:
        try:
            received = marshal.loads(payload)  # our own child's output, through a private pipe
            second = [(data, [_issue_from_tuple(i) for i in issues]) for data, issues in received]
        except (EOFError, ValueError, TypeError):
            second = None
    return first + (
        second if second is not None and len(second) == len(tasks) - half else _parse(tasks[half:])
    )


# --------------------------------------------------------------------------------------------------------
# JSON: json.loads for data (exact JSON semantics), YAML composition of the same text for locations


def _load_json(result: LoadResult, source: Source) -> None:
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in items:
            if key in obj:
                duplicates.append(key)
            obj[key] = value
        return obj

    try:
        data = json.loads(source.text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        result.issues.append(
            LoadIssue("syntax", f"JSON syntax error: {exc.msg}", Location(source.name, exc.lineno, exc.colno))
        )
        return
    except RecursionError:
        result.issues.append(
            LoadIssue("too-complex", "JSON nested too deeply; not checked", Location(source.name, 1, 1))
        )
        return
    if _depth_exceeds(data, MAX_DEPTH):
        result.issues.append(
            LoadIssue(
                "too-complex",
                f"nested more than {MAX_DEPTH} levels deep; not checked",
                Location(source.name, 1, 1),
            )
        )
        return
    document = Document(source, 0, 0, len(source.text), 0, data)
    if duplicates:
        root = document._tree()
        located = find_duplicates(root) if root is not None else []
        unlocated: list[tuple[str, Node | None]] = [(d, None) for d in duplicates]
        for key, node in located or unlocated:
            line, column = (
                (node.start_mark.line + 1, node.start_mark.column + 1) if node is not None else (1, 1)
            )
            result.issues.append(
                LoadIssue(
                    "duplicate-key",
                    f"duplicate key {key!r}; JSON parsers keep only the last value, so the earlier one is "
                    "lost",
                    Location(source.name, line, column),
                )
            )
    _add_documents(result, document)


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


def _add_documents(result: LoadResult, document: Document) -> None:
    """Add a document; a ``kind: List`` (or ``<Kind>List`` from ``kubectl get -o yaml``) adds its items."""
    data = document.data
    if _is_list(data):
        for i, item in enumerate(data["items"]):
            result.documents.append(
                Document(
                    document.source,
                    document.index,
                    document.start,
                    document.end,
                    document.first_line,
                    item,
                    base=(*document.base, "items", i),
                    parent=data,
                )
            )
        return
    result.documents.append(document)


#: List kinds that are objects in their own right, not wrappers of other objects.
_NOT_WRAPPERS = frozenset({"TrafficMetricsList"})


def _is_list(data: Any) -> bool:
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        return False
    kind = data.get("kind")
    if not isinstance(kind, str) or not kind.endswith("List") or kind in _NOT_WRAPPERS:
        return False
    return kind == "List" or isinstance(data.get("apiVersion"), str)
