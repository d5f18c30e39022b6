"""The validating webhook for SMI objects: the control plane's admission (smi lint's engine) behind an
AdmissionReview (reference_mesh/kube/webhooks.py). On a real API server: tests/kind/test_reference_mesh.py."""

from __future__ import annotations

from typing import Any

import pytest

from reference_mesh.control.resources import ObjectKey
from reference_mesh.control.store import StoredObject, StoreState
from reference_mesh.kube.convert import smi_object
from reference_mesh.kube.webhooks import ReviewError, admit_smi, judge_smi


def review(obj: dict[str, Any], namespace: str = "shop") -> dict[str, Any]:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {"uid": "r-7", "namespace": namespace, "operation": "CREATE", "object": obj},
    }


def split(name: str, backends: list[tuple[str, int]], root: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "split.smi-spec.io/v1alpha4",
        "kind": "TrafficSplit",
        "metadata": {"name": name, "uid": "u", "managedFields": [{"manager": "kubectl"}]},
        "spec": {"service": root, "backends": [{"service": s, "weight": w} for s, w in backends]},
    }


def state(*objects: dict[str, Any]) -> StoreState:
    stored = {}
    for i, obj in enumerate(objects, start=1):
        model = smi_object({**obj, "metadata": {**obj["metadata"], "namespace": "shop"}})
        key = ObjectKey(model.kind, "shop", model.metadata.name)
        stored[key] = StoredObject(key, model, i, i)
    return StoreState(stored, len(objects))


def verdict(obj: dict[str, Any], held: StoreState | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = admit_smi(review(obj), judge_smi(review(obj), held or state()))["response"]
    return answer


def test_an_error_refuses_the_object_with_the_rule_code_and_name() -> None:
    answer = verdict(split("canary", [("web-v1", 1), ("web-v1", 2)]))
    assert answer["uid"] == "r-7" and answer["allowed"] is False
    assert answer["status"]["code"] == 422
    assert "SMI204 duplicate-backend" in answer["status"]["message"]


def test_warnings_are_returned_to_kubectl_and_the_object_is_allowed() -> None:
    answer = verdict(split("dark", [("web-v1", 0)]))
    assert answer["allowed"] is True
    assert any(w.startswith("SMI203 all-weights-zero:") for w in answer["warnings"])


def test_objects_are_judged_against_what_the_mesh_holds() -> None:
    held = state(split("first", [("web-v1", 1)]))
    second = verdict(split("second", [("web-v2", 1)]), held)
    assert not second["allowed"] and "SMI206 duplicate-split-root" in second["status"]["message"]
    # an update of the object already held replaces it: no conflict with itself
    assert verdict(split("first", [("web-v2", 1)]), held)["allowed"]


def test_a_target_naming_a_match_its_group_lacks_is_refused_only_when_the_group_is_known() -> None:
    group = {
        "apiVersion": "specs.smi-spec.io/v1alpha4",
        "kind": "HTTPRouteGroup",
        "metadata": {"name": "routes"},
        "spec": {"matches": [{"name": "hello", "pathRegex": "/hello"}]},
    }
    target = {
        "apiVersion": "access.smi-spec.io/v1alpha3",
        "kind": "TrafficTarget",
        "metadata": {"name": "t"},
        "spec": {
            "destination": {"kind": "ServiceAccount", "name": "web", "namespace": "shop"},
            "sources": [{"kind": "ServiceAccount", "name": "client", "namespace": "shop"}],
            "rules": [{"kind": "HTTPRouteGroup", "name": "routes", "matches": ["helo"]}],
        },
    }
    refused = verdict(target, state(group))
    assert not refused["allowed"] and "SMI302" in refused["status"]["message"]
    # without the group (not created yet, or not yet seen) it is only a warning: why the controller judges
    # against the API's current objects rather than its cache
    unknown = verdict(target)
    assert unknown["allowed"] and any(w.startswith("SMI301") for w in unknown["warnings"])


def test_an_object_created_without_a_namespace_gets_the_requests() -> None:
    result = judge_smi(review(split("canary", [("web-v1", 1)]), namespace="other"), state())
    assert [o.metadata.namespace for o in result.objects] == ["other"]


@pytest.mark.parametrize("bad", [None, {"kind": "Pod"}, {"kind": "AdmissionReview", "request": {"uid": "x"}}])
def test_what_is_not_an_admission_review_is_refused(bad: Any) -> None:
    with pytest.raises(ReviewError):
        judge_smi(bad, state())
