"""The suite's side of the traffic driver: ask a client pod's driver to send traffic to a Service.

    traffic = Traffic(cluster)
    result = traffic.http("client", "web", path="/books", count=200)     # a TrafficResult
    result.by("version")                                                 # Counter({'v1': 181, 'v2': 19})

Names are resolved in the standard topology (clients and Services in the main namespace unless a namespace is
given); the cluster backend says where the driver listens and how the client addresses the Service.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import httpx
from pydantic import ValidationError

from smi_conformance.cluster.base import Cluster, ClusterError
from smi_conformance.suite.topology import Protocol, ServiceSpec, WorkloadSpec
from smi_conformance.workload.traffic import HttpRequestSpec, StreamSpec, TrafficResult

__all__ = ["Traffic"]


class Traffic:
    def __init__(self, cluster: Cluster, on_sent: Callable[[int], None] | None = None):
        self.cluster = cluster
        self.topology = cluster.topology
        self.on_sent = on_sent
        self.sent = 0
        self._http = cluster.driver_client()

    def close(self) -> None:
        self._http.close()

    def client(self, name: str | WorkloadSpec, namespace: str | None = None) -> WorkloadSpec:
        return name if isinstance(name, WorkloadSpec) else self.topology.workload(name, namespace)

    def service(self, name: str | ServiceSpec, namespace: str | None = None) -> ServiceSpec:
        return name if isinstance(name, ServiceSpec) else self.topology.service(name, namespace)

    def http(
        self,
        client: str | WorkloadSpec,
        service: str | ServiceSpec,
        *,
        method: str = "GET",
        path: str = "/",
        headers: Sequence[tuple[str, str]] = (),
        body: str = "",
        count: int = 1,
        concurrency: int = 8,
        keep_alive: bool = True,
        timeout_s: float = 5.0,
        client_namespace: str | None = None,
        service_namespace: str | None = None,
    ) -> TrafficResult:
        who, svc = self.client(client, client_namespace), self.service(service, service_namespace)
        target = self.cluster.target(who, svc, "http")
        spec = HttpRequestSpec(
            connect=target.connect,
            host=target.host,
            method=method,
            path=path,
            headers=list(headers),
            body=body,
            count=count,
            concurrency=min(concurrency, count),
            keep_alive=keep_alive,
            timeout_s=timeout_s,
        )
        return self._post(who, "/v1/http", spec, timeout_s * math.ceil(count / spec.concurrency))

    def stream(
        self,
        client: str | WorkloadSpec,
        service: str | ServiceSpec,
        protocol: Protocol,
        *,
        count: int = 1,
        concurrency: int = 8,
        payload_bytes: int = 64,
        timeout_s: float = 2.0,
        client_namespace: str | None = None,
        service_namespace: str | None = None,
    ) -> TrafficResult:
        if protocol == "http":
            raise ValueError("stream() sends TCP or UDP; use http() for HTTP")
        who, svc = self.client(client, client_namespace), self.service(service, service_namespace)
        target = self.cluster.target(who, svc, protocol)
        spec = StreamSpec(
            connect=target.connect,
            protocol=protocol,
            count=count,
            concurrency=min(concurrency, count),
            payload_bytes=payload_bytes,
            timeout_s=timeout_s,
        )
        return self._post(who, "/v1/stream", spec, timeout_s * 3 * math.ceil(count / spec.concurrency))

    def _post(
        self, client: WorkloadSpec, path: str, spec: HttpRequestSpec | StreamSpec, budget_s: float
    ) -> TrafficResult:
        url = self.cluster.driver_url(client) + path
        try:
            resp = self._http.post(
                url,
                content=spec.model_dump_json(),
                headers={"content-type": "application/json"},
                timeout=budget_s + 10.0,
            )
        except httpx.HTTPError as exc:
            raise ClusterError(
                f"the traffic driver of {client.namespace}/{client.name} ({url}) did not answer: {exc}"
            ) from exc
        if resp.status_code != 200:
            raise ClusterError(
                f"the traffic driver of {client.namespace}/{client.name} refused {path}: {resp.text[:500]}"
            )
        try:
            result = TrafficResult.model_validate_json(resp.content)
        except ValidationError as exc:  # another program on that port, or a driver of another version
            raise ClusterError(
                f"the traffic driver of {client.namespace}/{client.name} answered {path} with something that "
                f"is not a traffic result ({exc.errors()[0]['msg']}): {resp.text[:200]}"
            ) from None
        self.sent += result.sent
        if self.on_sent is not None:
            self.on_sent(result.sent)
        return result
