"""validate / load / dump: documents (plain dicts from YAML or JSON) in, typed models or Problems out.

Each model's validator is compiled once, when it first validates (``defer_build``; its group's classes are
defined when the registry first hands one out); after that ``validate`` only looks the model up and runs
it, so the common case (a valid document) costs one dict lookup and one pydantic-core call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from smi_conformance.models.problems import Problem, SMIValidationError, problems_from_error
from smi_conformance.models.registry import KindInfo, lookup


def info_for(doc: Mapping[str, Any]) -> KindInfo:
    """The KindInfo of a document; LookupError when apiVersion/kind is not a known SMI kind and version."""
    api_version = doc.get("apiVersion") if isinstance(doc, Mapping) else None
    kind = doc.get("kind") if isinstance(doc, Mapping) else None
    info = lookup(api_version, kind) if isinstance(api_version, str) and isinstance(kind, str) else None
    if info is None:
        raise LookupError(f"not a known SMI kind and version: apiVersion={api_version!r}, kind={kind!r}")
    return info


def validate(doc: Mapping[str, Any], info: KindInfo | None = None) -> list[Problem]:
    """Problems of an SMI document, [] when valid; LookupError when apiVersion/kind is not an SMI kind.
    ``info``: the document's KindInfo when the caller looked it up already (the linter)."""
    if info is None:
        info = info_for(doc)
    try:
        info.model.__pydantic_validator__.validate_python(_plain(doc))
    except ValidationError as exc:
        return problems_from_error(exc, info.model)
    return []


def load(doc: Mapping[str, Any]) -> BaseModel:
    """The typed model of an SMI document; SMIValidationError (with its problems) when it is invalid."""
    info = info_for(doc)
    try:
        return info.model.__pydantic_validator__.validate_python(_plain(doc))  # type: ignore[no-any-return]
    except ValidationError as exc:
        raise SMIValidationError(
            problems_from_error(exc, info.model), f"{info.kind} ({info.api_version})"
        ) from None


def dump(model: BaseModel) -> dict[str, Any]:
    """A model as a plain dict ready for YAML or JSON: Kubernetes field names, in the usual order
    (apiVersion, kind, metadata, spec), leaving out optional fields the document did not set. Quantities and
    headers keep the form they were written in."""
    out = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if "status" in out:  # status goes last, as in Kubernetes output
        out["status"] = out.pop("status")
    return out


def _plain(doc: Mapping[str, Any]) -> Any:
    """Documents normally are dicts already; other Mappings (e.g. a loader's own node type) are copied."""
    if isinstance(doc, dict):
        return doc
    return _copy_plain(doc)


def _copy_plain(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {k: _copy_plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_copy_plain(v) for v in node]
    return node
