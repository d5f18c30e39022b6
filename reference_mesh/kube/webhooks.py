"""The admission webhooks: an ``AdmissionReview`` in, a verdict out. Pure (the controller serves them).

* **SMI objects** (validating): the object is judged by the control plane's admission
  (:func:`reference_mesh.control.admission.admit_apply`: ``smi lint``'s engine, against the objects the mesh
  holds, then a compilation), exactly as ``reference-mesh apply`` judges a manifest. An error refuses the
  object with the rule code and name in the message (``SMI206 duplicate-split-root: ...``); warnings are
  returned as admission warnings, which ``kubectl`` prints.
* **Pods** (mutating): the sidecar is injected (:mod:`.inject`) with a JSON patch; a pod labelled
  ``reference-mesh.smi-conformance.io/inject: disabled`` is left alone.
* **SMI versions** (the CRDs' conversion webhook): a ``ConversionReview`` in, every object in the desired
  version out, by the models' conversion (:mod:`smi_conformance.models.conversion`); an object the desired
  version cannot express (split ``matches`` in v1alpha2, ratios that need weights beyond int32) fails the
  request with the reason, instead of being returned with something dropped.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any

import yaml

from reference_mesh.control.admission import AdmissionResult, Finding, admit_apply
from reference_mesh.control.compiler import MeshSettings
from reference_mesh.control.store import StoreState
from reference_mesh.kube import names
from reference_mesh.kube.inject import InjectionConfig, InjectionError, inject_pod
from smi_conformance.lint.registry import RULES
from smi_conformance.manifests import load_text
from smi_conformance.models.conversion import convert
from smi_conformance.models.problems import ConversionError, SMIValidationError

__all__ = ["ReviewError", "admit_pod", "admit_smi", "convert_smi", "judge_smi", "response"]

_MAX_WARNINGS = 20


class ReviewError(ValueError):
    """Not an AdmissionReview request this webhook can answer."""


def _request(review: Any) -> dict[str, Any]:
    if not isinstance(review, dict) or review.get("kind") != "AdmissionReview":
        raise ReviewError("expected an AdmissionReview")
    request = review.get("request")
    if not isinstance(request, dict) or not isinstance(request.get("uid"), str):
        raise ReviewError("the AdmissionReview has no request with a uid")
    if not isinstance(request.get("object"), dict):
        raise ReviewError("the AdmissionReview request has no object")
    return request


def response(
    uid: str,
    *,
    allowed: bool = True,
    message: str | None = None,
    code: int = 403,
    warnings: Iterable[str] = (),
    patch: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    answer: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if not allowed:
        answer["status"] = {"code": code, "message": message or "refused", "reason": "Invalid"}
    listed = list(warnings)
    if listed:
        answer["warnings"] = listed[:_MAX_WARNINGS]
    if patch is not None:
        answer["patchType"] = "JSONPatch"
        answer["patch"] = base64.b64encode(json.dumps(patch).encode()).decode()
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": answer}


def _line(finding: Finding) -> str:
    rule = RULES.get(finding.code)
    name = f" {rule.name}" if rule is not None else ""
    return f"{finding.code}{name}: {finding.message}"


def judge_smi(review: Any, state: StoreState, settings: MeshSettings | None = None) -> AdmissionResult:
    """The control plane's admission of the object under review, against ``state``."""
    request = _request(review)
    obj = dict(request["object"])
    meta = dict(obj.get("metadata") or {})
    meta.pop("managedFields", None)
    if not meta.get("namespace") and request.get("namespace"):
        meta["namespace"] = request["namespace"]  # created without one: it gets the request's
    obj["metadata"] = meta
    name = f"{obj.get('kind')} {meta.get('namespace')}/{meta.get('name') or meta.get('generateName')}"
    return admit_apply(load_text(yaml.safe_dump(obj, sort_keys=False), name), state, settings)


def admit_smi(review: Any, result: AdmissionResult) -> dict[str, Any]:
    """The AdmissionReview answer for a judged SMI object."""
    uid = _request(review)["uid"]
    errors = [f for f in result.findings if f.severity == "error"]
    warnings = [_line(f) for f in result.findings if f.severity == "warning"]
    if errors:
        message = "refused by the reference mesh: " + "; ".join(_line(f) for f in errors)
        return response(uid, allowed=False, message=message, code=422, warnings=warnings)
    return response(uid, warnings=warnings)


def admit_pod(review: Any, config: InjectionConfig) -> dict[str, Any]:
    """Inject the sidecar into the pod under review (a JSON patch), unless it opted out or has it already."""
    request = _request(review)
    uid, pod = request["uid"], request["object"]
    metadata, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    if (metadata.get("labels") or {}).get(names.INJECT_LABEL) == "disabled":
        return response(uid)
    try:
        new_metadata, new_spec = inject_pod(metadata, spec, config)
    except InjectionError as exc:
        return response(uid, allowed=False, message=f"reference mesh injection: {exc}", code=400)
    if new_spec is spec:
        return response(uid)  # injected already (by `reference-mesh inject`)
    patch = [
        {"op": "replace", "path": "/spec", "value": new_spec},
        {"op": "add", "path": "/metadata/labels", "value": new_metadata["labels"]},
    ]
    return response(uid, patch=patch)


def convert_smi(review: Any) -> dict[str, Any]:
    """The ConversionReview answer: the objects in ``desiredAPIVersion`` (metadata untouched), or a failure
    naming the first object that version cannot express."""
    if not isinstance(review, dict) or review.get("kind") != "ConversionReview":
        raise ReviewError("expected a ConversionReview")
    request = review.get("request")
    if not isinstance(request, dict) or not isinstance(request.get("uid"), str):
        raise ReviewError("the ConversionReview has no request with a uid")
    desired, objects = request.get("desiredAPIVersion"), request.get("objects")
    if not isinstance(desired, str) or not isinstance(objects, list):
        raise ReviewError("the ConversionReview request needs desiredAPIVersion and objects")
    converted = []
    for obj in objects:
        meta = (obj.get("metadata") if isinstance(obj, dict) else None) or {}
        if not isinstance(obj, dict) or obj.get("apiVersion") == desired:
            converted.append(obj)
            continue
        body = {k: v for k, v in obj.items() if k != "metadata"}
        body["metadata"] = {k: meta[k] for k in ("name", "namespace") if k in meta}
        try:
            out = convert(body, desired)
        except (ConversionError, SMIValidationError, LookupError) as exc:
            where = f"{obj.get('kind')} {meta.get('namespace', '')}/{meta.get('name', '')}"
            failure = {"status": "Failure", "message": f"{where} cannot be served as {desired}: {exc}"}
            return _conversion(request["uid"], failure)
        out["metadata"] = meta
        converted.append(out)
    return _conversion(request["uid"], {"status": "Success"}, converted)


def _conversion(uid: str, result: dict[str, Any], objects: list[Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"uid": uid, "result": result}
    if objects is not None:
        answer["convertedObjects"] = objects
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview", "response": answer}
