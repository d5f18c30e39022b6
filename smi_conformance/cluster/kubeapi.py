"""The one place that talks HTTP to the Kubernetes API server, through the official ``kubernetes`` client
(the conformance suite's Kubernetes backend and the reference mesh on Kubernetes both use it).

The client's configuration does everything about reaching and authenticating to a cluster (kubeconfig
contexts, exec plugins, in-cluster service-account tokens, refreshed when the kubelet rotates them); this
module only builds requests by path, so that every resource (built-in or custom) is handled the same way
and objects stay plain JSON (the generated models are not needed, and are slow to build for every event).

Resources are declared (:class:`Resource`), never discovered: the mesh knows what it reads and writes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

__all__ = ["ApiError", "KubeApi", "Resource", "connect"]


class ApiError(Exception):
    """The API server answered with an error status (or could not be reached: status 0)."""

    def __init__(self, status: int, message: str, reason: str = ""):
        super().__init__(f"{status} {reason}: {message}" if reason else f"{status}: {message}")
        self.status, self.message, self.reason = status, message, reason


@dataclass(frozen=True)
class Resource:
    """A kind of the API: where its objects live."""

    kind: str
    plural: str
    group: str = ""  #: "" for the core group
    version: str = "v1"
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The collection (every namespace when ``namespace`` is None), or one object."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace is not None:
            base += f"/namespaces/{quote(namespace)}"
        base += f"/{self.plural}"
        return base + (f"/{quote(name)}" if name is not None else "")


def connect(kubeconfig: Path | None = None, context: str | None = None) -> client.ApiClient:
    """An API client: in a pod (and no kubeconfig named) with the pod's service account, else from the
    kubeconfig file (``$KUBECONFIG`` or ``~/.kube/config``) and context given."""
    configuration = client.Configuration()
    try:
        if kubeconfig is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        else:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=str(kubeconfig) if kubeconfig else None,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
    except (ConfigException, OSError) as exc:
        where = f"context {context!r}" if context else str(kubeconfig or "the default kubeconfig")
        raise ApiError(0, f"cannot load the cluster configuration ({where}): {exc}") from exc
    # one connection per watch plus requests: more than the default pool of cpu_count * 5
    configuration.connection_pool_maxsize = 32
    return client.ApiClient(configuration)


class KubeApi:
    """Requests by path, JSON in and out."""

    def __init__(self, api_client: client.ApiClient):
        self.api_client = api_client

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, Any]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | tuple[float, float] = 30.0,
    ) -> Any:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        serialized = self.api_client.param_serialize(
            method,
            path,
            query_params=query or [],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            return self.api_client.call_api(*serialized, _request_timeout=timeout)
        except ApiException as exc:
            raise _error(exc.status or 0, exc.body, exc.reason or "") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ApiError(0, f"{method} {path}: API server unreachable: {exc}") from exc

    def request(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, Any]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | tuple[float, float] = 30.0,
    ) -> Any:
        """Send one request; the decoded JSON answer (None when empty). Raises :class:`ApiError`."""
        response = self._send(
            method, path, query=query, body=body, content_type=content_type, timeout=timeout
        )
        data = response.read()
        if not 200 <= response.status <= 299:
            raise _error(response.status, data, response.reason or "")
        return json.loads(data) if data else None

    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query=[(k, v) for k, v in query.items() if v is not None])

    def open_stream(
        self, path: str, query: list[tuple[str, Any]], timeout: tuple[float, float]
    ) -> urllib3.BaseHTTPResponse:
        """A streaming GET (a watch, a proxied log or tap): the caller reads and closes the response."""
        response = self._send("GET", path, query=query, timeout=timeout)
        if not 200 <= response.status <= 299:
            raise _error(response.status, response.read(), response.reason or "")
        raw: urllib3.BaseHTTPResponse = response.response
        return raw


def _error(status: int, body: Any, reason: str) -> ApiError:
    """The Status object's message when the body is one."""
    text = body.decode(errors="replace") if isinstance(body, bytes) else str(body or "")
    try:
        parsed = json.loads(text)
        if isinstance(parsed, dict) and parsed.get("message"):
            return ApiError(status, str(parsed["message"]), str(parsed.get("reason") or reason))
    except ValueError:
        pass
    return ApiError(status, text.strip()[:500] or reason, reason)
