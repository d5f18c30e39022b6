"""The store's contents at one revision, as the compiler and admission read them: pure data, no I/O.

:class:`StoreState` is what :meth:`reference_mesh.control.store.Store.state` returns; it lives apart from the
stores (which wait on asyncio conditions) so that the pure parts of the control plane import no event loop.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from reference_mesh.control.resources import ObjectKey

__all__ = ["StoreState", "StoredObject"]


@dataclass(frozen=True)
class StoredObject:
    """An object as stored: its typed model (SMI model or :mod:`.resources` model) and its versions."""

    key: ObjectKey
    obj: Any
    resource_version: int
    #: Revision at which an object of this key was first created (ordering ties between conflicting objects).
    created: int

    @property
    def api_version(self) -> str:
        return str(self.obj.api_version)



class StoreState:
    """An immutable view of the whole store at ``revision``."""

    __slots__ = ("_by_kind", "objects", "revision")

    def __init__(self, objects: Mapping[ObjectKey, StoredObject], revision: int):
        self.objects: Mapping[ObjectKey, StoredObject] = MappingProxyType(dict(objects))
        self.revision = revision
        by_kind: dict[str, list[StoredObject]] = collections.defaultdict(list)
        for key in sorted(self.objects):
            by_kind[key.kind].append(self.objects[key])
        self._by_kind = dict(by_kind)

    def get(self, kind: str, namespace: str, name: str) -> StoredObject | None:
        return self.objects.get(ObjectKey(kind, namespace, name))

    def of_kind(self, kind: str, namespace: str | None = None) -> list[StoredObject]:
        """Objects of ``kind`` (any API version), ordered by namespace and name."""
        items = self._by_kind.get(kind, [])
        return items if namespace is None else [o for o in items if o.key.namespace == namespace]

    def models(self, kind: str, namespace: str | None = None) -> Iterator[Any]:
        return (o.obj for o in self.of_kind(kind, namespace))

    def __len__(self) -> int:
        return len(self.objects)
