"""Typed, strict models of every SMI API version, and the small API the linter, the mesh and users build on.

>>> from smi_conformance import models
>>> doc = {
...     "apiVersion": "split.smi-spec.io/v1alpha4", "kind": "TrafficSplit", "metadata": {"name": "canary"},
...     "spec": {"service": "web", "backends": [{"service": "web-v1", "weight": -1}]},
... }
>>> [str(p) for p in models.validate(doc)]
['spec.backends[0].weight: weight must be an integer >= 0, got -1']

Modules: :mod:`.split`, :mod:`.access`, :mod:`.specs`, :mod:`.metrics` (a class per kind and version),
:mod:`.meta` (ObjectMeta, name formats), :mod:`.quantity` (exact Kubernetes Quantities), :mod:`.registry`
(which kinds and versions exist), :mod:`.conversion` (between versions of a kind).
"""

from typing import TYPE_CHECKING, Any

from smi_conformance.models.registry import KindInfo, kinds, lookup

if TYPE_CHECKING:
    from smi_conformance.models.api import dump, load, validate
    from smi_conformance.models.conversion import convert
    from smi_conformance.models.problems import ConversionError, Problem, SMIValidationError
    from smi_conformance.models.quantity import Quantity

__all__ = [
    "ConversionError",
    "KindInfo",
    "Problem",
    "Quantity",
    "SMIValidationError",
    "convert",
    "dump",
    "kinds",
    "load",
    "lookup",
    "validate",
]


_LAZY = {
    "dump": "api",
    "load": "api",
    "validate": "api",
    "convert": "conversion",
    "ConversionError": "problems",
    "Problem": "problems",
    "SMIValidationError": "problems",
    "Quantity": "quantity",
}


def __getattr__(name: str) -> Any:
    """The parts that need pydantic load on first use: ``import smi_conformance.models`` (the registry, what
    the linter looks kinds up in) does not import it, and linting valid objects never does
    (``quick_accept``); nor does it ever convert."""
    module = _LAZY.get(name)
    if module is not None:
        import importlib

        return getattr(importlib.import_module(f"smi_conformance.models.{module}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
