"""The SMI CRDs' conversion webhook: every released version is served by converting through the models; what a
version cannot express fails the request with the reason instead of being dropped."""

from __future__ import annotations

from typing import Any

import pytest

from reference_mesh.kube.manifests import served_versions
from reference_mesh.kube.webhooks import ReviewError, convert_smi

META = {
    "name": "web-split",
    "namespace": "shop",
    "uid": "7f0c",
    "resourceVersion": "4711",
    "labels": {"team": "web"},
    "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
}


def review(desired: str, *objects: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "ConversionReview",
        "request": {"uid": "abc", "desiredAPIVersion": desired, "objects": list(objects)},
    }


def split(version: str, weights: list[Any], **spec: Any) -> dict[str, Any]:
    backends = [{"service": f"web-v{i + 1}", "weight": w} for i, w in enumerate(weights)]
    return {
        "apiVersion": f"split.smi-spec.io/{version}",
        "kind": "TrafficSplit",
        "metadata": dict(META),
        "spec": {"service": "web", "backends": backends, **spec},
    }


def test_v1alpha1_quantities_are_stored_with_their_exact_ratio_and_come_back() -> None:
    answer = convert_smi(review("split.smi-spec.io/v1alpha4", split("v1alpha1", ["1", "500m"])))
    assert answer["kind"] == "ConversionReview" and answer["response"]["uid"] == "abc"
    assert answer["response"]["result"] == {"status": "Success"}
    (stored,) = answer["response"]["convertedObjects"]
    assert stored["apiVersion"] == "split.smi-spec.io/v1alpha4"
    assert [b["weight"] for b in stored["spec"]["backends"]] == [2, 1]
    assert stored["metadata"] == META  # untouched: uid, resourceVersion, managedFields and all
    back = convert_smi(review("split.smi-spec.io/v1alpha1", stored))["response"]["convertedObjects"][0]
    assert back["apiVersion"] == "split.smi-spec.io/v1alpha1"
    assert [b["weight"] for b in back["spec"]["backends"]] == [2, 1]  # int-or-string in v1alpha1


def test_what_a_version_cannot_express_fails_with_the_reason() -> None:
    matches = [{"kind": "HTTPRouteGroup", "name": "canary"}]
    answer = convert_smi(review("split.smi-spec.io/v1alpha2", split("v1alpha4", [1, 0], matches=matches)))
    result = answer["response"]["result"]
    assert result["status"] == "Failure"
    assert "TrafficSplit shop/web-split" in result["message"] and "matches" in result["message"]
    assert "convertedObjects" not in answer["response"]


def test_objects_already_in_the_desired_version_pass_through() -> None:
    obj = split("v1alpha4", [3, 1])
    answer = convert_smi(review("split.smi-spec.io/v1alpha4", obj))
    assert answer["response"]["convertedObjects"] == [obj]


def test_traffictarget_v1alpha1_layout_converts_to_the_stored_one() -> None:
    old = {
        "apiVersion": "access.smi-spec.io/v1alpha1",
        "kind": "TrafficTarget",
        "metadata": {"name": "allow", "namespace": "shop"},
        "destination": {"kind": "ServiceAccount", "name": "web", "namespace": "shop"},
        "sources": [{"kind": "ServiceAccount", "name": "client", "namespace": "shop"}],
        "specs": [{"kind": "HTTPRouteGroup", "name": "routes", "matches": ["all"]}],
    }
    (stored,) = convert_smi(review("access.smi-spec.io/v1alpha3", old))["response"]["convertedObjects"]
    assert stored["spec"]["destination"]["name"] == "web"
    assert stored["spec"]["rules"] == [{"kind": "HTTPRouteGroup", "name": "routes", "matches": ["all"]}]


@pytest.mark.parametrize(
    "bad",
    [
        None,
        {"kind": "AdmissionReview"},
        {"kind": "ConversionReview"},
        {"kind": "ConversionReview", "request": {}},
    ],
)
def test_a_malformed_review_is_refused(bad: Any) -> None:
    with pytest.raises(ReviewError):
        convert_smi(bad)


def test_every_released_version_is_served_once_installed() -> None:
    versions = served_versions()
    assert versions["split.smi-spec.io"] == ["v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4"]
    assert versions["access.smi-spec.io"] == ["v1alpha1", "v1alpha2", "v1alpha3"]  # not the experimental one
    assert versions["specs.smi-spec.io"] == ["v1alpha4"]  # UDPRoute exists only in v1alpha4
