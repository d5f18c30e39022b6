"""Our SMI CRDs (schemas/crds/) on a test cluster, and SMI objects sent to it as kubectl sends them.

Installing: every CRD file (the main set and experimental/), created with ``fieldValidation=Strict`` so that
a keyword the API server does not know is an error instead of being dropped. pytest-xdist runs the cluster
tests in several processes against one cluster, so the installation is shared: each process registers itself
in a file beside the kubeconfig (under a lock); the first installs the CRDs (replacing ones an earlier run
left with other content), the last to leave deletes them. SMI CRDs that these helpers did not install (a
mesh's own) are never replaced or deleted: the tests fail and say so.

Objects go through ``CustomObjectsApi`` as plain dicts (no client-side model), with
``fieldValidation=Strict``: an unknown field is an error naming it, as with ``kubectl apply``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from smi_conformance import models
from smi_conformance.cluster.kind import exclusive

from .workloads import NotYet, wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
CRD_DIR = REPO_ROOT / "schemas" / "crds"
INSTALLED_BY = "smi-conformance.io/installed-by-tests"
"""Annotation on the CRDs these helpers install: a fingerprint of the file's content."""
_CRDS = ("apiextensions.k8s.io", "v1", "customresourcedefinitions")
SERVER_SET_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields")
Doc = dict[str, Any]


class ForeignCRD(RuntimeError):
    """The cluster has an SMI CRD these helpers did not install; they leave it alone."""


def crd_files() -> list[Doc]:
    """Every CRD in schemas/crds/, experimental/ included."""
    out = []
    for path in sorted(CRD_DIR.rglob("*.yaml")):
        with path.open(encoding="utf-8") as handle:
            out.extend(d for d in yaml.load_all(handle, Loader=yaml.CSafeLoader) if d)
    return out


def version_entries(crds: list[Doc]) -> list[tuple[Doc, Doc]]:
    """(CRD, version entry) for every version every CRD defines."""
    return [(crd, version) for crd in crds for version in crd["spec"]["versions"]]


def _fingerprint(crd: Doc) -> str:
    return hashlib.sha256(json.dumps(crd, sort_keys=True).encode()).hexdigest()[:32]


def _read_crd(custom: client.CustomObjectsApi, name: str) -> Doc | None:
    try:
        found: Doc = custom.get_cluster_custom_object(*_CRDS, name)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return found


def _gone(custom: client.CustomObjectsApi, name: str) -> bool:
    if _read_crd(custom, name) is not None:
        raise NotYet(f"CRD {name} is still being deleted")
    return True


def _install(custom: client.CustomObjectsApi, crd: Doc) -> None:
    """Create ``crd``, unless the same content is installed already; replace an older installation of ours."""
    name = crd["metadata"]["name"]
    body = copy.deepcopy(crd)
    body["metadata"].setdefault("annotations", {})[INSTALLED_BY] = _fingerprint(crd)
    current = _read_crd(custom, name)
    if current is not None:
        annotations = current["metadata"].get("annotations") or {}
        if INSTALLED_BY not in annotations:
            raise ForeignCRD(
                f"the cluster already has a CRD {name} that these tests did not install; "
                "run them on a cluster without SMI CRDs (ci/kind/up.sh creates one)"
            )
        terminating = "deletionTimestamp" in current["metadata"]
        if annotations[INSTALLED_BY] == body["metadata"]["annotations"][INSTALLED_BY] and not terminating:
            return
        if not terminating:
            custom.delete_cluster_custom_object(*_CRDS, name)
        wait_for(f"the old CRD {name} to go", lambda: _read_crd(custom, name) is None, timeout=120)
    custom.create_cluster_custom_object(*_CRDS, body, field_validation="Strict")


def _established(custom: client.CustomObjectsApi, name: str) -> Doc:
    current = _read_crd(custom, name)
    if current is None:
        raise NotYet(f"{name} does not exist")
    # a CRD just created may have `status: {conditions: null}` until its controllers have looked at it
    conditions = {c["type"]: c for c in (current.get("status") or {}).get("conditions") or []}
    established = conditions.get("Established", {})
    if established.get("status") != "True":
        raise NotYet(f"{name}: Established={established.get('status')} {established.get('message', '')}")
    return current


def _users(path: Path, *, add: int | None = None, remove: int | None = None) -> set[int]:
    """The live processes registered in ``path``, after adding/removing one; written back."""
    pids = set()
    if path.exists():
        for word in path.read_text().split():
            try:
                os.kill(int(word), 0)
            except (ValueError, ProcessLookupError):
                continue  # not a pid, or a process that ended without unregistering
            except PermissionError:
                pass  # alive, someone else's
            pids.add(int(word))
    if add is not None:
        pids.add(add)
    if remove is not None:
        pids.discard(remove)
    path.write_text("".join(f"{pid}\n" for pid in sorted(pids)))
    return pids


@contextmanager
def installed(api_client: client.ApiClient, state: Path) -> Iterator[dict[str, Doc]]:
    """Install every CRD (shared between processes, see the module docstring) and yield them as the API
    server holds them once Established, by name. ``state`` is the path the lock and users files go beside."""
    custom = client.CustomObjectsApi(api_client)
    crds = crd_files()
    lock, users = state.with_suffix(".smi-crds.lock"), state.with_suffix(".smi-crds.users")
    with exclusive(lock):
        _users(users, add=os.getpid())
        for crd in crds:
            _install(custom, crd)
    try:
        yield {
            crd["metadata"]["name"]: wait_for(
                f"CRD {crd['metadata']['name']} to be Established",
                lambda name=crd["metadata"]["name"]: _established(custom, name),
                timeout=60,
                interval=0.2,
            )
            for crd in crds
        }
    finally:
        with exclusive(lock):
            if not _users(users, remove=os.getpid()):
                deleted = []
                for crd in crds:
                    current = _read_crd(custom, crd["metadata"]["name"])
                    if current and INSTALLED_BY in (current["metadata"].get("annotations") or {}):
                        custom.delete_cluster_custom_object(*_CRDS, crd["metadata"]["name"])
                        deleted.append(crd["metadata"]["name"])
                # A deleted CRD lingers while the API server removes its objects: whoever takes the CRDs
                # next (a mesh installation, smi_crd_owner) must find them gone, not terminating (seen in CI:
                # the reference mesh refused three terminating CRDs as someone else's).
                for name in deleted:
                    wait_for(f"CRD {name} to be gone", lambda name=name: _gone(custom, name), timeout=120)


# ---- objects ----


def _where(doc: Doc) -> tuple[str, str, str]:
    group, _, version = doc["apiVersion"].partition("/")
    info = models.lookup(doc["apiVersion"], doc["kind"])
    assert info is not None, f"not an SMI kind: {doc['apiVersion']} {doc['kind']}"
    return group, version, info.plural


def create(
    api_client: client.ApiClient, doc: Doc, namespace: str, *, dry_run: bool = True
) -> tuple[Doc, list[str]]:
    """Create ``doc`` in ``namespace`` (dry-run unless asked); the object the API server returns and its
    warnings. Raises ApiException when the API server refuses it."""
    group, version, plural = _where(doc)
    api = client.CustomObjectsApi(api_client)
    deadline = time.monotonic() + 20
    while True:
        try:
            data, _, headers = api.create_namespaced_custom_object_with_http_info(
                group,
                version,
                namespace,
                plural,
                doc,
                dry_run="All" if dry_run else None,
                field_validation="Strict",
            )
            return data, warnings(headers)
        except ApiException as exc:
            # A busy API server (429, 5xx) answers again shortly; a refusal of the object (400, 409, 422) or
            # of its version (404: not served) is the answer. Retrying keeps the results independent of the
            # cluster's load, which hypothesis also requires (an example must behave the same when replayed).
            if exc.status not in (429, 500, 502, 503, 504) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def get(
    api_client: client.ApiClient, api_version: str, kind: str, namespace: str, name: str
) -> tuple[Doc, list[str]]:
    """Read an object through ``api_version``; the object and the warnings."""
    group, version, plural = _where({"apiVersion": api_version, "kind": kind})
    data, _, headers = client.CustomObjectsApi(api_client).get_namespaced_custom_object_with_http_info(
        group, version, namespace, plural, name
    )
    return data, warnings(headers)


def refusal(api_client: client.ApiClient, doc: Doc, namespace: str) -> ApiException | None:
    """Why the API server refuses ``doc`` (dry-run create), or None if it takes it."""
    try:
        create(api_client, doc, namespace)
    except ApiException as exc:
        return exc
    return None


def message(exc: ApiException) -> str:
    """The API server's message: the Status ``message`` (every cause, with its field path)."""
    try:
        return str(json.loads(exc.body)["message"])
    except (TypeError, ValueError, KeyError):
        return str(exc.body)


_WARNING = re.compile(r'\d{3} \S+ "((?:[^"\\]|\\.)*)"')


def warnings(headers: Any) -> list[str]:
    """The texts of the ``Warning`` response headers (RFC 7234: ``299 - "text"``)."""
    values = headers.getlist("Warning")  # urllib3's HTTPHeaderDict: one entry per header line
    return [m.group(1) for value in values if value for m in _WARNING.finditer(value)]


def field_path(path: tuple[str | int, ...]) -> str:
    """A model problem path as the API server writes it: ``spec.backends[0].weight``."""
    out = ""
    for seg in path:
        out += f"[{seg}]" if isinstance(seg, int) else (f".{seg}" if out else str(seg))
    return out


def names_path(text: str, path: tuple[str | int, ...]) -> bool:
    """Whether an API server message names ``path``. Metadata is checked by the API server's own code, which
    names the field (``metadata.labels``, or ``ObjectMeta.labels`` for a value of the wrong JSON type) but not
    the key within it."""
    if path[:1] == ("metadata",) and len(path) > 1:
        return any(f"{prefix}.{path[1]}" in text for prefix in ("metadata", "ObjectMeta"))
    return field_path(path) in text


def without_nulls(node: Any) -> Any:
    """``node`` with null mapping values dropped: what the API server keeps of it (it prunes nulls, which the
    models read as "absent")."""
    if isinstance(node, dict):
        return {k: without_nulls(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [without_nulls(v) for v in node]
    return node


def as_sent(doc: Doc, namespace: str) -> Doc:
    """What a stored ``doc`` must read back as, apart from server-set metadata: nulls pruned, and empty
    ``labels: {}``/``annotations: {}`` left out (ObjectMeta omits empty fields; it means the same)."""
    out: Doc = without_nulls(doc)
    metadata = {k: v for k, v in out.get("metadata", {}).items() if v not in ({}, [])}
    out["metadata"] = {**metadata, "namespace": namespace}
    return out


def as_stored(obj: Doc) -> Doc:
    """An object the API server returned, without the metadata it sets itself."""
    out = copy.deepcopy(obj)
    for key in SERVER_SET_METADATA:
        out.get("metadata", {}).pop(key, None)
    return out


def map_form(node: Any) -> Any:
    """``node`` with header filters in list form (``- user-agent: x``) turned into the map form the CRDs
    describe (the models accept both; see docs/crd-differences.md)."""
    if isinstance(node, dict):
        out = {k: map_form(v) for k, v in node.items()}
        if isinstance(out.get("headers"), list):
            out["headers"] = {k: v for item in out["headers"] for k, v in item.items()}
        return out
    if isinstance(node, list):
        return [map_form(v) for v in node]
    return node
