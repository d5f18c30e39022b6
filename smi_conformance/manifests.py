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
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Literal

import yaml
from yaml._yaml import CParser as _CParser
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MANIFEST_SUFFIXES",
    "MAX_DEPTH",
    "MAX_EXPANDED_NODES",
    "Document",
    "LoadIssue",
    "LoadResult",
    "Location",
    "Source",
    "load_paths",
    "load_text",
]

PathKey = str | int
NodePath = tuple[PathKey, ...]

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
#: Files larger than this are reported, not parsed (bounded time and memory); ``--max-bytes`` overrides.
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
#: Deeper than this is no Kubernetes object; libyaml itself stops at 1000.
MAX_DEPTH = 200
#: Nodes a document may expand to through YAML aliases before it counts as an alias bomb.
MAX_EXPANDED_NODES = 1_000_000

IssueKind = Literal[
    "syntax",
    "duplicate-key",
    "encoding",
    "binary",
    "too-large",
    "too-complex",
    "unsupported-tag",
    "unreadable",
]


@dataclass(frozen=True, order=True)
class Location:
    """A place in an input: 1-based line and column (columns count Unicode code points)."""

    file: str
    line: int
    column: int
    end_line: int | None = None
    end_column: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class LoadIssue:
    """Why (part of) an input could not be read as manifests."""

    kind: IssueKind
    message: str
    location: Location


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
        node, key_node, complete = _walk(root, self.base + tuple(path))
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
            if self.source.is_json:
                text = text.replace(
                    "\t", " "
                )  # JSON allows tabs as whitespace, YAML 1.1 does not; same columns
            try:
                trees[self.start] = yaml.compose(text, Loader=_MarkLoader)
            except (yaml.YAMLError, RecursionError):
                trees[self.start] = None
        return trees[self.start]


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
    for raw in paths:
        if raw == "-":
            stream = stdin if stdin is not None else sys.stdin.buffer
            data = stream.read(max_bytes + 1)
            _load_bytes(result, "<stdin>", data, max_bytes=max_bytes, is_json=False)
            continue
        path = Path(raw)
        if path.is_dir():
            for file in _walk_dir(path, exclude):
                _load_file(result, file, max_bytes)
        elif path.exists():
            _load_file(result, path, max_bytes)
        else:
            result.unreadable.append((raw, "no such file or directory"))
    return result


def load_text(text: str | bytes, name: str = "<string>", *, max_bytes: int = DEFAULT_MAX_BYTES) -> LoadResult:
    """Read one in-memory input (tests, stdin-like callers)."""
    result = LoadResult()
    data = text.encode() if isinstance(text, str) else text
    _load_bytes(result, name, data, max_bytes=max_bytes, is_json=name.endswith(".json"))
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
        data = path.read_bytes()
    except OSError as exc:
        result.unreadable.append((name, exc.strerror or str(exc)))
        return
    _load_bytes(result, name, data, max_bytes=max_bytes, is_json=path.suffix == ".json")


def _too_large(name: str, size: int, max_bytes: int) -> LoadIssue:
    return LoadIssue(
        "too-large",
        f"input is {size} bytes, more than the {max_bytes}-byte limit; not parsed "
        "(raise the limit with --max-bytes)",
        Location(name, 1, 1),
    )


def _load_bytes(result: LoadResult, name: str, data: bytes, *, max_bytes: int, is_json: bool) -> None:
    source = Source(name, is_json=is_json)
    result.sources.append(source)
    if len(data) > max_bytes:
        result.issues.append(_too_large(name, len(data), max_bytes))
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


#: YAML line breaks (PyYAML's reader counts all of these).
_BREAK = "\r\n\x85\u2028\u2029"
_DOC_START = re.compile(rf"(?:(?<=[{_BREAK}])|^)---(?=[ \t{_BREAK}]|\Z)")
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
# After a "..." end marker, directives and comments belong to the next document.
_DIRECTIVE_TAIL = re.compile(
    r"(?:^|\n)\.\.\.[ \t]*(?:#[^\n]*)?\n((?:%[^\n]*\n|#[^\n]*\n|[ \t]*\n)*%[^\n]*\n(?:#[^\n]*\n|[ \t]*\n)*)\Z"
)


def _split(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each document's text: splits at ``---`` lines, which end any YAML node."""
    starts = [0] + [m.start() for m in _DOC_START.finditer(text) if m.start() > 0]
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
    text = source.text
    line = 0
    previous = 0
    for index, (start, end) in enumerate(_split(text)):
        line += _count_breaks(text, previous, start)
        previous = start
        _load_chunk(result, source, index, start, end, line)


def _count_breaks(text: str, start: int, end: int) -> int:
    if start == end:
        return 0
    chunk = text[start:end]
    if "\r" not in chunk and "\x85" not in chunk and "\u2028" not in chunk and "\u2029" not in chunk:
        return chunk.count("\n")
    return len(_LINE_BREAKS.findall(chunk))


def _load_chunk(result: LoadResult, source: Source, index: int, start: int, end: int, line: int) -> None:
    chunk = source.text[start:end]
    loader = _FastLoader(chunk)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        result.issues.append(_syntax_issue(source.name, exc, line))
        return
    except yaml.reader.ReaderError as exc:
        row, column = _char_position(chunk.encode("utf-8")[: exc.position].decode("utf-8", "replace"))
        result.issues.append(
            LoadIssue("syntax", _reader_message(exc), Location(source.name, line + row, column))
        )
        return
    except yaml.YAMLError as exc:  # pragma: no cover - every libyaml error is marked; keep a located fallback
        result.issues.append(
            LoadIssue("syntax", str(exc).splitlines()[0], Location(source.name, line + 1, 1))
        )
        return
    finally:
        loader.dispose()
    if node is None:
        return  # an empty document (comments only, or a stray ---): nothing to check, as kubectl does
    builder = _Builder(source, line, expand_aliases="&" in chunk)
    try:
        data = builder.build(node)
    except _TooComplex as exc:
        result.issues.append(exc.issue)
        return
    result.issues.extend(builder.issues)
    if data is not None:  # "---" followed by nothing but comments: an empty document, skipped like kubectl
        _add_documents(result, Document(source, index, start, end, line, data))


def _syntax_issue(name: str, exc: yaml.MarkedYAMLError, line: int) -> LoadIssue:
    mark = exc.problem_mark or exc.context_mark
    problem = (exc.problem or "invalid YAML").strip()
    message = f"YAML syntax error: {problem}"
    if exc.context and exc.context_mark is not None and exc.context_mark is not mark:
        message += f" ({exc.context.strip()} at line {line + exc.context_mark.line + 1})"
    if mark is None:  # pragma: no cover - libyaml always marks problems
        return LoadIssue("syntax", message, Location(name, line + 1, 1))
    return LoadIssue("syntax", message, Location(name, line + mark.line + 1, mark.column + 1))


def _reader_message(exc: yaml.reader.ReaderError) -> str:
    char = exc.character
    code = f"#x{ord(char):04x}" if isinstance(char, str) else f"#x{char:02x}"
    return f"character {code} is not allowed in YAML ({exc.reason})"


def _char_position(prefix: str) -> tuple[int, int]:
    """(1-based line offset, 1-based column) just after ``prefix``."""
    line_start = max(prefix.rfind(c) for c in _BREAK) + 1
    return _count_breaks(prefix, 0, len(prefix)) + 1, len(prefix) - line_start + 1


class _TooComplex(Exception):
    def __init__(self, issue: LoadIssue) -> None:
        super().__init__(issue.message)
        self.issue = issue


_INT = "tag:yaml.org,2002:int"
_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_FLOAT = "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"
_PLAIN_TAGS = frozenset(
    {
        _STR,
        "tag:yaml.org,2002:timestamp",  # kept as text: Kubernetes reads timestamps as strings
        "tag:yaml.org,2002:binary",
        "tag:yaml.org,2002:value",
        "tag:yaml.org,2002:map",
        "tag:yaml.org,2002:seq",
        "tag:yaml.org,2002:omap",
        "tag:yaml.org,2002:set",
    }
)
_BOOLS = {
    "yes": True,
    "no": False,
    "true": True,
    "false": False,
    "on": True,
    "off": False,
    "y": True,
    "n": False,
}
_SAFE = yaml.constructor.SafeConstructor()


class _Builder:
    """Node tree -> plain data, with duplicate-key, depth, tag and alias-expansion checks (all located)."""

    def __init__(self, source: Source, line: int, *, expand_aliases: bool) -> None:
        self.source = source
        self.line = line
        self.issues: list[LoadIssue] = []
        self.memo: dict[int, Any] | None = {} if expand_aliases else None

    def where(self, node: Node) -> Location:
        mark = node.start_mark
        return Location(self.source.name, self.line + mark.line + 1, mark.column + 1)

    def build(self, node: Node) -> Any:
        if self.memo is not None:
            total = _expanded_size(node, {}, MAX_EXPANDED_NODES)
            if total > MAX_EXPANDED_NODES:
                raise _TooComplex(
                    LoadIssue(
                        "too-complex",
                        f"YAML aliases expand this document to more than {MAX_EXPANDED_NODES} nodes "
                        "(an alias bomb?); not checked",
                        self.where(node),
                    )
                )
        return self.value(node, 0)

    def value(self, node: Node, depth: int) -> Any:
        cls = node.__class__
        if cls is ScalarNode:
            return self.scalar(node)
        if depth >= MAX_DEPTH:
            raise _TooComplex(
                LoadIssue(
                    "too-complex",
                    f"nested more than {MAX_DEPTH} levels deep; not checked",
                    self.where(node),
                )
            )
        memo = self.memo
        if memo is not None:
            done = memo.get(id(node))
            if done is not None:
                return done
        self.check_tag(node)
        result: Any
        if cls is MappingNode:
            result = self.mapping(node, depth + 1)
        else:
            result = [
                self.scalar(v) if v.__class__ is ScalarNode else self.value(v, depth + 1) for v in node.value
            ]
        if memo is not None:
            memo[id(node)] = result
        return result

    def mapping(self, node: MappingNode, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.__class__ is not ScalarNode:
                self.issues.append(
                    LoadIssue(
                        "syntax",
                        "a mapping or sequence used as a key: Kubernetes objects only have string keys",
                        self.where(key_node),
                    )
                )
                continue
            if key_node.tag == _MERGE:
                merges.append(value_node)
                continue
            key = key_node.value
            if key in result:
                self.duplicate(node, key_node)
            result[key] = (
                self.scalar(value_node)
                if value_node.__class__ is ScalarNode
                else self.value(value_node, depth)
            )
        for merge in merges:
            sources = merge.value if merge.__class__ is SequenceNode else [merge]
            for source in sources:
                merged = self.value(source, depth)
                if isinstance(merged, dict):
                    for key, value in merged.items():
                        result.setdefault(key, value)
                else:
                    self.issues.append(
                        LoadIssue("syntax", "a merge key (<<) must name mappings", self.where(merge))
                    )
        return result

    def duplicate(self, node: MappingNode, key_node: Node) -> None:
        first = next(k for k, _ in node.value if k.__class__ is ScalarNode and k.value == key_node.value)
        self.issues.append(
            LoadIssue(
                "duplicate-key",
                f"duplicate key {key_node.value!r} (first at line {self.where(first).line}); YAML parsers "
                "keep only the last value, so the earlier one is silently lost",
                self.where(key_node),
            )
        )

    def scalar(self, node: Node) -> Any:
        tag = node.tag
        if tag == _STR:
            return node.value
        try:
            if tag == _INT:
                value = node.value
                return (
                    int(value)
                    if value.isdigit() and (value[0] != "0" or value == "0")
                    else _SAFE.construct_yaml_int(node)
                )
            if tag == _NULL:
                return None
            if tag == _BOOL:
                return _BOOLS[node.value.lower()]
            if tag == _FLOAT:
                return _SAFE.construct_yaml_float(node)
        except (ValueError, KeyError):
            return node.value
        self.check_tag(node)
        return node.value

    def check_tag(self, node: Node) -> None:
        if node.tag not in _PLAIN_TAGS:
            self.issues.append(
                LoadIssue(
                    "unsupported-tag",
                    f"YAML tag {node.tag!r} has no meaning in a Kubernetes manifest; read as a plain value",
                    self.where(node),
                )
            )


def _expanded_size(node: Node, sizes: dict[int, int], limit: int) -> int:
    """How many nodes the document has once every alias is expanded (memoised: linear in the real nodes)."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    total = 1
    if node.__class__ is MappingNode:
        for key, value in node.value:
            total += _expanded_size(key, sizes, limit) + _expanded_size(value, sizes, limit)
            if total > limit:
                break
    elif node.__class__ is SequenceNode:
        for item in node.value:
            total += _expanded_size(item, sizes, limit)
            if total > limit:
                break
    sizes[id(node)] = total
    return total


class _FastResolver(yaml.resolver.Resolver):
    """PyYAML's YAML 1.1 implicit typing, memoised for the plain scalars that repeat across manifests."""

    _cache: ClassVar[dict[str, str]] = {}

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass

    def resolve(self, kind: type[Node], value: str, implicit: tuple[bool, bool]) -> str:  # type: ignore[override]
        if kind is ScalarNode and implicit[0]:
            tag = self._cache.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(value) <= 64 and len(self._cache) < 100_000:
                    self._cache[value] = tag
            return tag
        if kind is ScalarNode:
            return _STR
        return super().resolve(kind, value, implicit)


class _FastLoader(_CParser, _FastResolver):  # type: ignore[misc]
    """libyaml parser + memoised resolver; builds nodes only (our _Builder makes the data)."""

    def __init__(self, stream: str) -> None:
        _CParser.__init__(self, stream)
        _FastResolver.__init__(self)


class _MarkLoader(_CParser, yaml.resolver.BaseResolver):  # type: ignore[misc]
    """For locating only: nodes with marks, no implicit typing needed."""

    def __init__(self, stream: str) -> None:
        _CParser.__init__(self, stream)
        yaml.resolver.BaseResolver.__init__(self)


def _walk(root: Node, path: Iterable[PathKey]) -> tuple[Node, Node | None, bool]:
    """Follow ``path`` from ``root``: (deepest node reached, its key node if reached via a key, complete?)."""
    node: Node = root
    key_node: Node | None = None
    for step in path:
        nxt: Node | None = None
        nxt_key: Node | None = None
        if isinstance(node, MappingNode):
            for k, v in node.value:  # the last duplicate wins, as in the data
                if isinstance(k, ScalarNode) and k.value == str(step):
                    nxt, nxt_key = v, k
        elif isinstance(node, SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
            nxt, nxt_key = node.value[step], None
        if nxt is None:
            return node, key_node, False
        node, key_node = nxt, nxt_key
    return node, key_node, True


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
        located = _find_duplicates(root) if root is not None else []
        for key, node in located or [(d, None) for d in duplicates]:
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


def _find_duplicates(root: Node) -> list[tuple[str, Node]]:
    found: list[tuple[str, Node]] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                if isinstance(key, ScalarNode):
                    if key.value in seen:
                        found.append((key.value, key))
                    seen.add(key.value)
                stack.append(value)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    return sorted(found, key=lambda item: (item[1].start_mark.line, item[1].start_mark.column))


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
