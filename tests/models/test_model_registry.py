from __future__ import annotations

import pytest

from smi_conformance import models


@pytest.mark.parametrize(
    ("api_version", "kind", "status", "latest"),
    [
        ("split.smi-spec.io/v1alpha1", "TrafficSplit", "superseded", "split.smi-spec.io/v1alpha4"),
        ("split.smi-spec.io/v1alpha4", "TrafficSplit", "released", "split.smi-spec.io/v1alpha4"),
        ("split.smi-spec.io/v1alpha5-draft", "TrafficSplit", "experimental", "split.smi-spec.io/v1alpha4"),
        ("split.smi-spec.io/v1alpha5", "TrafficSplit", "experimental", "split.smi-spec.io/v1alpha4"),
        ("access.smi-spec.io/v1alpha2", "TrafficTarget", "superseded", "access.smi-spec.io/v1alpha3"),
        ("access.smi-spec.io/v1alpha3", "TrafficTarget", "released", "access.smi-spec.io/v1alpha3"),
        ("access.smi-spec.io/v1alpha4", "TrafficTarget", "experimental", "access.smi-spec.io/v1alpha3"),
        ("access.smi-spec.io/v1alpha4", "IdentityBinding", "experimental", "access.smi-spec.io/v1alpha4"),
        ("specs.smi-spec.io/v1alpha1", "TCPRoute", "superseded", "specs.smi-spec.io/v1alpha4"),
        ("specs.smi-spec.io/v1alpha4", "UDPRoute", "released", "specs.smi-spec.io/v1alpha4"),
        ("specs.smi-spec.io/v1alpha5-draft", "HTTPRouteGroup", "experimental", "specs.smi-spec.io/v1alpha4"),
        ("metrics.smi-spec.io/v1alpha1", "TrafficMetrics", "released", "metrics.smi-spec.io/v1alpha1"),
        (
            "metrics.smi-spec.io/v1alpha2",
            "TrafficMetricsList",
            "experimental",
            "metrics.smi-spec.io/v1alpha1",
        ),
    ],
)
def test_lookup_knows_each_version_and_where_it_stands(
    api_version: str, kind: str, status: str, latest: str
) -> None:
    info = models.lookup(api_version, kind)
    assert info is not None
    assert (info.api_version, info.kind, info.status, info.latest) == (api_version, kind, status, latest)
    assert kind == info.model.KIND and info.version in info.model.VERSIONS


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [
        ("specs.smi-spec.io/v1alpha3", "UDPRoute"),  # UDPRoute first appeared in v1alpha4
        ("access.smi-spec.io/v1alpha3", "IdentityBinding"),
        ("split.smi-spec.io/v1alpha6", "TrafficSplit"),
        ("v1alpha1", "HTTPRouteGroup"),  # a doc's typo, not a version
        ("v1", "Service"),
        ("split.smi-spec.io/v1alpha4", "trafficsplit"),
    ],
)
def test_lookup_returns_none_for_what_does_not_exist(api_version: str, kind: str) -> None:
    assert models.lookup(api_version, kind) is None


def test_kinds_lists_every_version_once() -> None:
    infos = models.kinds()
    assert len({(i.api_version, i.kind) for i in infos}) == len(infos) == 30
    by_kind: dict[str, int] = {}
    for info in infos:
        by_kind[info.kind] = by_kind.get(info.kind, 0) + 1
    assert by_kind == {
        "TrafficSplit": 6,
        "TrafficTarget": 4,
        "IdentityBinding": 1,
        "HTTPRouteGroup": 6,
        "TCPRoute": 6,
        "UDPRoute": 3,
        "TrafficMetrics": 2,
        "TrafficMetricsList": 2,
    }
    for info in infos:
        assert models.lookup(info.latest, info.kind) is not None
        assert info.api == ("aggregated" if info.group == "metrics.smi-spec.io" else "crd")
        assert info.plural == info.plural.lower() and info.plural.endswith("s")
    released = [i for i in infos if i.status == "released"]
    assert {i.kind for i in released} == {i.kind for i in infos} - {"IdentityBinding"}


def test_the_declared_table_matches_every_model_class() -> None:
    """The registry declares each kind's versions and model classes (their modules load on first use): the
    declaration and the classes' own GROUP/KIND/VERSIONS agree, and no top-level model class is left out."""
    import inspect

    from smi_conformance.models import _base, access, metrics, specs, split

    declared: dict[type[_base.SMIObject], set[str]] = {}
    for info in models.kinds():
        model = info.model
        assert (info.group, info.kind) == (model.GROUP, model.KIND)
        declared.setdefault(model, set()).add(info.version)
    defined = {
        cls
        for module in (split, access, specs, metrics)
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, _base.SMIObject) and "VERSIONS" in vars(cls)
    }
    assert set(declared) == defined
    assert all(versions == set(model.VERSIONS) for model, versions in declared.items())
