"""Generated objects as YAML: in input order, each under a comment naming the SMI objects it came from.

Order: by the position of the (first) source object in the input (file, then place in the file), then in
the order the converter generated them (a route before the policies that name it). The comment gives each
source's kind, namespace/name, apiVersion and ``file:line``, so a reviewer can find what to compare.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePath

from smi_conformance.convert_command import dump_yaml
from smi_conformance.gateway.context import Generated
from smi_conformance.lint.resources import Resource
from smi_conformance.manifests import Source

__all__ = ["ordered", "output_name", "render"]


def ordered(generated: Sequence[Generated], sources: Sequence[Source]) -> list[Generated]:
    rank = {id(s): i for i, s in enumerate(sources)}

    def key(item: tuple[int, Generated]) -> tuple[int, int, tuple[str, ...], int]:
        index, gen = item
        first = gen.sources[0].document
        return (rank.get(id(first.source), len(rank)), first.start, tuple(map(str, first.base)), index)

    return [gen for _, gen in sorted(enumerate(generated), key=key)]


def _where(resource: Resource) -> str:
    location = resource.document.locate(())
    return f"{resource.display} ({resource.api_version}), {location.file}:{location.line}"


def render(generated: Sequence[Generated]) -> str:
    """A multi-document YAML stream; empty when nothing was generated."""
    parts = []
    for gen in generated:
        first, *rest = gen.sources
        lines = [f"# From {_where(first)}"] + [f"#   with {_where(r)}" for r in rest]
        parts.append("\n".join(lines) + "\n" + dump_yaml(gen.data))
    return "---\n".join(parts)


def output_name(source: Source) -> PurePath:
    """Where ``-o DIR`` writes the objects converted from ``source``: its path relative to the current
    folder when it is below it, its file name otherwise, ``stdin.yaml`` for standard input."""
    if source.name.startswith("<"):
        return PurePath("stdin.yaml")
    path = Path(source.name)
    try:
        relative = path.absolute().relative_to(Path.cwd())
    except ValueError:
        return PurePath(path.name)
    return PurePath(relative)
