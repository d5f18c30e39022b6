"""The conformance tests' registry: each test is a record (what it checks, what it needs) plus a short body.

    @conformance(
        "split-two-backends",
        "HTTP requests to the root service are split 90/10 over two backends",
        group="split.smi-spec.io",
        features={Feature.TRAFFIC_SPLIT},
        objects=lambda t: [allow_all(t, "client", "web"), split(t, "web", {"web-v1": 90, "web-v2": 10})],
    )
    def test_split_two_backends(smi: TestContext) -> None:
        smi.expect_split("client", "web", {"web-v1": 90, "web-v2": 10})

The body has no set-up or clean-up: the plugin skips the test when the mesh does not claim its features,
writes its objects in API versions the mesh serves, applies them before the body and deletes them after. The
id is the report key and stays stable across releases.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from smi_conformance.suite.features import FEATURES, Feature, Profile, profile_of
from smi_conformance.suite.topology import Topology

__all__ = ["REGISTRY", "ConformanceTest", "ObjectsFactory", "conformance", "load_suite"]

ObjectsFactory = Callable[[Topology], list[dict[str, Any]]]
F = TypeVar("F", bound=Callable[..., Any])
_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
GROUP_NAMES = ("split.smi-spec.io", "access.smi-spec.io", "specs.smi-spec.io", "metrics.smi-spec.io")


@dataclass(frozen=True)
class ConformanceTest:
    id: str
    description: str
    #: The SMI API group this test is about (its report section).
    group: str
    features: frozenset[Feature]
    #: API group -> the versions this test's objects may be written in (others: every version the objects
    #: convert to). The run uses the newest version both the test and the mesh accept.
    versions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    objects: ObjectsFactory | None = None
    #: Takes noticeably longer than the others (window waits): shown in listings.
    slow: bool = False
    module: str = ""
    function: str = ""

    @property
    def profile(self) -> Profile:
        return profile_of(self.features)

    def to_json(self, topology: Topology | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "description": self.description,
            "group": self.group,
            "profile": self.profile.value,
            "features": sorted(f.value for f in self.features),
            "versions": {g: list(v) for g, v in self.versions.items()},
            "slow": self.slow,
        }
        if topology is not None and self.objects is not None:
            out["objects"] = [
                f"{d['kind']} {d['metadata']['namespace']}/{d['metadata']['name']} ({d['apiVersion']})"
                for d in self.objects(topology)
            ]
        return out


#: id -> test, in definition order.
REGISTRY: dict[str, ConformanceTest] = {}


def conformance(
    id: str,
    description: str,
    *,
    group: str,
    features: Iterable[Feature],
    versions: Mapping[str, Iterable[str]] | None = None,
    objects: ObjectsFactory | None = None,
    slow: bool = False,
) -> Callable[[F], F]:
    """Register a conformance test (see the module docstring)."""
    if not _ID.match(id):
        raise ValueError(f"conformance test id {id!r} must be lower-case words joined by '-'")
    if group not in GROUP_NAMES:
        raise ValueError(f"{id}: group {group!r} is not one of {', '.join(GROUP_NAMES)}")
    given = list(features)
    unknown = [f for f in given if f not in FEATURES]
    if not given or unknown:
        raise ValueError(f"{id}: needs at least one known feature (unknown: {unknown})")
    feats = frozenset(Feature(f) for f in given)  # a feature named by its string is that Feature

    def register(func: F) -> F:
        existing = REGISTRY.get(id)
        if existing is not None and (existing.module, existing.function) != (func.__module__, func.__name__):
            raise ValueError(
                f"conformance test id {id!r} is used twice ({existing.module}.{existing.function}, "
                f"{func.__module__}.{func.__name__})"
            )
        REGISTRY[id] = ConformanceTest(
            id=id,
            description=description,
            group=group,
            features=feats,
            versions={g: tuple(v) for g, v in (versions or {}).items()},
            objects=objects,
            slow=slow,
            module=func.__module__,
            function=func.__name__,
        )
        marked: F = pytest.mark.smi_conformance(id)(func)
        return marked

    return register


def load_suite() -> dict[str, ConformanceTest]:
    """Import every conformance test module so the registry is complete (for listings without pytest)."""
    import importlib
    import pkgutil

    import smi_conformance.suite.tests as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("test_"):
            importlib.import_module(f"{package.__name__}.{info.name}")
    return REGISTRY
