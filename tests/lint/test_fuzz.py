"""Property tests: random input never crashes the linter; valid objects lint clean and round-trip; broken
ones are rejected with a location inside the broken document."""

from __future__ import annotations

import io
import string
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smi_conformance import models
from smi_conformance.lint import InputError, LintConfig, Severity, lint

from .helpers import smi

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _lint_bytes(data: bytes) -> list[Any] | None:
    try:
        return lint(["-"], LintConfig(), stdin=io.BytesIO(data)).findings
    except InputError:
        return None  # empty input: a usage error, as designed


@SETTINGS
@given(st.binary(max_size=2048))
def test_random_bytes_never_crash(data: bytes) -> None:
    _lint_bytes(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=30,
)
KEYS = [
    "apiVersion",
    "kind",
    "metadata",
    "spec",
    "backends",
    "weight",
    "service",
    "matches",
    "headers",
    "rules",
]
VALUES = [
    "split.smi-spec.io/v1alpha4", "access.smi-spec.io/v1alpha1", "specs.smi-spec.io/v1alpha2", "TrafficSplit",
    "TrafficTarget", "HTTPRouteGroup", "TCPRoute", "List", "&a", "*a", "!!binary", "---", "...", "- ", ": ",
]  # fmt: skip
smi_like = st.recursive(
    st.sampled_from(VALUES) | st.integers(-5, 5) | st.none(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=5),
    max_leaves=40,
)


@SETTINGS
@given(st.lists(json_values | smi_like, min_size=1, max_size=4), st.data())
def test_random_yaml_never_crashes(docs: list[Any], data: st.DataObject) -> None:
    text = yaml.safe_dump_all(docs, allow_unicode=True)
    if data.draw(st.booleans()):  # damage it: random characters at a random place
        at = data.draw(st.integers(0, len(text)))
        text = text[:at] + data.draw(st.text(alphabet=string.printable + "\t\x00é", max_size=5)) + text[at:]
    result = smi("lint", "--format", "json", "-", input=text)
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output and "internal error" not in result.output


# ---------------------------------------------------------------------------------------------------------
# Valid objects

dns = st.from_regex(r"[a-z]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
meta = st.fixed_dictionaries({"name": dns, "namespace": dns})
REGEXES = ["/api", "/api/v[0-9]+/.*", ".*", "/(a|b)c?", r"\p{Greek}+", "^/x$"]


@st.composite
def traffic_split(draw: st.DrawFn) -> dict[str, Any]:
    root = draw(dns)
    services = draw(st.lists(dns.filter(lambda s: s != root), min_size=1, max_size=4, unique=True))
    weights = draw(st.lists(st.integers(0, 1000), min_size=len(services), max_size=len(services)))
    if not any(weights):
        weights[0] = 1
    return {
        "apiVersion": "split.smi-spec.io/v1alpha4",
        "kind": "TrafficSplit",
        "metadata": draw(meta),
        "spec": {
            "service": root,
            "backends": [{"service": s, "weight": w} for s, w in zip(services, weights, strict=True)],
        },
    }


@st.composite
def route_group(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(dns, min_size=1, max_size=3, unique=True))
    matches = []
    for name in names:
        match: dict[str, Any] = {"name": name, "pathRegex": draw(st.sampled_from(REGEXES))}
        if draw(st.booleans()):
            match["methods"] = draw(
                st.lists(st.sampled_from(["GET", "POST", "*", "DELETE"]), min_size=1, unique=True)
            )
        matches.append(match)
    return {"apiVersion": "specs.smi-spec.io/v1alpha4", "kind": "HTTPRouteGroup", "metadata": draw(meta),
            "spec": {"matches": matches}}  # fmt: skip


@st.composite
def traffic_target(draw: st.DrawFn) -> dict[str, Any]:
    account = st.fixed_dictionaries({"kind": st.just("ServiceAccount"), "name": dns, "namespace": dns})
    rules = st.lists(st.fixed_dictionaries({"kind": st.sampled_from(["TCPRoute", "UDPRoute"]), "name": dns}),
                     min_size=1, max_size=3)  # fmt: skip
    metadata = draw(meta)
    # the destination lives in the target's namespace (SMI404); sources may be anywhere
    destination = {**draw(account), "namespace": metadata["namespace"]}
    return {
        "apiVersion": "access.smi-spec.io/v1alpha3",
        "kind": "TrafficTarget",
        "metadata": metadata,
        "spec": {
            "destination": destination,
            "rules": draw(rules),
            "sources": draw(st.lists(account, min_size=1)),
        },
    }


smi_objects = traffic_split() | route_group() | traffic_target()


@SETTINGS
@given(smi_objects)
def test_valid_objects_lint_without_errors_and_round_trip(obj: dict[str, Any]) -> None:
    text = yaml.safe_dump(obj, sort_keys=False)
    findings = lint(["-"], LintConfig(), stdin=io.BytesIO(text.encode())).findings
    assert [f for f in findings if f.severity is Severity.ERROR] == []
    reread = yaml.safe_load(text)
    assert models.dump(models.load(reread)) == models.dump(models.load(obj))


MUTATIONS = ["unknown-field", "wrong-type", "drop-required"]


@SETTINGS
@given(smi_objects, st.sampled_from(MUTATIONS), st.data())
def test_broken_objects_are_rejected_with_a_location(
    obj: dict[str, Any], mutation: str, data: st.DataObject
) -> None:
    spec = obj["spec"]
    if mutation == "unknown-field":
        spec["bogusField"] = 1
    elif mutation == "wrong-type":
        key = data.draw(st.sampled_from(sorted(spec)))
        spec[key] = 12345 if isinstance(spec[key], (str, list, dict)) else "x"
    else:
        del spec[data.draw(st.sampled_from(sorted(spec)))]
    prefix = "apiVersion: v1\nkind: Service\nmetadata: {name: before}\n---\n"
    text = prefix + yaml.safe_dump(obj, sort_keys=False)
    findings = lint(["-"], LintConfig(), stdin=io.BytesIO(text.encode())).findings
    errors = [f for f in findings if f.severity is Severity.ERROR]
    assert errors, text
    last_line = text.count("\n")
    assert all(5 <= f.location.line <= last_line and f.location.column >= 1 for f in errors), errors
