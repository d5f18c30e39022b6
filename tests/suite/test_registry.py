"""The conformance registry: what a test record must say (id, group, known features), one id per test, and
the registered suite itself: every test's objects render for the standard topology in the versions it runs
in and lint without errors (except the test that sends invalid objects on purpose)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from smi_conformance.lint import Severity
from smi_conformance.suite.features import (
    FEATURES,
    Feature,
    Profile,
    parse_features,
    parse_profiles,
    profile_of,
)
from smi_conformance.suite.registry import REGISTRY, conformance, load_suite
from smi_conformance.suite.topology import standard_topology
from smi_conformance.suite.versions import choose_versions, groups_of, render

from .test_manifests import lint
from .test_versions import EVERY

#: Tests whose objects are invalid on purpose (a mesh must allow nothing for them), and the findings they get.
DELIBERATE = {"access-empty-target-allows-nothing": {"SMI401", "SMI402", "SMI301"}}


@pytest.fixture()
def scratch_registry() -> Iterator[dict[str, Any]]:
    """Registrations made by a test are undone after it."""
    load_suite()
    before = dict(REGISTRY)
    yield REGISTRY
    REGISTRY.clear()
    REGISTRY.update(before)


def body(smi: object) -> None:
    """A conformance test body (never run here)."""


def other_body(smi: object) -> None:
    """Another one."""


@pytest.mark.parametrize(
    "bad_id", ["Split-Two", "split_two", "-split", "split-", "split--two", "2split", "", "split two"]
)
def test_ids_are_lower_case_words_joined_by_dashes(scratch_registry: dict[str, Any], bad_id: str) -> None:
    with pytest.raises(ValueError, match="must be lower-case words joined by '-'"):
        conformance(bad_id, "d", group="split.smi-spec.io", features={Feature.TRAFFIC_SPLIT})
    assert bad_id not in scratch_registry


def test_group_and_features_must_be_known(scratch_registry: dict[str, Any]) -> None:
    with pytest.raises(
        ValueError, match=r"x-bad-group: group 'split\.example\.com' is not one of split\.smi"
    ):
        conformance("x-bad-group", "d", group="split.example.com", features={Feature.TRAFFIC_SPLIT})
    with pytest.raises(ValueError, match="x-no-features: needs at least one known feature"):
        conformance("x-no-features", "d", group="split.smi-spec.io", features=())
    with pytest.raises(
        ValueError, match=r"x-unknown: needs at least one known feature \(unknown: \['Teleport'\]\)"
    ):
        conformance("x-unknown", "d", group="split.smi-spec.io", features={"Teleport"})  # type: ignore[arg-type]
    assert not {"x-bad-group", "x-no-features", "x-unknown"} & set(scratch_registry)


def test_a_registered_test_is_a_record_and_a_marked_function(scratch_registry: dict[str, Any]) -> None:
    marked = conformance(
        "x-record",
        "what it checks",
        group="access.smi-spec.io",
        features={Feature.TRAFFIC_TARGET, Feature.HTTP_ROUTE_HEADERS},
        versions={"access.smi-spec.io": ["v1alpha3"]},
        slow=True,
    )(body)
    record = scratch_registry["x-record"]
    assert (record.module, record.function) == (__name__, "body")
    assert record.profile is Profile.EXTENDED  # headers are extended
    assert record.versions == {"access.smi-spec.io": ("v1alpha3",)}
    assert [mark.args for mark in marked.pytestmark] == [("x-record",)]  # type: ignore[attr-defined]
    assert record.to_json() == {
        "id": "x-record",
        "description": "what it checks",
        "group": "access.smi-spec.io",
        "profile": "extended",
        "features": ["HTTPRouteGroupHeaders", "TrafficTarget"],
        "versions": {"access.smi-spec.io": ["v1alpha3"]},
        "slow": True,
    }


def test_features_given_by_name_are_the_features_themselves(scratch_registry: dict[str, Any]) -> None:
    """A third party's test module may name features as strings; the record holds Features either way."""
    conformance("x-by-name", "d", group="split.smi-spec.io", features={"TrafficSplit"})(body)  # type: ignore[arg-type]
    record = scratch_registry["x-by-name"]
    assert record.features == frozenset({Feature.TRAFFIC_SPLIT})
    assert all(isinstance(f, Feature) for f in record.features)
    assert record.to_json()["features"] == ["TrafficSplit"]


def test_one_id_names_one_test(scratch_registry: dict[str, Any]) -> None:
    conformance("x-twice", "d", group="split.smi-spec.io", features={Feature.TRAFFIC_SPLIT})(body)
    with pytest.raises(ValueError) as err:
        conformance("x-twice", "d", group="split.smi-spec.io", features={Feature.TRAFFIC_SPLIT})(other_body)
    message = str(err.value)
    assert "'x-twice' is used twice" in message
    assert f"{__name__}.body" in message and f"{__name__}.other_body" in message
    assert scratch_registry["x-twice"].function == "body"
    # the same function registered again (a module imported twice) is not a duplicate
    conformance("x-twice", "d", group="split.smi-spec.io", features={Feature.TRAFFIC_SPLIT})(body)


def test_feature_and_profile_parsing_names_the_unknown_and_the_known() -> None:
    assert parse_features(["TrafficSplit", "UDPRoute"]) == {Feature.TRAFFIC_SPLIT, Feature.UDP_ROUTE}
    with pytest.raises(ValueError, match=r"unknown feature 'trafficsplit'; known: TrafficSplit, "):
        parse_features(["trafficsplit"])
    assert parse_profiles(["core"]) == {Profile.CORE}
    with pytest.raises(ValueError, match=r"unknown profile 'bogus'; known: core, extended"):
        parse_profiles(["core", "bogus"])
    assert set(FEATURES) == set(Feature)
    assert profile_of(frozenset({Feature.TRAFFIC_SPLIT, Feature.TRAFFIC_TARGET})) is Profile.CORE
    assert profile_of(frozenset({Feature.TRAFFIC_SPLIT, Feature.TRAFFIC_SPLIT_TCP})) is Profile.EXTENDED


# ------------------------------------------------------------------------------------- the suite itself
SUITE = load_suite()


def test_the_suite_is_registered_with_both_profiles_and_every_group() -> None:
    tests = list(SUITE.values())
    assert len(tests) >= 25
    assert {t.profile for t in tests} == set(Profile)
    assert {t.group for t in tests} == {"split.smi-spec.io", "access.smi-spec.io", "metrics.smi-spec.io"}
    for t in tests:
        assert t.module.startswith("smi_conformance.suite.tests.test_") and t.function.startswith("test_")
        assert t.description
    every_feature = set().union(*(t.features for t in tests))
    assert every_feature == set(Feature)  # every feature a mesh may claim is tested by something


@pytest.mark.parametrize("test_id", sorted(SUITE))
def test_every_registered_tests_objects_render_and_lint_without_errors(test_id: str) -> None:
    test = SUITE[test_id]
    for prefix in ("smi-conformance", "run-2"):
        t = standard_topology(prefix)
        docs = test.objects(t) if test.objects is not None else []
        versions = choose_versions(
            sorted({test.group, *groups_of(docs)} - {"metrics.smi-spec.io"}), EVERY, test.versions
        )
        sent = render(docs, versions)
        for doc in sent:
            assert doc["metadata"]["namespace"] in t.namespaces
        if not sent:
            continue
        findings = lint(sent, t)
        problems = [f for f in findings if f.severity >= Severity.ERROR or f.code.startswith("SMI3")]
        assert {f.code for f in problems} == DELIBERATE.get(test_id, set()), [
            f"{f.code} {f.message} ({f.object})" for f in problems
        ]
    assert test.to_json(standard_topology()).get("objects", []) == [
        f"{d['kind']} {d['metadata']['namespace']}/{d['metadata']['name']} ({d['apiVersion']})"
        for d in (test.objects(standard_topology()) if test.objects is not None else [])
    ]
