"""``reference-mesh check --context``: the checks of a mesh installed on Kubernetes.

Besides what ``check`` verifies on loopback (the control plane compiled the latest revision; every proxy is
connected and acknowledged its latest snapshot; certificates are not near expiry), on a cluster: the control
plane Deployment is ready, the SMI CRDs are Established, both webhooks are registered, the Traffic Metrics
APIService is Available and answers through the API server, every informer is synced without errors, and no
SMI object in the cluster is one the mesh cannot read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from reference_mesh.cli.check import Check
from reference_mesh.cli.client import KubeMeshClient
from reference_mesh.kube import names
from reference_mesh.kube.client import ApiError
from reference_mesh.kube.manifests import RESOURCES, smi_crds

__all__ = ["kube_checks"]


def _read(client: KubeMeshClient, kind: str, name: str, namespace: str | None = None) -> Any:
    try:
        return client.api.get(RESOURCES[kind].path(namespace, name))
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise


def _conditions(obj: Any) -> dict[str, Any]:
    return {c["type"]: c for c in ((obj or {}).get("status") or {}).get("conditions") or []}


def _installation(client: KubeMeshClient) -> list[Check]:
    checks = []
    deployment = _read(client, "Deployment", names.CONTROL_PLANE, names.NAMESPACE)
    status = (deployment or {}).get("status") or {}
    checks.append(
        Check(
            "control plane deployment",
            deployment is not None and status.get("readyReplicas", 0) >= 1,
            "ready" if deployment else "not installed (reference-mesh install --context ...)",
        )
    )
    missing = [
        crd["metadata"]["name"]
        for crd in smi_crds()
        if _conditions(_read(client, "CustomResourceDefinition", crd["metadata"]["name"]))
        .get("Established", {})
        .get("status")
        != "True"
    ]
    checks.append(
        Check("SMI CRDs", not missing, f"not Established: {', '.join(missing)}" if missing else "Established")
    )
    for kind, name in (
        ("ValidatingWebhookConfiguration", names.VALIDATING_WEBHOOK),
        ("MutatingWebhookConfiguration", names.MUTATING_WEBHOOK),
    ):
        present = _read(client, kind, name) is not None
        checks.append(Check(f"webhook {name}", present, "registered" if present else "missing"))
    available = _conditions(_read(client, "APIService", names.APISERVICE)).get("Available", {})
    ok = available.get("status") == "True"
    checks.append(
        Check(f"APIService {names.APISERVICE}", ok, "Available" if ok else str(available.get("message")))
    )
    if ok:
        try:
            client.api.get(f"/apis/{names.METRICS_GROUP}/{names.METRICS_VERSION}")
            checks.append(Check("metrics API", True, "answers through the API server"))
        except ApiError as exc:
            checks.append(Check("metrics API", False, exc.message))
    return checks


def _proxies(body: dict[str, Any], now: dt.datetime) -> list[Check]:
    checks = []
    for proxy in body.get("proxies", []):
        name = f"proxy {proxy['instance']}"
        if not proxy["connected"]:
            checks.append(
                Check(name, False, f"not connected to the control plane (serving {proxy['acked']})")
            )
        elif proxy["nacked"] and proxy["nacked"] == proxy["desired"]:
            checks.append(Check(name, False, f"refused snapshot {proxy['nacked']}: {proxy['error']}"))
        elif not proxy["up_to_date"]:
            checks.append(
                Check(name, False, f"stale: on version {proxy['acked']}, latest is {proxy['desired']}")
            )
        else:
            checks.append(Check(name, True, f"on the latest snapshot ({proxy['acked']})"))
    for pod, cert in sorted((body.get("certificates") or {}).items()):
        if "not_after" not in cert:
            checks.append(Check(f"certificate {pod}", False, f"proxy admin unreachable: {cert.get('error')}"))
            continue
        start, end = (
            dt.datetime.fromisoformat(cert["not_before"]),
            dt.datetime.fromisoformat(cert["not_after"]),
        )
        left, lifetime = (end - now).total_seconds(), (end - start).total_seconds()
        # renewal at 70% of the lifetime should have replaced it before a quarter is left
        ok = left > max(60.0, 0.25 * lifetime)
        checks.append(Check(f"certificate {pod}", ok, f"valid for {left / 60:.0f} more minutes"))
    return checks


def kube_checks(client: KubeMeshClient) -> list[Check]:
    checks = _installation(client)
    status, body = client.call("/api/status")
    if status != 200 or not isinstance(body, dict):
        return [*checks, Check("control plane admin API", False, f"answered {status}: {body}")]
    kube, cp, store = body["kubernetes"], body["control_plane"], body["store"]
    failing = [i for i in kube["informers"] if i["last_error"]]
    detail = (
        "; ".join(f"{i['resource']}: {i['last_error']}" for i in failing)
        or "every resource listed and watched"
    )
    checks.append(Check("informers", kube["synced"] and not failing, detail))
    checks.append(
        Check(
            "control plane",
            bool(cp["running"]) and cp["compiled_revision"] == store["revision"],
            f"running={cp['running']} compiled revision {cp['compiled_revision']} of {store['revision']}",
        )
    )
    unreadable = kube.get("unreadable") or {}
    checks.append(
        Check(
            "SMI objects",
            not unreadable,
            "; ".join(f"{k}: {v}" for k, v in unreadable.items()) or "every SMI object is readable",
        )
    )
    now = dt.datetime.now(dt.timezone.utc)
    checks += _proxies(body, now)
    left = (dt.datetime.fromisoformat(kube["ca_not_after"]) - now).total_seconds()
    checks.append(Check("mesh CA", left > 7 * 86400, f"valid for {left / 86400:.0f} more days"))
    return checks
