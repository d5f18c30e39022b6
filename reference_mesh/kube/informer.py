"""List and watch one resource, as client-go's reflector does: the events of the Kubernetes-backed store.

One thread per resource (the official client is synchronous), no polling:

1. **list** every object (in pages), note the list's ``resourceVersion``, hand the whole set over
   (``SYNC``: the store replaces what it held of this resource, so deletions missed while away are seen);
2. **watch** from that version with bookmarks (``ADDED`` / ``MODIFIED`` / ``DELETED`` handed over one by one;
   ``BOOKMARK`` only moves the version on). The server ends a watch after ``timeoutSeconds``; it is reopened
   from the last version seen;
3. if the server answers **410 Gone** (the version is older than etcd keeps, either to the watch request or as
   an ``ERROR`` event), go back to 1: relist, then watch again. A failed request (API server restarting,
   network) is retried after a capped exponential backoff, from the same version.

``deliver`` is called on the informer's thread; the store hands events to its event loop.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import urllib3

from reference_mesh.kube.client import ApiError, KubeApi, Resource

__all__ = ["Event", "Informer"]

log = logging.getLogger(__name__)

#: ("SYNC", list of objects) or (ADDED | MODIFIED | DELETED, object)
Event = tuple[str, Any]


class _Gone(Exception):
    """The resource version is too old to watch from: relist."""


class Informer:
    def __init__(
        self,
        api: KubeApi,
        resource: Resource,
        deliver: Callable[[Resource, Event], None],
        *,
        label_selector: str | None = None,
        watch_timeout_s: int = 300,
        page_size: int = 500,
        backoff_base_s: float = 0.2,
        backoff_max_s: float = 10.0,
    ):
        self.api, self.resource, self.deliver = api, resource, deliver
        self.label_selector = label_selector
        self.watch_timeout_s, self.page_size = watch_timeout_s, page_size
        self.backoff_base_s, self.backoff_max_s = backoff_base_s, backoff_max_s
        self.resource_version: str | None = None
        #: how often the informer listed (1 + relists after 410 Gone or errors), for status and tests
        self.lists = 0
        self.last_error: str | None = None
        self._stopping = threading.Event()
        self._response: urllib3.BaseHTTPResponse | None = None
        self._thread = threading.Thread(target=self._run, name=f"informer-{resource.plural}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop now: the watch in progress is shut down under the thread's feet."""
        self._stopping.set()
        response = self._response
        if response is not None:
            try:
                response.shutdown()  # urllib3 >= 2.3: unblocks a read in progress
            except Exception:
                log.debug("shutting the watch of %s down", self.resource.plural, exc_info=True)
        self._thread.join(timeout)

    def _query(self) -> list[tuple[str, Any]]:
        return [("labelSelector", self.label_selector)] if self.label_selector else []

    # ---------------------------------------------------------------------------------------------- the loop
    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                if self.resource_version is None:
                    self._list()
                self._watch()
                failures = 0
            except _Gone:
                log.info("%s: resource version expired (410 Gone); relisting", self.resource.plural)
                self.resource_version = None
            except (ApiError, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
                if self._stopping.is_set():
                    break
                if isinstance(exc, ApiError) and exc.status == 410:
                    self.resource_version = None
                    continue
                failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                delay = min(self.backoff_max_s, self.backoff_base_s * 2 ** min(failures, 10))
                log.warning("%s: %s; retrying in %.1f s", self.resource.plural, self.last_error, delay)
                self._stopping.wait(delay)
            finally:
                self._response = None

    def _list(self) -> None:
        items: list[Any] = []
        token: str | None = None
        while True:
            query = [*self._query(), ("limit", self.page_size)]
            if token:
                query.append(("continue", token))
            page = self.api.request("GET", self.resource.path(), query=query, timeout=(10, 60))
            items.extend(page.get("items") or [])
            meta = page.get("metadata") or {}
            token = meta.get("continue")
            if not token:
                break
        self.lists += 1
        self.resource_version = str(meta.get("resourceVersion") or "") or None
        kind = self.resource.kind
        for item in items:  # list items carry no kind
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", self.resource.api_version)
        self.deliver(self.resource, ("SYNC", items))

    def _watch(self) -> None:
        query = [
            *self._query(),
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", self.watch_timeout_s),
            ("resourceVersion", self.resource_version),
        ]
        # the server closes the watch after timeoutSeconds; a read timeout just beyond catches a dead link
        response = self.api.open_stream(self.resource.path(), query, timeout=(10, self.watch_timeout_s + 30))
        self._response = response
        if self._stopping.is_set():
            return
        try:
            for line in _lines(response):
                if not line:
                    continue
                event = json.loads(line)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise _Gone()
                    raise ApiError(
                        int(obj.get("code") or 500), str(obj.get("message")), str(obj.get("reason"))
                    )
                version = (obj.get("metadata") or {}).get("resourceVersion")
                if version:
                    self.resource_version = str(version)
                if kind in ("ADDED", "MODIFIED", "DELETED"):
                    self.deliver(self.resource, (kind, obj))
        finally:
            response.release_conn()


def _lines(response: urllib3.BaseHTTPResponse) -> Iterator[str]:
    """The response body's lines, as they arrive (a watch sends one JSON event per line)."""
    pending = b""
    for chunk in response.stream(amt=None, decode_content=True):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.decode("utf-8", errors="replace")
    if pending:
        yield pending.decode("utf-8", errors="replace")
