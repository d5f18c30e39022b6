"""Finding a mesh adapter by name.

Adapters register a factory in the ``smi_conformance.meshes`` entry point group, as the reference mesh does in
this project's pyproject.toml::

    [project.entry-points."smi_conformance.meshes"]
    reference = "reference_mesh.conformance:adapter"

A factory takes the user's options (``--smi-mesh-option KEY=VALUE``) and returns a MeshAdapter. A mesh may
instead be described by a declarative adapter file (:mod:`.declarative`): ``--smi-mesh=path/to/adapter.yaml``,
or the name of a file shipped in ``smi_conformance/mesh/adapters/`` (``--smi-mesh=linkerd``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from pathlib import Path

from smi_conformance.mesh.adapter import AdapterError, MeshAdapter

__all__ = ["ENTRY_POINT_GROUP", "available", "load_adapter", "parse_options"]

ENTRY_POINT_GROUP = "smi_conformance.meshes"
#: Declarative adapter files shipped with the suite, by name (``<name>.yaml``).
BUNDLED = Path(__file__).parent / "adapters"
ADAPTER_SUFFIXES = (".yaml", ".yml")


def bundled() -> dict[str, Path]:
    """The shipped adapter files by name."""
    return {p.stem: p for p in sorted(BUNDLED.glob("*.yaml"))}


def available() -> dict[str, str]:
    """Adapter names -> where their factory or file lives (registered ones win over shipped files)."""
    out = {name: str(path) for name, path in bundled().items()}
    out.update({ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)})
    return out


def _from_file(path: Path, options: Mapping[str, str] | None) -> MeshAdapter:
    from smi_conformance.mesh.declarative import load_adapter_file

    if options:
        raise AdapterError(
            f"mesh adapter file {path} takes no --smi-mesh-option (given: {', '.join(sorted(options))}); "
            "edit a copy of the file instead"
        )
    return load_adapter_file(path)


def load_adapter(name: str, options: Mapping[str, str] | None = None) -> MeshAdapter:
    """The adapter registered as ``name`` (built with ``options``), the adapter file at path ``name``, or the
    shipped adapter file of that name. AdapterError names the known ones."""
    if name.endswith(ADAPTER_SUFFIXES) or "/" in name:
        return _from_file(Path(name), options)
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found and name in bundled():
        return _from_file(bundled()[name], options)
    if not found:
        known = ", ".join(sorted(available())) or "none installed"
        raise AdapterError(f"no mesh adapter named {name!r} (known: {known}; or give an adapter file's path)")
    try:
        factory: Callable[[Mapping[str, str]], MeshAdapter] = found[0].load()
    except Exception as exc:  # an adapter package that fails to import is the adapter's problem: say so
        raise AdapterError(f"mesh adapter {name!r} ({found[0].value}) failed to load: {exc}") from exc
    try:
        adapter = factory(dict(options or {}))
    except (ValueError, KeyError) as exc:
        raise AdapterError(f"mesh adapter {name!r}: {exc}") from None
    if not isinstance(adapter, MeshAdapter):
        raise AdapterError(
            f"mesh adapter {name!r}: its factory returned {type(adapter).__name__}, not a MeshAdapter"
        )
    return adapter


def parse_options(pairs: list[str]) -> dict[str, str]:
    """``["faults=ignore-weights", "split=weighted_random"]`` -> dict; ValueError for a pair without ``=``."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"mesh option {pair!r} is not KEY=VALUE")
        out[key.strip()] = value.strip()
    return out
