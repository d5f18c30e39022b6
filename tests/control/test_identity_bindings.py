"""IdentityBinding subjects (access v1alpha4, experimental) in compiled policies: which pods a binding named
as a TrafficTarget's destination covers, and which SPIFFE ids a binding named as a source stands for. Each
scheme is checked on its own, with look-alikes (same account or labels in another namespace, the other
pods of the namespace) that must stay out: a slip here opens a workload or admits a caller."""

from __future__ import annotations

from builders import account, bookstore, pod, sid, smi

from reference_mesh.control.compiler import compile_mesh
from reference_mesh.control.resources import ObjectKey

PORTS = [(8080, "http"), (9000, "tcp")]
#: Beside the bookstore topology (namespace default): look-alikes in namespace ``other`` and more buyers.
EXTRA = (
    account("bookstore", "other"),
    account("bookbuyer", "other"),
    account("reader"),
    pod("bookstore-0", "bookstore", {"app": "bookstore", "version": "v2"}, "127.0.0.9", PORTS, ns="other"),
    pod("bookbuyer-0", "bookbuyer", {"app": "bookbuyer"}, "127.0.0.10", ns="other"),
    pod("reader-0", "reader", {"app": "bookbuyer", "role": "reader"}, "127.0.0.11"),
    pod("writer-0", "writer", {"app": "writer", "role": "reader"}, "127.0.0.12"),
)
ALL_TCP = """
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: all-tcp}
spec: {matches: {ports: []}}
"""


def binding(name: str, schemes: str, ns: str = "default") -> str:
    return f"""
---
apiVersion: access.smi-spec.io/v1alpha4
kind: IdentityBinding
metadata: {{name: {name}, namespace: {ns}}}
spec: {{schemes: {schemes}}}
"""


def target(destination: str, sources: str = "[{kind: ServiceAccount, name: bookbuyer}]") -> str:
    return f"""
---
apiVersion: access.smi-spec.io/v1alpha4
kind: TrafficTarget
metadata: {{name: t, namespace: default}}
spec:
  destination: {destination}
  sources: {sources}
  rules: [{{kind: TCPRoute, name: all-tcp}}]
"""


def covered(text: str) -> list[str]:
    """The pods (namespace/name) whose inbound policy has a rule, given these SMI documents."""
    configs = compile_mesh(bookstore(*EXTRA, *smi(ALL_TCP + text)))
    return sorted(f"{k.namespace}/{k.name}" for k, c in configs.items() if c.inbound.authorization.rules)


def sources_of(text: str) -> tuple[str, ...]:
    config = compile_mesh(bookstore(*EXTRA, *smi(ALL_TCP + text)))[
        ObjectKey("Pod", "default", "bookstore-v1-0")
    ]
    (rule,) = config.inbound.authorization.rules
    return rule.sources


DESTINATION = "{kind: IdentityBinding, name: b}"


# --------------------------------------------------------------------------------------------- destinations
def test_a_service_account_scheme_covers_that_accounts_pods_only() -> None:
    assert covered(binding("b", "{serviceAccount: bookstore}") + target(DESTINATION)) == [
        "default/bookstore-v1-0",
        "default/bookstore-v2-0",
    ]


def test_a_pod_label_selector_covers_the_pods_with_every_label() -> None:
    text = binding("b", "{podLabelSelector: {matchLabels: {app: bookstore, version: v2}}}") + target(
        DESTINATION
    )
    assert covered(text) == ["default/bookstore-v2-0"]
    text = binding("b", "{podLabelSelector: {matchLabels: {role: reader}}}") + target(DESTINATION)
    assert covered(text) == ["default/reader-0", "default/writer-0"]


def test_spiffe_identities_cover_the_pods_running_as_them_with_or_without_the_scheme() -> None:
    ids = '["cluster.local/ns/default/sa/bookbuyer", "spiffe://cluster.local/ns/default/sa/bookthief"]'
    assert covered(binding("b", f"{{spiffeIdentities: {ids}}}") + target(DESTINATION)) == [
        "default/bookbuyer-0",
        "default/bookthief-0",
    ]
    other = '["spiffe://cluster.local/ns/default/sa/nobody", "cluster.local/ns/default/sa/bookstore/x"]'
    assert covered(binding("b", f"{{spiffeIdentities: {other}}}") + target(DESTINATION)) == []


def test_a_binding_of_another_namespace_covers_nothing_here() -> None:
    """Its account and its label selector name workloads of its own namespace; the TrafficTarget covers only
    pods of the TrafficTarget's namespace (defence in depth behind admission's SMI404)."""
    elsewhere = "{kind: IdentityBinding, name: b, namespace: other}"
    for schemes in ("{serviceAccount: bookstore}", "{podLabelSelector: {matchLabels: {app: bookstore}}}"):
        assert covered(binding("b", schemes, ns="other") + target(elsewhere)) == [], schemes


# -------------------------------------------------------------------------------------------------- sources
def test_a_pod_label_selector_source_stands_for_the_accounts_of_its_namespaces_matching_pods() -> None:
    text = binding("buyers", "{podLabelSelector: {matchLabels: {app: bookbuyer}}}")
    assert sources_of(
        text + target("{kind: ServiceAccount, name: bookstore}", "[{kind: IdentityBinding, name: buyers}]")
    ) == (
        sid("bookbuyer"),
        sid("reader"),
    )
    text = binding("buyers", "{podLabelSelector: {matchLabels: {app: bookbuyer, role: reader}}}")
    assert sources_of(
        text + target("{kind: ServiceAccount, name: bookstore}", "[{kind: IdentityBinding, name: buyers}]")
    ) == (sid("reader"),)


def test_a_source_binding_in_another_namespace_stands_for_that_namespaces_accounts() -> None:
    text = binding(
        "buyers", "{serviceAccount: bookstore, podLabelSelector: {matchLabels: {app: bookbuyer}}}", "other"
    )
    sources = "[{kind: IdentityBinding, name: buyers, namespace: other}]"
    assert sources_of(text + target("{kind: ServiceAccount, name: bookstore}", sources)) == (
        sid("bookstore", "other"),
        sid("bookbuyer", "other"),
    )


def test_spiffe_identity_sources_keep_every_valid_id_and_drop_the_rest() -> None:
    ids = (
        '["not a spiffe id", "spiffe://cluster.local/ns/other/sa/bookbuyer", "cluster.local/ns/shop/sa/x",'
        ' "spiffe://cluster.local/ns/shop/sa/x/extra"]'
    )
    text = binding("ids", f"{{spiffeIdentities: {ids}}}")
    sources = "[{kind: IdentityBinding, name: ids}]"
    assert sources_of(text + target("{kind: ServiceAccount, name: bookstore}", sources)) == (
        sid("bookbuyer", "other"),
        sid("x", "shop"),
    )
