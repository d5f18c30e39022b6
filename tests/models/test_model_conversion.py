"""Conversion between versions: exact where the target can hold the object, else a located ConversionError."""

from __future__ import annotations

import copy
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_strategies import Generated, documents

from smi_conformance import models
from smi_conformance.models.conversion import codec_for
from smi_conformance.models.conversion.split import MAX_CONVERTED_WEIGHT
from smi_conformance.models.quantity import parse_quantity

KINDS = models.kinds()


def _meta(name: str = "x") -> dict[str, Any]:
    return {"name": name, "namespace": "shop"}


def split(version: str, *weights: object, **spec: Any) -> dict[str, Any]:
    backends = [{"service": f"web-v{i + 1}", "weight": w} for i, w in enumerate(weights)]
    return {
        "apiVersion": f"split.smi-spec.io/{version}",
        "kind": "TrafficSplit",
        "metadata": _meta("canary"),
        "spec": {"service": "web", "backends": backends, **spec},
    }


def _weights(doc: dict[str, Any]) -> list[Any]:
    return [b["weight"] for b in doc["spec"]["backends"]]


def _problem(error: pytest.ExceptionInfo[models.ConversionError]) -> models.Problem:
    assert len(error.value.problems) == 1, [str(p) for p in error.value.problems]
    return error.value.problems[0]


# ---- TrafficSplit weights ----


@pytest.mark.parametrize(
    ("quantities", "integers"),
    [
        (("1", "500m"), [2, 1]),
        (("10m", "100m", "1500m"), [1, 10, 150]),
        (("1", "1000m"), [1, 1]),
        ((100, 900), [100, 900]),  # whole numbers stay as they are
        (("100", "900"), [100, 900]),
        (("1k", "500"), [1000, 500]),
        (("0m", "1"), [0, 1]),
        (("0", "0"), [0, 0]),
        (("333m", "667m"), [333, 667]),
        (("1Ki", "512"), [1024, 512]),
        (("1.5", "250m"), [6, 1]),
        (("1E", "1E"), [1, 1]),  # too large as they are: reduced to the same ratio
    ],
)
def test_v1alpha1_quantities_become_integers_with_exactly_the_same_ratios(
    quantities: tuple[object, ...], integers: list[int]
) -> None:
    for version in ("v1alpha2", "v1alpha3", "v1alpha4", "v1alpha5-draft"):
        out = models.convert(split("v1alpha1", *quantities), version)
        assert _weights(out) == integers
        ratios = [parse_quantity(q) for q in quantities]  # type: ignore[arg-type]
        total_q, total_i = sum(ratios), sum(integers)
        if total_q:
            assert [Fraction(i, total_i) for i in integers] == [q / total_q for q in ratios]


def test_weights_needing_integers_above_the_bound_stop_the_conversion() -> None:
    with pytest.raises(models.ConversionError) as caught:
        models.convert(split("v1alpha1", "1n", "3"), "v1alpha4")
    problem = _problem(caught)
    assert problem.path == ("spec", "backends", 1, "weight")
    assert str(MAX_CONVERTED_WEIGHT) in problem.message and "3000000000" in problem.message


def test_integer_weights_go_back_to_v1alpha1_unchanged() -> None:
    out = models.convert(split("v1alpha4", 90, 10), "v1alpha1")
    assert out["apiVersion"] == "split.smi-spec.io/v1alpha1"
    assert _weights(out) == [90, 10]
    assert models.validate(out) == []


def test_split_matches_have_no_home_before_v1alpha3() -> None:
    doc = split("v1alpha4", 0, 100, matches=[{"kind": "HTTPRouteGroup", "name": "ab-test"}])
    for version in ("v1alpha1", "v1alpha2"):
        with pytest.raises(models.ConversionError) as caught:
            models.convert(doc, version)
        problem = _problem(caught)
        assert problem.path == ("spec", "matches")
        assert f"{version} has no 'matches'" in problem.message
    assert models.convert(doc, "v1alpha3")["spec"]["matches"] == [
        {"kind": "HTTPRouteGroup", "name": "ab-test"}
    ]
    # an empty matches list selects nothing more than none at all: it converts
    assert "matches" not in models.convert(split("v1alpha4", 1, matches=[]), "v1alpha2")["spec"]


def test_a_root_given_by_its_dns_name_converts_between_all_versions() -> None:
    doc = split("v1alpha5-draft", 1, 1)
    doc["spec"]["service"] = "web.shop.svc.cluster.local"
    for version in ("v1alpha4", "v1alpha2", "v1alpha1"):
        assert models.convert(doc, version)["spec"]["service"] == "web.shop.svc.cluster.local"


def test_target_rules_a_codec_missed_still_stop_the_conversion(monkeypatch: pytest.MonkeyPatch) -> None:
    """The converted document is validated against the target model; a problem there is reported at the
    source path instead of producing an invalid document."""
    from smi_conformance.models.conversion import split as split_codecs
    from smi_conformance.models.conversion.base import Codec

    real = split_codecs.CODECS[("split.smi-spec.io", "TrafficSplit")]["v1alpha4"]

    def sloppy(hub: dict[str, Any], losses: Any) -> dict[str, Any]:
        doc = real.from_hub(hub, losses)
        doc["spec"]["backends"][1]["service"] = "Not_A_Service"
        return doc

    monkeypatch.setitem(
        split_codecs.CODECS[("split.smi-spec.io", "TrafficSplit")], "v1alpha4", Codec(real.to_hub, sloppy)
    )
    import smi_conformance.models.conversion as conversion

    monkeypatch.setitem(
        conversion._CODECS,
        ("split.smi-spec.io", "TrafficSplit"),
        split_codecs.CODECS[("split.smi-spec.io", "TrafficSplit")],
    )
    with pytest.raises(models.ConversionError) as caught:
        models.convert(split("v1alpha2", 1, 2), "v1alpha4")
    problem = _problem(caught)
    assert problem.path == ("spec", "backends", 1, "service")
    assert problem.message.startswith("cannot be expressed in split.smi-spec.io/v1alpha4: service must be")


def test_output_is_ordered_like_a_manifest() -> None:
    doc = split("v1alpha1", "1", "500m")
    shuffled = {
        "spec": doc["spec"],
        "metadata": doc["metadata"],
        "kind": doc["kind"],
        "apiVersion": doc["apiVersion"],
    }
    assert list(models.convert(shuffled, "v1alpha4")) == ["apiVersion", "kind", "metadata", "spec"]


# ---- TrafficTarget ----


def target_v1alpha1(port: int | None = 8080) -> dict[str, Any]:
    destination: dict[str, Any] = {"kind": "ServiceAccount", "name": "api", "namespace": "shop"}
    if port is not None:
        destination["port"] = port
    return {
        "apiVersion": "access.smi-spec.io/v1alpha1",
        "kind": "TrafficTarget",
        "metadata": _meta("t"),
        "destination": destination,
        "specs": [{"kind": "HTTPRouteGroup", "name": "routes", "matches": ["api"]}],
        "sources": [{"kind": "ServiceAccount", "name": "web", "namespace": "shop"}],
    }


def test_a_destination_port_has_no_home_in_v1alpha3() -> None:
    with pytest.raises(models.ConversionError) as caught:
        models.convert(target_v1alpha1(), "v1alpha3")
    problem = _problem(caught)
    assert problem.path == ("destination", "port")  # the path in the source document
    assert "TCPRoute" in problem.message
    v1alpha2 = models.convert(target_v1alpha1(), "v1alpha2")
    assert v1alpha2["spec"]["destination"]["port"] == 8080
    assert v1alpha2["spec"]["rules"] == target_v1alpha1()["specs"]
    with pytest.raises(models.ConversionError) as caught:
        models.convert(v1alpha2, "v1alpha4")
    assert _problem(caught).path == ("spec", "destination", "port")


def test_a_target_without_port_converts_through_every_version_and_back() -> None:
    doc = target_v1alpha1(port=None)
    current = doc
    for version in ("v1alpha2", "v1alpha3", "v1alpha4", "v1alpha3", "v1alpha2", "v1alpha1"):
        current = models.convert(current, version)
        assert models.validate(current) == []
    assert current == doc


def test_udp_rules_and_identity_bindings_need_newer_versions() -> None:
    doc = {
        "apiVersion": "access.smi-spec.io/v1alpha4",
        "kind": "TrafficTarget",
        "metadata": _meta("t"),
        "spec": {
            "destination": {"kind": "IdentityBinding", "group": "access.smi-spec.io", "name": "api"},
            "rules": [{"kind": "TCPRoute", "name": "tcp"}, {"kind": "UDPRoute", "name": "udp"}],
            "sources": [{"kind": "ServiceAccount", "name": "web"}, {"kind": "IdentityBinding", "name": "ib"}],
        },
    }
    with pytest.raises(models.ConversionError) as caught:
        models.convert(doc, "v1alpha3")
    assert {p.path for p in caught.value.problems} == {
        ("spec", "destination", "kind"),
        ("spec", "sources", 1, "kind"),
    }
    with pytest.raises(models.ConversionError) as caught:
        models.convert(doc, "v1alpha1")
    assert {p.path for p in caught.value.problems} == {
        ("spec", "destination", "kind"),
        ("spec", "sources", 1, "kind"),
        ("spec", "rules", 1, "kind"),
    }
    doc["spec"]["destination"] = {"kind": "ServiceAccount", "group": "", "name": "api"}
    doc["spec"]["sources"] = doc["spec"]["sources"][:1]
    out = models.convert(doc, "v1alpha3")
    assert out["spec"]["destination"] == {"kind": "ServiceAccount", "name": "api"}


# ---- specs ----


def routes(version: str, *matches: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": f"specs.smi-spec.io/{version}",
        "kind": "HTTPRouteGroup",
        "metadata": _meta(),
    }
    if version in ("v1alpha1", "v1alpha2"):
        doc["matches"] = list(matches)
    elif version.startswith("v1alpha5"):
        doc["spec"] = {"routes": list(matches)}
    else:
        doc["spec"] = {"matches": list(matches)}
    return doc


def test_header_filters_have_no_home_in_v1alpha1() -> None:
    doc = routes(
        "v1alpha4", {"name": "all", "pathRegex": ".*"}, {"name": "ff", "headers": {"user-agent": "Firefox"}}
    )
    with pytest.raises(models.ConversionError) as caught:
        models.convert(doc, "v1alpha1")
    problem = _problem(caught)
    assert problem.path == ("spec", "matches", 1, "headers") and "'ff'" in problem.message
    with pytest.raises(models.ConversionError) as caught:
        models.convert(models.convert(doc, "v1alpha2"), "v1alpha1")
    assert _problem(caught).path == ("matches", 1, "headers")
    with pytest.raises(models.ConversionError) as caught:
        models.convert(models.convert(doc, "v1alpha5-draft"), "v1alpha1")
    assert _problem(caught).path == ("spec", "routes", 1, "headers")


def test_route_groups_move_between_layouts_and_keep_their_header_form() -> None:
    as_list = routes("v1alpha4", {"name": "ff", "headers": [{"user-agent": "Firefox"}, {"cookie": "beta"}]})
    v2 = models.convert(as_list, "v1alpha2")
    assert v2["matches"] == as_list["spec"]["matches"] and "spec" not in v2
    as_map = routes("v1alpha3", {"name": "ff", "headers": {"user-agent": "Firefox"}})
    draft = models.convert(as_map, "v1alpha5-draft")
    assert draft["spec"] == {"routes": [{"name": "ff", "headers": [{"user-agent": "Firefox"}]}]}
    assert models.convert(draft, "v1alpha3")["spec"]["matches"][0]["name"] == "ff"


def l4(kind: str, version: str, spec: dict[str, Any] | None) -> dict[str, Any]:
    doc: dict[str, Any] = {"apiVersion": f"specs.smi-spec.io/{version}", "kind": kind, "metadata": _meta()}
    if spec is not None:
        doc["spec"] = spec
    return doc


def test_tcp_ports_need_v1alpha4_or_the_draft() -> None:
    doc = l4("TCPRoute", "v1alpha4", {"matches": {"ports": [3306, 6446]}})
    for version in ("v1alpha1", "v1alpha2", "v1alpha3"):
        with pytest.raises(models.ConversionError) as caught:
            models.convert(doc, version)
        problem = _problem(caught)
        assert problem.path == ("spec", "matches", "ports") and "3306, 6446" in problem.message
    draft = models.convert(doc, "v1alpha5-draft")
    assert draft["spec"] == {"ports": [3306, 6446]}
    with pytest.raises(models.ConversionError) as caught:
        models.convert(draft, "v1alpha3")
    assert _problem(caught).path == ("spec", "ports")
    assert models.convert(draft, "v1alpha4") == doc


def test_routes_for_every_port_convert_everywhere() -> None:
    for spec in (None, {"matches": {"ports": []}}):
        doc = l4("TCPRoute", "v1alpha4", spec)
        assert "spec" not in models.convert(doc, "v1alpha1")
        assert models.convert(doc, "v1alpha3").get("spec", {}) == {}
    assert models.convert(l4("TCPRoute", "v1alpha3", {}), "v1alpha4") == l4("TCPRoute", "v1alpha4", None)
    assert models.convert(l4("TCPRoute", "v1alpha3", {}), "v1alpha3") == l4("TCPRoute", "v1alpha3", {})


def test_udp_routes_have_v1alpha4_and_the_draft() -> None:
    doc = l4("UDPRoute", "v1alpha4", {"matches": {"name": "dns", "ports": [53]}})
    with pytest.raises(models.ConversionError) as caught:
        models.convert(doc, "v1alpha5")
    assert _problem(caught).path == ("spec", "matches", "name")
    with pytest.raises(LookupError, match="known: v1alpha4, v1alpha5"):
        models.convert(doc, "v1alpha3")


# ---- metrics ----


def test_metrics_edges_without_side_cannot_become_v1alpha2() -> None:
    item = {
        "resource": {"kind": "Pod", "name": "p"},
        "edge": {"direction": "to", "resource": {}},
        "timestamp": "2019-04-08T22:25:55Z",
        "window": "30s",
        "metrics": [{"name": "success_count", "value": 3}],
    }
    doc = {"apiVersion": "metrics.smi-spec.io/v1alpha1", "kind": "TrafficMetrics", **item}
    with pytest.raises(models.ConversionError) as caught:
        models.convert(doc, "v1alpha2")
    assert _problem(caught).path == ("edge", "side")
    listed = {
        "apiVersion": "metrics.smi-spec.io/v1alpha1",
        "kind": "TrafficMetricsList",
        "resource": {"kind": "Pod"},
        "items": [{"apiVersion": "metrics.smi-spec.io/v1alpha1", "kind": "TrafficMetrics", **item}],
    }
    with pytest.raises(models.ConversionError) as caught:
        models.convert(listed, "v1alpha2")
    assert _problem(caught).path == ("items", 0, "edge", "side")
    listed["items"][0]["edge"]["side"] = "client"
    out = models.convert(listed, "v1alpha2")
    assert out["items"][0]["apiVersion"] == "metrics.smi-spec.io/v1alpha2"


# ---- the API's edges ----


def test_bad_requests_raise_the_documented_errors() -> None:
    with pytest.raises(models.SMIValidationError):
        models.convert(split("v1alpha4", -1), "v1alpha3")
    with pytest.raises(LookupError, match="no version 'v9'"):
        models.convert(split("v1alpha4", 1), "v9")
    with pytest.raises(LookupError, match="another API group"):
        models.convert(split("v1alpha4", 1), "access.smi-spec.io/v1alpha3")
    with pytest.raises(LookupError):
        models.convert({"apiVersion": "v1", "kind": "Service"}, "v1")
    assert models.convert(split("v1alpha4", 1), "split.smi-spec.io/v1alpha3")["apiVersion"].endswith(
        "v1alpha3"
    )


def test_conversion_does_not_touch_its_input() -> None:
    doc = split("v1alpha1", "1", "500m")
    before = copy.deepcopy(doc)
    models.convert(doc, "v1alpha4")
    assert doc == before


# ---- every pair of versions, on generated documents ----


def _normalised(doc: dict[str, Any]) -> dict[str, Any]:
    """A document's meaning, independent of version: its hub form with weights as exact ratios, headers
    as maps and "every port" spelled one way."""
    info = models.lookup(doc["apiVersion"], doc["kind"])
    assert info is not None
    hub = copy.deepcopy(codec_for(info).to_hub(models.dump(models.load(doc))))
    hub.pop("apiVersion")
    spec = hub.get("spec")
    if info.kind == "TrafficSplit":
        values = [parse_quantity(b["weight"]) for b in spec["backends"]]
        total = sum(values)
        for backend, value in zip(spec["backends"], values, strict=True):
            backend["weight"] = value / total if total else 0
        if not spec.get("matches"):
            spec.pop("matches", None)
    if info.kind == "HTTPRouteGroup":
        for match in spec["matches"]:
            if isinstance(match.get("headers"), list):
                match["headers"] = {k: v for item in match["headers"] for k, v in item.items()}
    if info.kind in ("TCPRoute", "UDPRoute") and (
        spec is None or spec.get("matches") in (None, {"ports": []})
    ):
        hub.pop("spec", None)
    if info.kind == "TrafficTarget":
        for subject in [spec["destination"], *(spec.get("sources") or [])]:
            if subject.get("group") == "":
                del subject["group"]
    if info.kind == "TrafficMetricsList":
        for item in hub.get("items") or []:
            item.pop("apiVersion", None)
    return hub


def _exists(doc: Any, path: tuple[str | int, ...]) -> bool:
    node = doc
    for seg in path:
        try:
            node = node[seg]
        except (KeyError, IndexError, TypeError):
            return False
    return True


@pytest.mark.parametrize("info", KINDS, ids=lambda i: f"{i.kind}-{i.version}")
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_pair_of_versions_converts_exactly_or_says_where_it_cannot(
    info: models.KindInfo, data: st.DataObject
) -> None:
    generated: Generated = data.draw(documents(info))
    doc = generated.doc
    for target in [i for i in KINDS if i.group == info.group and i.kind == info.kind]:
        try:
            out = models.convert(doc, target.version)
        except models.ConversionError as error:
            assert error.problems
            for problem in error.problems:
                # the node holding what would be lost, or (for what the target requires) the node missing it
                assert _exists(doc, problem.path) or _exists(doc, problem.path[:-1]), (
                    f"{problem} does not point into the source document"
                )
            continue
        assert out["apiVersion"] == target.api_version
        assert models.validate(out) == []
        assert _normalised(out) == _normalised(doc), f"{info.version} -> {target.version} changed the meaning"
