"""Conversion between the versions of an SMI kind, through a hub.

Every kind has a *hub* shape (a plain dict): the most expressive layout of that kind. Each version has a
:class:`Codec` that lifts its documents into the hub and lowers hub documents into itself, reporting every
piece of information that version cannot hold. So converting A -> B is ``B.from_hub(A.to_hub(doc))``, pairs of
versions need no code of their own, and a lossy conversion fails with a :class:`ConversionError` naming the
source path.

Nothing is dropped silently: a destination port, a UDPRoute rule, split ``matches``, header filters, port
lists or the exact ratio of v1alpha1 Quantity weights either survive the conversion or stop it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smi_conformance.models.api import dump, info_for, load, validate
from smi_conformance.models.conversion import access, metrics, specs, split
from smi_conformance.models.conversion.base import Codec, Losses
from smi_conformance.models.problems import ConversionError, Problem
from smi_conformance.models.registry import KindInfo, lookup, versions_of

_CODECS: dict[tuple[str, str], dict[str, Codec]] = {
    **split.CODECS,
    **access.CODECS,
    **specs.CODECS,
    **metrics.CODECS,
}


def codec_for(info: KindInfo) -> Codec:
    """The codec of one kind and version."""
    return _CODECS[(info.group, info.kind)][info.version]


def target_info(source: KindInfo, to_version: str) -> KindInfo:
    """The KindInfo of ``source``'s kind in ``to_version`` ("v1alpha4" or "split.smi-spec.io/v1alpha4")."""
    group, _, version = to_version.rpartition("/")
    if group and group != source.group:
        raise LookupError(
            f"cannot convert {source.kind} ({source.group}) to another API group: {to_version!r}"
        )
    target = lookup(f"{source.group}/{version}", source.kind)
    if target is None:
        known = ", ".join(i.version for i in versions_of(source.group, source.kind))
        raise LookupError(f"{source.kind} has no version {version!r} (known: {known})")
    return target


def convert(doc: Mapping[str, Any], to_version: str) -> dict[str, Any]:
    """``doc`` (a valid SMI document) as the same kind in ``to_version``: a plain dict in the usual key order.

    Raises SMIValidationError if ``doc`` is invalid, LookupError for an unknown kind or target version, and
    ConversionError (each problem with the source path and why) when the target cannot express the document.
    """
    source = info_for(doc)
    target = target_info(source, to_version)
    model = load(doc)
    src, dst = codec_for(source), codec_for(target)
    hub = src.to_hub(dump(model))
    losses = Losses(target.api_version, [])
    out = dst.from_hub(hub, losses)
    subject = f"{source.kind} from {source.api_version} to {target.api_version}"
    if losses.items:
        raise ConversionError(
            [Problem(src.own_path(path), message, "value") for path, message in losses.items], subject
        )
    out = {"apiVersion": target.api_version, **{k: v for k, v in out.items() if k != "apiVersion"}}
    problems = validate(out)  # the target's own rules, e.g. a Service name format
    if problems:
        raise ConversionError(
            [
                Problem(
                    src.own_path(dst.hub_path(p.path)),
                    f"cannot be expressed in {target.api_version}: {p.message}",
                    p.kind,
                )
                for p in problems
            ],
            subject,
        )
    return dump(target.model.model_validate(out))


__all__ = ["codec_for", "convert", "target_info"]
