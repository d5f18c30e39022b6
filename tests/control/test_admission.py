"""Admission: invalid batches are refused whole, with rule codes and file:line:column; nothing is
half-applied."""

from __future__ import annotations

import asyncio

from builders import bookstore, smi

from reference_mesh.control.admission import admit_apply, admit_delete
from reference_mesh.control.controlplane import ControlPlane
from reference_mesh.control.store import MemoryStore, Put
from reference_mesh.identity import CertificateAuthority, SpiffeId
from smi_conformance.manifests import load_text

GOOD = """\
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: routes}
spec:
  matches:
  - {name: buy, pathRegex: /buy, methods: [GET]}
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: canary}
spec:
  service: bookstore
  backends: [{service: bookstore-v1, weight: 1}, {service: bookstore-v2, weight: 1}]
"""


def codes(text: str, state=None) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    result = admit_apply(load_text(text, "m.yaml"), state or bookstore())
    return [(f.code, f.severity, str(f.location)) for f in result.findings]


def test_valid_batch_is_admitted() -> None:
    result = admit_apply(load_text(GOOD, "m.yaml"), bookstore())
    assert result.ok and [o.kind for o in result.objects] == ["HTTPRouteGroup", "TrafficSplit"]
    assert result.findings == []


def test_schema_error_located_with_the_lint_code() -> None:
    bad = (
        GOOD
        + """---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: other}
spec:
  service: bookstore-v1
  backends:
  - service: bookstore-v2
    weight: -3
"""
    )
    found = codes(bad)
    assert ("SMI201", "error", "m.yaml:22:13") in found  # the linter's negative-weight rule
    assert ("SMI207", "warning") in [(c, s) for c, s, _ in found]  # nested split: legal, a warning


def test_unknown_field_and_unknown_kind() -> None:
    text = """\
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: s}
spec:
  service: bookstore
  backend: []
---
apiVersion: split.smi-spec.io/v1alpha9
kind: TrafficSplit
metadata: {name: t}
"""
    found = codes(text)
    assert ("SMI101", "error", "m.yaml:6:3") in found
    assert ("SMI106", "error", "m.yaml:8:13") in found


def test_cross_document_errors() -> None:
    dup_root = (
        GOOD
        + """---
apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata: {name: second}
spec: {service: bookstore, backends: [{service: bookstore-v1, weight: 1}]}
"""
    )
    assert ("SMI206", "error") in [(c, s) for c, s, _ in codes(dup_root)]
    unknown_match = (
        GOOD
        + """---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: t}
spec:
  destination: {kind: ServiceAccount, name: bookstore}
  sources: [{kind: ServiceAccount, name: bookbuyer, namespace: default}]
  rules: [{kind: HTTPRouteGroup, name: routes, matches: [buy, sell]}]
"""
    )
    assert codes(unknown_match) == [("SMI302", "error", "m.yaml:21:63")]
    twice = GOOD + "---\n" + GOOD.split("---\n")[0]
    assert ("SMI305", "error") in [(c, s) for c, s, _ in codes(twice)]


def test_regex_re2_rejects() -> None:
    text = """\
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: r}
spec:
  matches:
  - name: lookbehind
    pathRegex: "(?<=/a)b"
"""
    assert codes(text) == [("SMI502", "error", "m.yaml:7:16")]  # RE2 has no lookbehind


def test_legal_but_suspicious_is_a_warning() -> None:
    text = """\
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: t}
spec:
  destination: {kind: ServiceAccount, name: bookstore}
  rules: [{kind: TCPRoute, name: not-yet}]
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: s}
spec: {service: bookstore, backends: [{service: nowhere, weight: 0}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ignored}
"""
    result = admit_apply(load_text(text, "m.yaml"), bookstore())
    assert result.ok
    assert sorted((f.code, f.severity) for f in result.findings) == [
        ("MESH004", "info"),
        ("SMI203", "warning"),
        ("SMI301", "warning"),
        ("SMI303", "warning"),
        ("SMI401", "warning"),
    ]


def test_documents_that_are_not_objects_are_refused_with_their_location() -> None:
    text = GOOD + "---\njust a string\n---\n{a: 1}\n---\napiVersion: v1\nkind: Service\nmetadata: {}\n"
    assert codes(text) == [
        ("SMI102", "error", "m.yaml:15:1"),
        ("SMI102", "error", "m.yaml:17:1"),
        ("SMI102", "error", "m.yaml:19:1"),
    ]
    # an SMI document without a name is the linter's finding, reported once
    nameless = "apiVersion: split.smi-spec.io/v1alpha4\nkind: TrafficSplit\nmetadata: {}\n"
    nameless += "spec: {service: bookstore, backends: [{service: bookstore-v1, weight: 1}]}\n"
    assert [c for c, _, _ in codes(nameless)] == ["SMI102"]


def test_delete_requires_existing_objects() -> None:
    result = admit_delete(load_text(GOOD, "m.yaml"), bookstore())
    assert not result.ok and {f.code for f in result.findings} == {"MESH003"}
    assert admit_delete(load_text(GOOD, "m.yaml"), bookstore(), ignore_not_found=True).ok


CROSS_NAMESPACE_TARGET = """\
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: let-me-in, namespace: other}
spec:
  destination: {kind: ServiceAccount, name: bookstore, namespace: default}
  sources: [{kind: ServiceAccount, name: eve, namespace: other}]
  rules: [{kind: TCPRoute, name: all}]
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: all, namespace: other}
spec: {matches: {ports: []}}
"""
BINDING = """\
apiVersion: access.smi-spec.io/v1alpha4
kind: IdentityBinding
metadata: {name: theirs, namespace: other}
spec: {schemes: {spiffeIdentities: [%s]}}
"""
BINDING_TARGET = """\
apiVersion: access.smi-spec.io/v1alpha4
kind: TrafficTarget
metadata: {name: by-binding, namespace: other}
spec:
  destination: {kind: IdentityBinding, name: theirs}
  sources: [{kind: ServiceAccount, name: eve}]
  rules: [{kind: TCPRoute, name: all}]
"""


def test_a_target_whose_destination_is_in_another_namespace_is_refused() -> None:
    result = admit_apply(load_text(CROSS_NAMESPACE_TARGET, "m.yaml"), bookstore())
    assert not result.ok
    assert [(f.code, f.severity, str(f.location)) for f in result.findings] == [
        ("SMI404", "error", "m.yaml:5:67")
    ]
    assert "may only open workloads of its own namespace" in result.findings[0].message


def test_a_destination_binding_naming_another_namespace_is_refused_whichever_comes_first() -> None:
    """The IdentityBinding and its TrafficTarget may arrive in either order: the second batch is refused."""
    foreign = BINDING % '"spiffe://cluster.local/ns/default/sa/bookstore"'
    own = BINDING % '"spiffe://cluster.local/ns/other/sa/mine"'
    binding_first = bookstore(*smi(foreign))
    found = codes(BINDING_TARGET, binding_first)
    assert ("SMI404", "error", "m.yaml:5:46") in found
    target_first = bookstore(*smi(own + "---\n" + BINDING_TARGET))
    assert [c for c in codes(own, target_first) if c[0] == "SMI404"] == []  # its own namespace's: fine
    assert ("SMI404", "error", "m.yaml:4:37") in codes(foreign, target_first)


def test_a_rejected_batch_leaves_the_store_untouched() -> None:
    async def go() -> None:
        store = MemoryStore()
        await store.commit([Put(o.obj) for o in bookstore().objects.values()])
        ca = CertificateAuthority.create("cluster.local")
        cp = ControlPlane(store, ca.issue(SpiffeId("cluster.local", "mesh-system", "control-plane")))
        before = store.state()
        bad = (
            GOOD
            + "---\napiVersion: specs.smi-spec.io/v1alpha4\nkind: TCPRoute\nmetadata: {name: x}\n"
            + "spec: {matches: {ports: [0]}}\n"
        )
        outcome = await cp.apply(load_text(bad, "m.yaml"))
        assert not outcome.admission.ok and outcome.revision is None
        assert store.state() is before
        outcome = await cp.apply(load_text(GOOD, "m.yaml"))
        assert outcome.admission.ok and outcome.revision == before.revision + 1
        assert {o.key.kind for o in store.list() if o.resource_version == outcome.revision} == {
            "HTTPRouteGroup",
            "TrafficSplit",
        }
        # identical objects: nothing is written (kubectl's "unchanged")
        again = await cp.apply(load_text(GOOD, "m.yaml"))
        assert again.admission.ok and again.revision is None and store.state().revision == outcome.revision
        unchanged = ["HTTPRouteGroup default/routes", "TrafficSplit default/canary"]
        assert again.to_json()["unchanged"] == unchanged

    asyncio.run(go())
