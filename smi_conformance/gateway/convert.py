"""One conversion: SMI objects in, Gateway API (and mesh authorization) objects and findings out.

Pure: documents come in already loaded (``smi_conformance.manifests``), nothing is read or written here.
Each SMI object is validated by the models first; an invalid one is reported (GW001) and not converted.
"""

from __future__ import annotations

from collections.abc import Sequence

from smi_conformance.gateway import findings as gw
from smi_conformance.gateway.context import Conversion, Options
from smi_conformance.gateway.sources import Inputs
from smi_conformance.gateway.split import convert_split
from smi_conformance.lint.resources import Resource
from smi_conformance.manifests import Document

__all__ = ["ROUTE_SPECS", "convert"]

ROUTE_SPECS = frozenset({"HTTPRouteGroup", "TCPRoute", "UDPRoute"})
_UNSUPPORTED = frozenset({"IdentityBinding", "TrafficMetrics", "TrafficMetricsList"})


def convert(
    documents: Sequence[Document], context: Sequence[Document] = (), options: Options | None = None
) -> tuple[Conversion, list[Resource]]:
    """Convert the SMI objects of ``documents``; ``context`` documents (``--services``) are only read.

    Returns the conversion (generated objects, findings) and the SMI objects of ``documents`` in input
    order.
    """
    options = options or Options()
    inputs = Inputs([*documents, *context])
    conv = Conversion(inputs, options)
    mine = {id(d) for d in documents}
    objects = [r for r in inputs.resources if r.is_smi and id(r.document) in mine]
    targets = []
    for resource in objects:
        if resource.kind in _UNSUPPORTED:
            conv.report(
                gw.UnsupportedObject, resource, ("kind",),
                f"{resource.kind} has no counterpart in Gateway API or the meshes; left out",
            )  # fmt: skip
        elif resource.kind == "TrafficSplit":
            if conv.is_valid(resource):
                convert_split(conv, resource)
        elif resource.kind == "TrafficTarget":
            if options.authz is None:
                conv.report(
                    gw.TargetNotConverted, resource, ("kind",),
                    "TrafficTarget not converted: choose the mesh whose authorization it becomes with "
                    "--authz linkerd or --authz istio",
                )  # fmt: skip
            elif conv.is_valid(resource):
                targets.append(resource)
        elif resource.kind in ROUTE_SPECS:
            conv.is_valid(resource)
        else:
            conv.is_valid(resource)  # an SMI kind or version the models do not know: GW001
    if targets:
        from smi_conformance.gateway.authz import convert_targets

        convert_targets(conv, targets)
    for resource in objects:
        if resource.kind not in ROUTE_SPECS:
            continue
        users = conv.spec_users.get(id(resource))
        if not users and conv.is_valid(resource):
            conv.report(
                gw.UnusedRouteSpec, resource, ("kind",),
                f"no converted object uses {resource.display}; nothing is generated from it",
            )  # fmt: skip
        elif users and all(id(u) in conv.converted for u in users):
            conv.converted.add(id(resource))  # its meaning lives on in what its users became
    return conv, objects
