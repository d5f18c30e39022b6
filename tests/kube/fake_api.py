"""A stand-in Kubernetes API server for the informer and store tests: list (with pages) and watch over real
HTTP on loopback, with the behaviours the informer must survive on demand (410 Gone, bookmarks). The real
API server is exercised by tests/kind."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from kubernetes import client

from reference_mesh.kube.client import KubeApi


@dataclass
class Collection:
    items: list[dict[str, Any]] = field(default_factory=list)
    version: int = 1
    #: events for the next watches, in order; None ends the current watch (as the server's timeout does)
    events: queue.Queue[dict[str, Any] | None] = field(default_factory=queue.Queue)
    #: answer the next watch with this status instead (e.g. 410)
    refuse_next_watch: int | None = None
    lists: int = 0
    watches: list[str] = field(default_factory=list)  #: resourceVersion asked by each watch


class FakeApi:
    def __init__(self) -> None:
        self.collections: dict[str, Collection] = {}
        self.lock = threading.Lock()

    def collection(self, path: str) -> Collection:
        with self.lock:
            return self.collections.setdefault(path, Collection())

    def add(self, path: str, obj: dict[str, Any], event: str = "ADDED") -> None:
        """Store ``obj`` and send the event to watchers."""
        c = self.collection(path)
        with self.lock:
            c.version += 1
            obj = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(c.version)}}
            key = (obj["metadata"].get("namespace"), obj["metadata"]["name"])
            c.items = [i for i in c.items if (i["metadata"].get("namespace"), i["metadata"]["name"]) != key]
            if event != "DELETED":
                c.items.append(obj)
        c.events.put({"type": event, "object": obj})

    def send(self, path: str, event: dict[str, Any] | None) -> None:
        self.collection(path).events.put(event)


def _handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _json(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            c = api.collection(url.path)
            if query.get("watch") == "true":
                self._watch(c, query)
                return
            with api.lock:
                c.lists += 1
                items, version = list(c.items), c.version
                while not c.events.empty():  # a watch from this list's version sees only what comes next
                    c.events.get_nowait()
            start = int(query.get("continue") or 0)
            limit = int(query.get("limit") or 500)
            page = items[start : start + limit]
            meta: dict[str, Any] = {"resourceVersion": str(version)}
            if start + limit < len(items):
                meta["continue"] = str(start + limit)
            self._json(200, {"kind": "List", "apiVersion": "v1", "metadata": meta, "items": page})

        def _watch(self, c: Collection, query: dict[str, str]) -> None:
            c.watches.append(query.get("resourceVersion", ""))
            if c.refuse_next_watch is not None:
                status, c.refuse_next_watch = c.refuse_next_watch, None
                self._json(
                    status, {"kind": "Status", "code": status, "reason": "Expired", "message": "too old"}
                )
                return
            # as the API server streams a watch: chunked, one JSON event per line
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            timeout = float(query.get("timeoutSeconds") or 60)
            try:
                while True:
                    try:
                        event = c.events.get(timeout=timeout)
                    except queue.Empty:
                        event = None
                    if event is None:
                        self.wfile.write(b"0\r\n\r\n")
                        return
                    line = json.dumps(event).encode() + b"\n"
                    self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return

    return Handler


@contextmanager
def fake_api() -> Iterator[tuple[FakeApi, KubeApi]]:
    api = FakeApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    configuration = client.Configuration(host=f"http://127.0.0.1:{server.server_address[1]}")
    api_client = client.ApiClient(configuration)
    try:
        yield api, KubeApi(api_client)
    finally:
        for c in api.collections.values():
            c.events.put(None)  # end open watches
        server.shutdown()
        server.server_close()
        api_client.close()
