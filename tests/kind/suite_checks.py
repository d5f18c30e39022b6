"""Checks of the Kubernetes backend, written as a user writes their own tests with the plugin's fixtures; run
by tests/kind/test_conformance_suite.py in the same session as the core profile (one installation for both):

    pytest --pyargs smi_conformance.suite.tests tests/kind/suite_checks.py --smi-mesh=reference \
        --smi-cluster=kind
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from smi_conformance.cluster.base import ApplyRefused, Cluster
from smi_conformance.cluster.kubernetes import KubernetesCluster
from smi_conformance.suite import manifests as m
from smi_conformance.suite.traffic import Traffic

Apply = Callable[[Sequence[Mapping[str, Any]]], None]


def test_a_refused_batch_applies_nothing(smi_cluster: Cluster) -> None:
    """The admission webhook refuses the second object: the dry run catches it, the first is not created."""
    assert isinstance(smi_cluster, KubernetesCluster)
    t = smi_cluster.topology
    routes = m.http_routes(t, "batch-routes", [m.http_match("all", path_regex="/.*")])
    bad = m.split(t, "batch-split", "web", {"web-v1": 1, "web-v2": 1})
    bad["spec"]["backends"].append(dict(bad["spec"]["backends"][0]))  # SMI204 duplicate-backend
    with pytest.raises(ApplyRefused) as refused:
        smi_cluster.apply([routes, bad])
    (message,) = refused.value.messages
    assert message.startswith(f"TrafficSplit {t.main}/batch-split: ") and "SMI204" in message
    assert smi_cluster.objects.get(routes) is None


def test_a_version_the_cluster_does_not_serve_is_refused_by_name(smi_cluster: Cluster) -> None:
    assert isinstance(smi_cluster, KubernetesCluster)
    t = smi_cluster.topology
    target = m.traffic_target(t, "experimental", destination="web", sources=["client"], rules=[])
    target["apiVersion"] = "access.smi-spec.io/v1alpha4"  # experimental: never served
    with pytest.raises(ApplyRefused, match=r"does not serve access\.smi-spec\.io/v1alpha4"):
        smi_cluster.apply([target])


def test_the_pod_proxy_carries_a_driver_call_longer_than_the_api_servers_request_timeout(
    smi_cluster: Cluster, smi_apply: Apply
) -> None:
    """Seven requests of ten seconds one after the other: the driver answers after 70 s, beyond the 60 s the
    API server allows requests that are not long-running (pod proxy requests are)."""
    t = smi_cluster.topology
    smi_apply(m.allow(t, "slow-client", sources=["client"], destination="web"))
    traffic = Traffic(smi_cluster)
    try:
        ok = None
        for _ in range(30):  # the grant takes effect within the time to consistency
            ok = traffic.http("client", "web-v1", count=1)
            if ok.count(ok=True) == 1:
                break
        assert ok is not None and ok.count(ok=True) == 1, ok.summary() if ok else None
        slow = traffic.http("client", "web-v1", path="/?delay=10000", count=7, concurrency=1, timeout_s=14)
    finally:
        traffic.close()
    assert slow.count(ok=True) == 7, slow.summary()
    assert slow.elapsed_s >= 70
