"""YAML text -> plain data, with every check that needs the parser's nodes: duplicate keys, nesting
depth, tags, alias expansion. Also composes documents with marks to locate nodes (``walk``).

libyaml (PyYAML's C parser) builds the nodes; a small builder turns them into JSON-like data the way
Kubernetes reads YAML (YAML 1.1 scalars; timestamps stay strings; keys are strings). Nothing is ever
constructed from a tag. Used by :mod:`smi_conformance.manifests`, which owns files, documents and Lists.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.scanner import Scanner


class PythonParser(Reader, Scanner, Parser, Composer):
    """PyYAML's pure-Python parser and composer: the same nodes as libyaml's, about ten times slower. Used
    where PyYAML was built without libyaml (``LIBYAML`` is False)."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)

    def dispose(self) -> None:
        pass


try:
    from yaml._yaml import CParser as _CParser

    LIBYAML = True
except ImportError:  # pragma: no cover - every PyYAML wheel of the supported platforms bundles libyaml
    _CParser = PythonParser  # type: ignore[misc,assignment]
    LIBYAML = False

PathKey = str | int
NodePath = tuple[PathKey, ...]

#: YAML line breaks (PyYAML's reader counts all of these).
BREAK = "\r\n\x85\u2028\u2029"
LINE_BREAKS = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")


def count_breaks(text: str, start: int, end: int) -> int:
    """Line breaks in ``text[start:end]`` as YAML counts them (``\\r\\n`` is one)."""
    if start == end:
        return 0
    chunk = text[start:end]
    if "\r" not in chunk and "\x85" not in chunk and "\u2028" not in chunk and "\u2029" not in chunk:
        return chunk.count("\n")
    return len(LINE_BREAKS.findall(chunk))


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


class HugeInt(int):
    """An integer written with more digits than Python converts from text (``sys.get_int_max_str_digits()``,
    4300 by default): far outside any Kubernetes integer field (int64 at most).

    Converting such text exactly takes time quadratic in its length, and the exact value is never needed:
    this keeps the sign and a magnitude larger than any integer with fewer digits, so range checks judge it
    right, and its text says how many digits it had (``str()`` of the real value would raise).
    """

    digits: int

    def __new__(cls, negative: bool, digits: int) -> HugeInt:
        self = super().__new__(cls, -_HUGE if negative else _HUGE)
        self.digits = digits
        return self

    def __repr__(self) -> str:
        return f"{'-' if self < 0 else ''}<an integer of {self.digits} digits>"

    __str__ = __repr__


_HUGE = 10 ** (getattr(sys, "get_int_max_str_digits", lambda: 0)() or 4300)
_DECIMAL = re.compile(r"[-+]?[0-9_]+")


def huge_int(text: str) -> HugeInt | None:
    """The HugeInt of a decimal integer literal too long to convert (``[-+]digits``, YAML's ``_`` allowed);
    None if ``text`` is not one."""
    if not _DECIMAL.fullmatch(text):
        return None
    digits = text.lstrip("+-").replace("_", "").lstrip("0")
    return HugeInt(text.startswith("-"), len(digits))


def json_int(text: str) -> int:
    """``json.loads``' ``parse_int``: integers of any length, never the 4300-digit ValueError."""
    try:
        return int(text)
    except ValueError:
        huge = huge_int(text)
        if huge is None:  # pragma: no cover - json only passes integer literals
            raise
        return huge


def parse_chunk(name: str, chunk: str, line: int, *, python: bool = False) -> tuple[Any, list[LoadIssue]]:
    """One document's text (starting at 0-based ``line`` of file ``name``) -> (plain data or None, issues).

    ``python``: with PyYAML's pure-Python parser instead of libyaml (the same data; syntax errors may be
    worded differently)."""
    data, issues, _, _ = parse_chunk_tree(name, chunk, line, python=python)
    return data, issues


def parse_chunk_tree(
    name: str, chunk: str, line: int, *, python: bool = False, native: bool = True
) -> tuple[Any, list[LoadIssue], Node | None, bool | None]:
    """``parse_chunk``, plus the document's node tree (marks included: what ``compose_marks`` gives, for
    ``walk``), or None when there is no data or the compiled reader read it (``NATIVE``; ``native=False``
    or ``python``: not tried); and whether the compiled reader found the data JSON-typed (see
    ``NativeReader.document``; None when the Python path read it: not looked at)."""
    if NATIVE is not None and native and not python:
        read = NATIVE.document(chunk)
        if read is not None:
            return read[0], [], None, read[1]
    loader = _PythonLoader(chunk) if python or not LIBYAML else _FastLoader(chunk)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_issue(name, exc, line, chunk)], None, None
    except yaml.reader.ReaderError as exc:
        row, column = _char_position(chunk.encode("utf-8")[: exc.position].decode("utf-8", "replace"))
        return (
            None,
            [LoadIssue("syntax", _reader_message(exc), Location(name, line + row, column))],
            None,
            None,
        )
    except yaml.YAMLError as exc:  # pragma: no cover - every libyaml error is marked; keep a located fallback
        return None, [LoadIssue("syntax", str(exc).splitlines()[0], Location(name, line + 1, 1))], None, None
    finally:
        loader.dispose()
    if node is None:
        return None, [], None, None  # an empty document (comments only, or a stray ---): nothing to check
    builder = _Builder(name, line, expand_aliases="&" in chunk)
    try:
        return builder.build(node), builder.issues, node, None
    except _TooComplex as exc:
        return None, [exc.issue], None, None


#: What a tab where libyaml expects indentation means, in words (libyaml says "found character that cannot
#: start any token" for most of them).
TAB_INDENT = "tabs are not allowed for indentation in YAML; indent with spaces"


def _syntax_issue(name: str, exc: yaml.MarkedYAMLError, line: int, chunk: str) -> LoadIssue:
    mark = exc.problem_mark or exc.context_mark
    problem = (exc.problem or "invalid YAML").strip()
    message = f"YAML syntax error: {problem}"
    if mark is not None and _char_at(chunk, mark.line, mark.column) == "\t":
        message = f"YAML syntax error: {TAB_INDENT}"
    elif exc.context and exc.context_mark is not None and exc.context_mark is not mark:
        message += f" ({exc.context.strip()} at line {line + exc.context_mark.line + 1})"
    if mark is None:  # pragma: no cover - libyaml always marks problems
        return LoadIssue("syntax", message, Location(name, line + 1, 1))
    return LoadIssue("syntax", message, Location(name, line + mark.line + 1, mark.column + 1))


def _char_at(text: str, line: int, column: int) -> str:
    """The character at a 0-based (line, column) of ``text``, or "" past its end."""
    lines = LINE_BREAKS.split(text, maxsplit=line + 1)
    if line >= len(lines):
        return ""
    row = lines[line]
    return row[column] if column < len(row) else ""


def _reader_message(exc: yaml.reader.ReaderError) -> str:
    char = exc.character
    code = f"#x{ord(char):04x}" if isinstance(char, str) else f"#x{char:02x}"
    return f"character {code} is not allowed in YAML ({exc.reason})"


def _char_position(prefix: str) -> tuple[int, int]:
    """(1-based line offset, 1-based column) just after ``prefix``."""
    line_start = max(prefix.rfind(c) for c in BREAK) + 1
    return count_breaks(prefix, 0, len(prefix)) + 1, len(prefix) - line_start + 1


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

    def __init__(self, name: str, line: int, *, expand_aliases: bool) -> None:
        self.name = name
        self.line = line
        self.issues: list[LoadIssue] = []
        self.memo: dict[int, Any] | None = {} if expand_aliases else None

    def where(self, node: Node) -> Location:
        mark = node.start_mark
        return Location(self.name, self.line + mark.line + 1, mark.column + 1)

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
        tag: Any = node.tag  # a str, or a slice for an implicit tag (see _FastLoader)
        if tag.__class__ is not slice and tag not in _PLAIN_TAGS:
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

    def mapping(self, node: Node, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merges: list[Node] | None = None
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
            key = key_node.value
            if (key == "<<" and _tag(key_node) == _MERGE) or key_node.tag == _MERGE:
                merges = [*(merges or []), value_node]
                continue
            if key in result:
                self.duplicate(node, key_node)
            if value_node.__class__ is ScalarNode:
                tag: Any = value_node.tag  # the common cases inline: quoted, or plain and seen before
                if tag.__class__ is slice:
                    if not tag.step[0]:
                        result[key] = value_node.value
                        continue
                    known = _PLAIN.get(value_node.value, _UNSEEN)
                    if known is not _UNSEEN:
                        result[key] = known
                        continue
                result[key] = self.scalar(value_node)
            else:
                result[key] = self.value(value_node, depth)
        for merge in merges or ():
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

    def duplicate(self, node: Node, key_node: Node) -> None:
        first = next(k for k, _ in node.value if k.__class__ is ScalarNode and k.value == key_node.value)
        self.issues.append(
            LoadIssue(
                "duplicate-key",
                f"duplicate key {key_node.value!r} (first at line {self.where(first).line}); YAML parsers "
                "keep only the last value, so the earlier one is silently lost",
                self.where(key_node),
            )
        )

    def scalar(self, node: Any) -> Any:
        tag = node.tag
        if tag.__class__ is slice:  # implicit (see _FastLoader): quoted and block scalars are strings
            return plain_value(node.value) if tag.step[0] else node.value
        value = typed_value(node.value, tag)
        if value is _UNTYPED:
            self.check_tag(node)
            return node.value
        return value

    def check_tag(self, node: Node) -> None:
        tag: Any = node.tag
        if tag.__class__ is not slice and tag not in _PLAIN_TAGS:
            self.issues.append(
                LoadIssue(
                    "unsupported-tag",
                    f"YAML tag {node.tag!r} has no meaning in a Kubernetes manifest; read as a plain value",
                    self.where(node),
                )
            )


def plain_value(text: str) -> Any:
    """A plain (unquoted, untagged) scalar's value as YAML 1.1 resolves it, memoised by its text: manifests
    repeat the same plain scalars (kinds, versions, names, numbers) over and over. The native reader calls
    this for every plain scalar it has not seen, so both readers type scalars alike."""
    known = _PLAIN.get(text, _UNSEEN)
    if known is not _UNSEEN:
        return known
    value = typed_value(text, _implicit(text))
    if value is _UNTYPED:  # a tag PyYAML resolves but nothing constructs (merge, value): the text
        value = text
    if len(text) <= 64 and len(_PLAIN) < 20_000:
        _PLAIN[text] = value
    return value


_UNTYPED = object()


def typed_value(text: str, tag: str) -> Any:
    """A scalar's value as its (explicit or resolved) tag says; ``_UNTYPED`` for a tag that gives none
    (the caller keeps the text, and reports an explicit tag)."""
    if tag == _STR:
        return text
    try:
        if tag == _INT:
            try:
                return (
                    int(text)
                    if text.isdigit() and (text[0] != "0" or text == "0")
                    else _SAFE.construct_yaml_int(ScalarNode(tag, text))
                )
            except ValueError:  # longer than Python converts (4300 digits): still an integer
                huge = huge_int(text)
                if huge is None:
                    raise
                return huge
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return _BOOLS[text.lower()]
        if tag == _FLOAT:
            return _SAFE.construct_yaml_float(ScalarNode(tag, text))
    except (ValueError, KeyError):
        return text
    return _UNTYPED


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


_RESOLVER = yaml.resolver.Resolver()
_IMPLICIT: dict[str, str] = {}
#: Plain scalars' text -> their value (str, int, float, bool or None: immutable, so shared), memoised like
#: their tags: a manifest repeats the same plain scalars (kinds, versions, names, numbers) over and over.
_PLAIN: dict[str, Any] = {}
_UNSEEN = object()


#: The characters a plain scalar YAML 1.1 may give a type other than str can start with: those PyYAML's
#: implicit resolvers are keyed by. Both readers take any other plain scalar as a string without asking.
_TYPED_START = "".join(first for first in _RESOLVER.yaml_implicit_resolvers if first)


def _implicit(value: str) -> str:
    """The tag YAML 1.1 gives a plain scalar (PyYAML's implicit resolvers), memoised: manifests repeat
    the same plain scalars (kinds, versions, names, numbers) over and over. Most names (``app-17``) start
    with a letter no resolver looks at: strings at once, and not memoised."""
    if value[:1] not in _TYPED_START:  # "" is in every string: the empty scalar is resolved (null)
        return _STR
    tag = _IMPLICIT.get(value)
    if tag is None:
        tag = str(_RESOLVER.resolve(ScalarNode, value, (True, False)))  # type: ignore[no-untyped-call]
        if len(value) <= 64 and len(_IMPLICIT) < 20_000:
            _IMPLICIT[value] = tag
    return tag


def _tag(node: Node) -> str:
    """A scalar node's tag, resolving an implicit one."""
    tag: Any = node.tag
    if tag.__class__ is slice:
        return _implicit(node.value) if tag.step[0] else _STR
    return str(tag)


class _Hooks:
    """The resolver hooks the composers call, as C callables: ``resolve(kind, value, (plain, quoted))``
    for every node and ``descend_resolver``/``ascend_resolver`` around it. Python methods there cost as
    much as libyaml's parsing itself. ``slice`` takes those arguments and keeps them: a node whose tag is a
    slice had no explicit tag, and ``_Builder`` resolves it from ``slice.step`` (plain or quoted) and the
    value."""

    resolve = staticmethod(slice)
    descend_resolver = staticmethod(slice)
    ascend_resolver = staticmethod(tuple)


class _FastLoader(_Hooks, _CParser):
    """libyaml's parser, building nodes only (``_Builder`` makes the data)."""

    def __init__(self, stream: str) -> None:
        _CParser.__init__(self, stream)


class _PythonLoader(_Hooks, PythonParser):
    """The same with PyYAML's pure-Python parser (``parse_chunk(..., python=True)``)."""


class _MarkLoader(_Hooks, _CParser):
    """For locating only: nodes with marks; their tags (slices, see ``_Hooks``) are never read."""

    def __init__(self, stream: str) -> None:
        _CParser.__init__(self, stream)


def walk(root: Node, path: Iterable[PathKey]) -> tuple[Node, Node | None, bool]:
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


def compose_marks(text: str) -> Node | None:
    """The node tree of one document, with marks, for locating; None if it does not parse."""
    loader = _MarkLoader(text)
    try:
        node: Node | None = loader.get_single_node()
    except (yaml.YAMLError, RecursionError):
        return None
    finally:
        loader.dispose()
    return node


def find_duplicates(root: Node) -> list[tuple[str, Node]]:
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


class NativeReader(Protocol):
    """The compiled reader (``native/``: libyaml's parser in Rust, building the data directly). It reads
    the documents that need none of _Builder's checks (no anchors, aliases, tags, merge keys, duplicate
    keys, collections as keys, deep nesting, syntax errors) and declines every other one, which then goes
    through libyaml's nodes and _Builder: the same data either way, and every issue worded once."""

    def document(self, text: str, /) -> tuple[Any, bool] | None:
        """``(data, json_typed)`` of the one document in ``text``, or None: read it with the Python path.
        ``json_typed``: every scalar is a str, bool, None or an int that fits in 64 bits."""


#: The ``smi_conformance_yaml`` build this code expects (its ``API``); an older build is not used.
NATIVE_API = 2


#: Where a node is: 0-based line, column, end line, end column (columns in characters), as libyaml marks.
Span = tuple[int, int, int, int]
#: What ``find`` returns: the span of the deepest node a path reaches, of its key if it was reached
#: through one, and whether the whole path was followed.
Found = tuple[Span, Span | None, bool]


def _native() -> tuple[NativeReader | None, Callable[[str, list[PathKey]], Found | None] | None]:
    """The compiled reader and its ``locate`` (``walk`` on the document's text, declining what only
    ``compose_marks`` handles: aliases, syntax errors) if they are installed (``make setup`` builds them
    when Rust is there), unless ``SMI_YAML_NATIVE=0`` (to compare, or to rule them out)."""
    if os.environ.get("SMI_YAML_NATIVE") == "0":
        return None, None
    try:
        module = importlib.import_module("smi_conformance_yaml")
    except ImportError:
        return None, None
    if getattr(module, "API", 1) != NATIVE_API:  # built from older sources: `make setup` builds it again
        return None, None
    return cast(NativeReader, module.Reader(plain_value, _TYPED_START)), module.locate


NATIVE, NATIVE_LOCATE = _native()


def find(document: Node | str | None, path: NodePath) -> Found | None:
    """Where the node at ``path`` is in a document, given as its marked node tree (``compose_marks``) or
    its text; None if it has no node tree (a syntax error, or empty)."""
    if isinstance(document, str):
        if NATIVE_LOCATE is not None:
            found = NATIVE_LOCATE(document, list(path))
            if found is not None:
                return found
        document = compose_marks(document)
    if document is None:
        return None
    node, key_node, complete = walk(document, path)
    return _span(node), (_span(key_node) if key_node is not None else None), complete


def _span(node: Node) -> Span:
    start, end = node.start_mark, node.end_mark
    return start.line, start.column, end.line, end.column
