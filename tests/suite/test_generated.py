"""The generated cases: every document lints clean, the vocabularies part the spec's readings only where they
say so, and the requests reach what the policies allow as well as what they deny."""

from __future__ import annotations

import doctest
from typing import Any

import yaml
from hypothesis import HealthCheck, Phase, find, given, settings

from smi_conformance.lint import Severity, lint_documents
from smi_conformance.manifests import load_text
from smi_conformance.regex import compile_re2
from smi_conformance.suite import generated
from smi_conformance.suite.oracle import Oracle, Request
from smi_conformance.suite.topology import standard_topology

TOPOLOGY = standard_topology()
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# find() without shrinking: these only ask whether the strategies reach something, not for its smallest form.
SEARCH = settings(
    max_examples=1000,
    deadline=None,
    phases=[Phase.generate],
    database=None,
    suppress_health_check=list(HealthCheck),
)
Case = tuple[list[dict[str, Any]], list[Request]]
EVERYTHING = {"older": True, "anchoring": True, "header_search": True, "mixed_rules": True}


def lint_errors(documents: list[dict[str, Any]]) -> list[str]:
    loaded = load_text(yaml.safe_dump_all(documents, sort_keys=False), "generated.yaml")
    result = lint_documents(loaded.documents, loaded.issues)
    return [f"{f.code} {f.object}: {f.message}" for f in result.findings if f.severity >= Severity.ERROR]


@PROPERTY
@given(generated.policies(TOPOLOGY))
def test_newest_version_policies_lint_clean(documents: list[dict[str, Any]]) -> None:
    assert lint_errors(documents) == []
    assert {d["apiVersion"].split("/")[1] for d in documents} <= {"v1alpha3", "v1alpha4"}
    assert all(
        d["apiVersion"] == "access.smi-spec.io/v1alpha3" for d in documents if d["kind"] == "TrafficTarget"
    )


@PROPERTY
@given(generated.policies(TOPOLOGY, **EVERYTHING))
def test_every_option_still_lints_clean(documents: list[dict[str, Any]]) -> None:
    assert lint_errors(documents) == []


def test_a_broken_document_is_caught_by_the_lint_check() -> None:
    """The check above can fail: a rule naming a match its group does not define is an error."""
    documents = find(
        generated.policies(TOPOLOGY),
        lambda docs: any(d["kind"] == "TrafficTarget" for d in docs),
        settings=SEARCH,
    )
    target = next(d for d in documents if d["kind"] == "TrafficTarget")
    group = next(
        d
        for d in documents
        if d["kind"] == "HTTPRouteGroup"
        and d["metadata"] == {**d["metadata"], "namespace": target["metadata"]["namespace"]}
    )
    target["spec"]["rules"].append(
        {"kind": "HTTPRouteGroup", "name": group["metadata"]["name"], "matches": ["no-such-match"]}
    )
    assert any(e.startswith("SMI30") for e in lint_errors(documents))


def test_the_path_vocabulary_parts_the_readings_only_on_purpose() -> None:
    every_path = {p for pattern in generated.PATH_PATTERNS for p in pattern.paths} | {"/", "/unknown"}
    for pattern in generated.PATH_PATTERNS:
        regex = compile_re2(pattern.regex)
        parted = {
            p
            for p in every_path
            if (regex.match(p.partition("?")[0]) is None) != (regex.fullmatch(p.partition("?")[0]) is None)
        }
        if pattern.anchoring:
            assert parted & set(pattern.paths), pattern
        else:
            assert parted == set(), pattern
        hits = [p for p in pattern.paths if regex.fullmatch(p.partition("?")[0])]
        assert hits, pattern
        assert len(hits) < len(pattern.paths) or pattern.regex == ".*", f"{pattern}: needs near misses"


def test_the_header_vocabulary_parts_the_readings_only_on_purpose() -> None:
    every_value = {v for pattern in generated.HEADER_PATTERNS for v in pattern.values}
    for pattern in generated.HEADER_PATTERNS:
        regex = compile_re2(pattern.regex)
        parted = {v for v in every_value if (regex.fullmatch(v) is None) != (regex.search(v) is None)}
        assert bool(parted & set(pattern.values)) == pattern.search, pattern
        if not pattern.search:
            assert parted == set(), pattern
        assert regex.search("") is None, f"{pattern}: would make a missing header an open question"
        hits = [v for v in pattern.values if regex.fullmatch(v)]
        assert hits and len(hits) < len(pattern.values), f"{pattern}: needs hits and near misses"


@PROPERTY
@given(generated.cases(TOPOLOGY))
def test_by_default_every_access_question_is_decided(case: Case) -> None:
    """Without the on-purpose options, the generated policies and requests never reach an open access
    question; the routing is open only where a split has HTTP matches and the flow is TCP/UDP, or where no
    backend has weight."""
    documents, sent = case
    oracle = Oracle(TOPOLOGY, documents)
    for request in sent:
        answer = oracle.answer(request)
        assert all(d.allowed is not None for d in answer.destinations), answer.explanation
        if not answer.shares_known:
            assert "split-matches-for-l4=" in answer.routing or "split-no-weight=" in answer.routing


def _answers(case: Case) -> list[Any]:
    documents, sent = case
    oracle = Oracle(TOPOLOGY, documents)
    return [d for request in sent for d in oracle.answer(request).destinations]


def test_the_on_purpose_options_reach_the_open_questions() -> None:
    for option, question in [
        ("anchoring", "path-anchoring="),
        ("header_search", "header-regex="),
        ("mixed_rules", "tcp-rules-for-http="),
    ]:
        find(
            generated.cases(TOPOLOGY, **{option: True}),
            lambda case, q=question: any(d.allowed is None and q in d.why for d in _answers(case)),
            settings=SEARCH,
        )


def test_requests_reach_allowed_and_denied_destinations_of_every_protocol() -> None:
    for protocol in ("http", "tcp", "udp"):
        for verdict in (True, False):
            find(
                generated.cases(TOPOLOGY),
                lambda case, p=protocol, v=verdict: any(
                    r.protocol == p
                    and any(d.allowed is v for d in Oracle(TOPOLOGY, case[0]).answer(r).destinations)
                    for r in case[1]
                ),
                settings=SEARCH,
            )


def test_splits_of_both_roots_with_zero_weights_and_matches_are_generated() -> None:
    def split_with(case: Case, root: str) -> bool:
        documents, _ = case
        return any(
            d["kind"] == "TrafficSplit"
            and d["spec"]["service"].startswith(root)
            and d["spec"].get("matches")
            and any(b["weight"] == 0 for b in d["spec"]["backends"])
            for d in documents
        )

    for root in ("web", "stats"):
        find(generated.cases(TOPOLOGY), lambda case, r=root: split_with(case, r), settings=SEARCH)


def test_older_versions_are_generated_for_every_kind() -> None:
    for kind, version in [
        ("TrafficTarget", "access.smi-spec.io/v1alpha1"),
        ("TrafficTarget", "access.smi-spec.io/v1alpha2"),
        ("HTTPRouteGroup", "specs.smi-spec.io/v1alpha1"),
        ("TCPRoute", "specs.smi-spec.io/v1alpha2"),
        ("TrafficSplit", "split.smi-spec.io/v1alpha1"),
        ("TrafficSplit", "split.smi-spec.io/v1alpha3"),
    ]:
        find(
            generated.policies(TOPOLOGY, older=True),
            lambda docs, k=kind, v=version: any(d["kind"] == k and d["apiVersion"] == v for d in docs),
            settings=SEARCH,
        )


def test_generated_targets_cover_both_namespaces_and_cross_namespace_sources() -> None:
    def cross(docs: list[dict[str, Any]]) -> bool:
        return any(
            d["kind"] == "TrafficTarget"
            and d["metadata"]["namespace"] == TOPOLOGY.main
            and any(s.get("namespace") == TOPOLOGY.other for s in d["spec"]["sources"])
            for d in docs
        ) and any(d["kind"] == "TrafficTarget" and d["metadata"]["namespace"] == TOPOLOGY.other for d in docs)

    find(generated.policies(TOPOLOGY), cross, settings=SEARCH)


def test_module_docstring_example_runs() -> None:
    result = doctest.testmod(generated, verbose=False)
    assert result.attempted >= 4 and result.failed == 0
