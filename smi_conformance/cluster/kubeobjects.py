"""Objects of any kind on a Kubernetes API server, as plain JSON: find where a kind lives (discovery), apply
it (server-side apply, optionally as a dry run), read it, delete it, wait for it to go.

The conformance suite's Kubernetes backend applies SMI objects in whatever versions the mesh's CRDs serve, the
standard topology's namespaces and workloads, and the manifests of declarative mesh adapters: all through
:class:`Objects`, so "what does the cluster serve" is answered one way, by the API server's discovery, never
by a table of our own (another mesh's CRDs may serve other versions than ours).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from smi_conformance.cluster.kubeapi import ApiError, KubeApi, Resource

__all__ = ["FIELD_MANAGER", "NotServed", "Objects", "describe"]

#: The field manager of everything the suite applies (server-side apply).
FIELD_MANAGER = "smi-conformance"


class NotServed(LookupError):
    """The API server serves no such group, version or kind; the message says what it does serve."""


def describe(obj: Mapping[str, Any]) -> str:
    """``TrafficSplit smi-conformance/web-split`` (the object named as a person reads it)."""
    meta = obj.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind', '?')} {where}{meta.get('name', '?')}"


class Objects:
    """Objects of every kind the API server serves. Discovery answers are cached per group version and
    refreshed when a kind is not found (a CRD installed a moment ago)."""

    def __init__(self, api: KubeApi):
        self.api = api
        self._served: dict[str, dict[str, Resource]] = {}

    # ------------------------------------------------------------------------------------------- discovery
    def _discover(self, api_version: str) -> dict[str, Resource]:
        group, _, version = api_version.rpartition("/")
        path = f"/apis/{api_version}" if group else f"/api/{version}"
        try:
            listed = self.api.get(path)
        except ApiError as exc:
            if exc.status in (404, 503):
                return {}
            raise
        kinds: dict[str, Resource] = {}
        for item in listed.get("resources") or []:
            if "/" in item["name"]:  # a subresource (status, scale, proxy...)
                continue
            kinds[item["kind"]] = Resource(
                item["kind"], item["name"], group, version, namespaced=bool(item.get("namespaced"))
            )
        return kinds

    def served_versions(self, group: str) -> list[str]:
        """The versions the API server serves for ``group`` (empty when none)."""
        try:
            listed = self.api.get(f"/apis/{group}")
        except ApiError as exc:
            if exc.status in (404, 503):
                return []
            raise
        return [v["version"] for v in listed.get("versions") or []]

    def resource(self, api_version: str, kind: str, *, refresh: bool = False) -> Resource:
        """Where objects of ``kind`` in ``api_version`` live. NotServed says what is served instead."""
        if refresh or kind not in self._served.get(api_version, {}):
            self._served[api_version] = self._discover(api_version)
        found = self._served[api_version].get(kind)
        if found is not None:
            return found
        group = api_version.rpartition("/")[0]
        if self._served[api_version]:
            raise NotServed(
                f"the cluster serves no kind {kind} in {api_version} (it serves "
                f"{', '.join(sorted(self._served[api_version]))})"
            )
        versions = self.served_versions(group) if group else []
        if versions:
            served = ", ".join(versions)
            raise NotServed(f"the cluster does not serve {api_version} (it serves {served} of {group})")
        raise NotServed(f"the cluster does not serve {api_version} (is the CRD for {kind} installed?)")

    def resource_of(self, obj: Mapping[str, Any], *, wait_s: float = 0.0) -> Resource:
        """The resource of ``obj``; with ``wait_s``, kinds not served yet are looked up again until then (a
        CRD applied by the same batch takes a moment to be served)."""
        deadline = time.monotonic() + wait_s
        refresh = False
        while True:
            try:
                api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
                return self.resource(api_version, kind, refresh=refresh)
            except NotServed:
                if time.monotonic() >= deadline:
                    raise
            refresh = True
            time.sleep(0.5)

    # --------------------------------------------------------------------------------------------- objects
    @staticmethod
    def _path(resource: Resource, obj: Mapping[str, Any]) -> str:
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") if resource.namespaced else None
        if resource.namespaced and not namespace:
            raise ValueError(f"{describe(obj)}: a namespaced object needs metadata.namespace")
        return resource.path(namespace, meta["name"])

    def apply(self, obj: Mapping[str, Any], *, dry_run: bool = False, wait_s: float = 0.0) -> Any:
        """Create or update ``obj`` by server-side apply (field manager ``smi-conformance``, conflicts
        forced); the object as stored (or as it would be, for a dry run). ApiError on refusal."""
        resource = self.resource_of(obj, wait_s=wait_s)
        query: list[tuple[str, Any]] = [("fieldManager", FIELD_MANAGER), ("force", "true")]
        if dry_run:
            query.append(("dryRun", "All"))
        return self.api.request(
            "PATCH",
            self._path(resource, obj),
            query=query,
            body=dict(obj),
            content_type="application/apply-patch+yaml",
        )

    def get(self, obj: Mapping[str, Any]) -> Any:
        """The object as the API server holds it, or None."""
        try:
            resource = self.resource_of(obj)
        except NotServed:
            return None
        try:
            return self.api.get(self._path(resource, obj))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def replace(self, obj: Mapping[str, Any]) -> Any:
        """PUT ``obj`` (its ``metadata.resourceVersion`` must be the current one)."""
        resource = self.resource_of(obj)
        return self.api.request("PUT", self._path(resource, obj), body=dict(obj))

    def delete(self, obj: Mapping[str, Any], *, propagation: str = "Background") -> bool:
        """Delete ``obj``; False when it was not there (or its kind is not served). An object is the same in
        every version of its kind, so one written in a version the cluster does not serve is deleted
        through a version it does serve."""
        try:
            resource = self.resource_of(obj)
        except NotServed:
            found = self._served_elsewhere(obj)
            if found is None:
                return False
            resource = found
        try:
            self.api.request("DELETE", self._path(resource, obj), query=[("propagationPolicy", propagation)])
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def _served_elsewhere(self, obj: Mapping[str, Any]) -> Resource | None:
        """The resource of ``obj``'s kind in another version of its group that the cluster serves."""
        group = str(obj.get("apiVersion", "")).rpartition("/")[0]
        for version in self.served_versions(group) if group else []:
            try:
                return self.resource(f"{group}/{version}", str(obj.get("kind", "")))
            except NotServed:
                continue
        return None

    def items(self, resource: Resource, namespace: str | None = None, **query: Any) -> list[Any]:
        """The objects of ``resource`` (in ``namespace``, or everywhere), filtered by ``query``."""
        found: list[Any] = self.api.get(resource.path(namespace), **query).get("items") or []
        return found

    def wait_gone(self, objs: Sequence[Mapping[str, Any]], timeout_s: float) -> list[str]:
        """Wait until none of ``objs`` exists; what is still there when ``timeout_s`` has passed."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = [describe(o) for o in objs if self.get(o) is not None]
            if not left or time.monotonic() >= deadline:
                return left
            time.sleep(0.5)
