"""The proxy configuration snapshot: the contract between the control plane and the sidecar proxy.

The control plane compiles SMI objects (plus Services, endpoints and ServiceAccounts) into one
:class:`ProxyConfig` per workload instance and hands it to the proxy (``Proxy.apply``, or any
``ConfigSource``). The proxy never sees an SMI object. A snapshot is immutable, JSON-serialisable
(``model_dump_json`` / ``model_validate_json``) and complete: each one replaces the previous one atomically,
so it must always describe the whole desired state.

Semantics decisions (from ``shared/SPEC-NOTES.md``; compile SMI so they hold):

* **Regexes are RE2** (google-re2), the syntax the linter checks and Envoy / Go meshes run. A snapshot whose
  regex RE2 rejects fails validation with the field's location; nothing is applied.
* **pathRegex** is matched from the start of the request path (``re2.match``, i.e. anchored with ``^`` but not
  with ``$``), and only against the path: the query string is cut off before matching. The path is the
  canonical one (``paths.py``: dot segments removed, unreserved characters decoded; targets that could mean
  two paths get 400), and it is what the application receives. ``/api`` therefore
  matches ``/api/v1?x=1``. Header regexes are matched against the whole header value (``fullmatch``),
  case-sensitively, without the whitespace around it; header names are case-insensitive. A repeated header is
  one value, its lines joined with ``", "`` (RFC 9110 5.3, what applications read). A missing header never
  matches.
* **methods**: empty or containing ``"*"`` means every method; otherwise the request method must be listed
  (case-sensitive, HTTP methods are upper case).
* Within one :class:`HttpMatch` every given condition must hold (AND); a list of matches is OR. A match with
  no conditions matches every request.
* **Authorization is deny by default** and additive: an inbound request/connection is allowed when at least
  one :class:`AuthorizationRule` lists the caller's verified SPIFFE id and covers the request. Each rule kind
  speaks for its own protocol: HTTP requests are allowed by ``http`` matches only, TCP connections by ``tcp``
  ports, UDP flows by ``udp`` ports (the access spec's L7 example allows only its listed routes although its
  targets also name a TCPRoute for the port). An empty port list means every port. A rule with no
  sources allows nobody (SMI's "empty sources" resolution). ``permissive=True`` turns enforcement off
  (requests that would be denied are let through and reported as ``would_deny`` in tap): a
  migration switch, off by default.
* **Ports**: a port in an authorization rule is the *destination port*, i.e. :attr:`InboundListener.port`, the
  port the destination workload is addressed on (conformance keeps Service port == targetPort).
* **Traffic split** weights are exact rationals (``Fraction``; JSON ``"1/3"``, ``"2"`` or an integer), so
  v1alpha1 Quantities compile exactly (``"500m"`` -> ``Fraction(1, 2)``). Zero-weight backends receive
  nothing. If a split has ``matches``, only requests matching one of them are split; every other request (and
  every TCP/UDP flow, which cannot match HTTP filters) goes to the root service's own endpoints. If every
  weight is zero, or the chosen backend service is absent from :attr:`OutboundConfig.services` or has no
  endpoints on the port, the request fails with 503 and a ``x-mesh-error`` reason (TCP/UDP: the flow is
  closed). A backend gets traffic only on ports whose number matches the port the client addressed on the root
  service; a backend without that port is left out of that port's split.
* **Which settings apply**: timeouts, retries and fault injection come from the service the client addressed
  (the root); load balancing, outlier ejection and circuit breaking from the service whose endpoints are used.
* **Identity**: an endpoint's ``identity`` is the SPIFFE id its certificate must present; the outbound proxy
  refuses a peer presenting another one (502). The inbound proxy reads the caller's identity only from its
  verified certificate and passes it to the application in ``x-mesh-client-id``, after dropping any identity
  header the client sent (``x-mesh-client-id``, ``l5d-client-id``, ``x-forwarded-client-cert``; also spelled
  with ``_`` for ``-``, as CGI-style servers read them).
* **Deadline propagation**: header ``x-mesh-timeout-ms`` (remaining milliseconds, a relative value so clocks
  need not agree). See ``docs/reference-mesh/resilience.md``.

Defaults follow Linkerd and Envoy; each default names its source in ``docs/reference-mesh/resilience.md``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reference_mesh.identity.errors import SpiffeIdError
from reference_mesh.identity.spiffe import SpiffeId
from smi_conformance.regex import compile_re2

__all__ = [
    "AuthorizationPolicy",
    "AuthorizationRule",
    "BalancerAlgorithm",
    "CircuitBreaker",
    "Endpoint",
    "FaultInjection",
    "HttpMatch",
    "InboundConfig",
    "InboundListener",
    "Interception",
    "LoadBalancing",
    "OutboundConfig",
    "OutboundPortBinding",
    "OutboundService",
    "OutlierDetection",
    "PortSet",
    "ProtocolName",
    "ProxyConfig",
    "ProxySettings",
    "Resilience",
    "RetryBudget",
    "RetryPolicy",
    "RoutePolicy",
    "ServicePort",
    "SplitAlgorithm",
    "SplitBackend",
    "TrafficSplitConfig",
    "WorkloadInfo",
    "service_key",
]

#: The split choosers (reference_mesh/proxy/split.py: CHOOSERS) and balancers (balancer.py: PICKERS) there
#: are; a test keeps each registry and its names the same.
SplitAlgorithm = Literal["weighted_random", "smooth_round_robin"]
BalancerAlgorithm = Literal["round_robin", "least_request", "peak_ewma"]

Port = Annotated[int, Field(ge=1, le=65535)]
ProtocolName = Literal["http", "tcp", "udp"]
Millis = Annotated[int, Field(ge=0)]


def service_key(name: str, namespace: str) -> str:
    """The key of a service in :attr:`OutboundConfig.services`: ``"<name>.<namespace>"``."""
    return f"{name}.{namespace}"


def _check_spiffe(value: str) -> str:
    try:
        SpiffeId.parse(value)
    except SpiffeIdError as exc:
        raise ValueError(str(exc)) from exc
    return value


def _check_re2(pattern: str) -> str:
    compile_re2(pattern)  # RegexError is a ValueError: pydantic reports it at the field's location
    return pattern


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ------------------------------------------------------------------------------------------------- matching
class HttpMatch(_Model):
    """One HTTP request filter (an SMI HTTPRouteGroup match). All given conditions must hold."""

    name: str = ""
    #: Empty or containing "*" = any method.
    methods: tuple[str, ...] = ()
    #: RE2, matched from the start of the path (query excluded); None = any path.
    path_regex: str | None = None
    #: Header name (case-insensitive) -> RE2 that must match the whole value.
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("path_regex")
    @classmethod
    def _path_re2(cls, v: str | None) -> str | None:
        return None if v is None else _check_re2(v)

    @field_validator("headers")
    @classmethod
    def _headers_re2(cls, v: dict[str, str]) -> dict[str, str]:
        for pattern in v.values():
            _check_re2(pattern)
        return {k.lower(): p for k, p in v.items()}


class PortSet(_Model):
    """Ports of a TCPRoute/UDPRoute rule; empty = every port."""

    ports: tuple[Port, ...] = ()

    def covers(self, port: int) -> bool:
        return not self.ports or port in self.ports


# -------------------------------------------------------------------------------------------- authorization
class AuthorizationRule(_Model):
    """What one compiled TrafficTarget allows: these sources may make these requests.

    Compile one rule per TrafficTarget (or per TrafficTarget rule): ``http`` from its HTTPRouteGroup rules
    (only the named matches when the rule lists ``matches``, else all of the group's matches), ``tcp``/``udp``
    from its TCPRoute/UDPRoute rules (the union of their ports; ``PortSet()`` when a route has no ports, i.e.
    all ports). ``None`` means the TrafficTarget has no rule of that kind.
    """

    #: For reasons and logs, e.g. "default/allow-web" (namespace/TrafficTarget name).
    name: str
    #: SPIFFE ids of the allowed callers; empty allows nobody.
    sources: tuple[str, ...]
    http: tuple[HttpMatch, ...] = ()
    tcp: PortSet | None = None
    udp: PortSet | None = None
    #: Destination ports the whole rule is limited to (access v1alpha1/v1alpha2 ``destination.port``);
    #: empty = all.
    ports: PortSet = PortSet()

    _sources = field_validator("sources")(classmethod(lambda cls, v: tuple(_check_spiffe(s) for s in v)))


class AuthorizationPolicy(_Model):
    """The inbound policy of one workload: deny by default, allow what some rule allows."""

    rules: tuple[AuthorizationRule, ...] = ()
    #: Migration switch: do not enforce (would-be denials are reported, not applied). Off by default.
    permissive: bool = False


# ----------------------------------------------------------------------------------------------- resilience
class LoadBalancing(_Model):
    """How an endpoint of a service is chosen. Default: Linkerd's power-of-two-choices over peak-EWMA
    latency."""

    algorithm: BalancerAlgorithm = "peak_ewma"
    #: Peak-EWMA decay (Linkerd: 10 s; an estimate not renewed for t counts exp(-t / decay) of itself) and
    #: the cost assumed for an endpoint not yet measured (Linkerd: 30 ms, decaying from its first use).
    ewma_decay_ms: Annotated[int, Field(gt=0)] = 10_000
    ewma_default_rtt_ms: Annotated[float, Field(gt=0)] = 30.0


class RetryBudget(_Model):
    """Finagle/Linkerd retry budget: retries may add ``ratio`` of the requests of the last ``ttl_ms``, plus
    ``min_per_second`` always. Linkerd's defaults: 0.2, 10/s, 10 s."""

    ratio: Annotated[float, Field(ge=0, le=1000)] = 0.2
    min_per_second: Annotated[float, Field(ge=0)] = 10.0
    ttl_ms: Annotated[int, Field(ge=1000, le=60_000)] = 10_000


class RetryPolicy(_Model):
    """When a failed attempt is tried again (on another endpoint when there is one)."""

    #: Retries per request at most (Envoy's default num_retries is 1; Linkerd bounds only by the budget).
    max_retries: Annotated[int, Field(ge=0, le=10)] = 2
    #: Response statuses that are retried (Envoy's "gateway-error" set). Connect failures are always retried.
    retry_on_status: tuple[Annotated[int, Field(ge=500, le=599)], ...] = (502, 503, 504)
    #: Retry non-idempotent methods too (POST, PATCH...). Off: only RFC 9110 idempotent methods are retried.
    retry_non_idempotent: bool = False
    # : A request body larger than this is streamed and never retried (Linkerd buffers up to 64 KiB for
    # retries).
    max_buffered_body_bytes: Annotated[int, Field(ge=0)] = 64 * 1024
    budget: RetryBudget = RetryBudget()


class OutlierDetection(_Model):
    """Failure accrual: an endpoint with ``consecutive_failures`` failures in a row is ejected for a backoff
    that doubles with each ejection (``base_ejection_ms`` .. ``max_ejection_ms``), as Linkerd's consecutive-
    failures accrual does (7 failures, 1 s .. 60 s). At most ``max_ejection_percent`` of endpoints are ejected
    at once (Envoy's idea); if every endpoint is ejected anyway, all are used (Envoy's panic mode)."""

    enabled: bool = True
    consecutive_failures: Annotated[int, Field(ge=1)] = 7
    base_ejection_ms: Annotated[int, Field(ge=1)] = 1_000
    max_ejection_ms: Annotated[int, Field(ge=1)] = 60_000
    max_ejection_percent: Annotated[int, Field(ge=0, le=100)] = 50


class CircuitBreaker(_Model):
    """Concurrency limits per service (Envoy's cluster circuit-breaker default: 1024 requests); beyond,
    503."""

    max_requests: Annotated[int, Field(ge=1)] = 1024
    #: Idle keep-alive connections kept per endpoint.
    max_idle_connections_per_endpoint: Annotated[int, Field(ge=0)] = 64


class FaultInjection(_Model):
    """Envoy-style fault injection, applied by the client-side proxy to requests (and TCP/UDP flows) of a
    service."""

    delay_percent: Annotated[float, Field(ge=0, le=100)] = 0.0
    delay_ms: Millis = 0
    abort_percent: Annotated[float, Field(ge=0, le=100)] = 0.0
    abort_status: Annotated[int, Field(ge=200, le=599)] = 503


class RoutePolicy(_Model):
    """A route of the service: the first route whose ``match`` matches the request applies, and names the
    request in telemetry (``match.name``; a request matching none is on the default route, name ``""``).

    A route without overrides (``timeout_ms`` and ``retryable`` None, the defaults) behaves exactly as the
    default route: it only names requests. The control plane compiles the service's SMI routes that way, after
    the routes a user configured (``reference_mesh/control/routes.py``)."""

    match: HttpMatch
    #: Request timeout for this route; None = the service's.
    timeout_ms: Millis | None = None
    #: Force retries on (True) or off (False) for this route regardless of method; None = by method.
    retryable: bool | None = None


class Resilience(_Model):
    """Per-service resilience settings. Every field has a documented default; ``Resilience()`` is sane."""

    load_balancing: LoadBalancing = LoadBalancing()
    #: Whole-request timeout, all retries included (Envoy's route default: 15 s). 0 = none.
    timeout_ms: Millis = 15_000
    #: TCP + TLS connect timeout to an endpoint (Linkerd: 1 s).
    connect_timeout_ms: Annotated[int, Field(ge=1)] = 1_000
    retries: RetryPolicy = RetryPolicy()
    outlier_detection: OutlierDetection = OutlierDetection()
    circuit_breaker: CircuitBreaker = CircuitBreaker()
    fault: FaultInjection = FaultInjection()
    routes: tuple[RoutePolicy, ...] = ()


# ------------------------------------------------------------------------------------------------- outbound
class Endpoint(_Model):
    """One instance behind a service port: where its inbound proxy listens and who it must be."""

    address: str
    #: The peer proxy's inbound (mTLS) listener for this service port.
    port: Port
    #: SPIFFE id the peer certificate must present.
    identity: str
    #: Instance name (pod name), for telemetry and tap.
    instance: str = ""
    #: Workload labels, e.g. {"app": "web", "version": "v2"}.
    labels: dict[str, str] = Field(default_factory=dict)

    _identity = field_validator("identity")(classmethod(lambda cls, v: _check_spiffe(v)))


class ServicePort(_Model):
    """A port of a Kubernetes Service, with the endpoints that serve it."""

    port: Port
    protocol: ProtocolName = "http"
    name: str = ""
    endpoints: tuple[Endpoint, ...] = ()


class SplitBackend(_Model):
    """A TrafficSplit backend: a service key (``name.namespace``) and an exact relative weight."""

    service: str
    weight: Annotated[Fraction, Field(ge=0)]

    @field_validator("weight", mode="before")
    @classmethod
    def _exact(cls, v: object) -> object:
        if isinstance(v, float):  # floats are not exact; accept only those that are whole numbers
            if not v.is_integer():
                raise ValueError("weights must be exact: use an integer or a fraction string such as '1/3'")
            return Fraction(int(v))
        if isinstance(v, int) and not isinstance(v, bool):
            return Fraction(v)
        return v


class TrafficSplitConfig(_Model):
    """A compiled TrafficSplit whose root is the enclosing service."""

    #: "namespace/name" of the TrafficSplit, reported in telemetry as the backend's apex split.
    name: str
    backends: tuple[SplitBackend, ...]
    # : None: split every request. A tuple: split only HTTP requests matching one of these (v1alpha3+
    # ``matches``, : OR over all referenced HTTPRouteGroups' matches); the rest go to the root's own
    # endpoints.
    matches: tuple[HttpMatch, ...] | None = None
    algorithm: SplitAlgorithm = "weighted_random"


class OutboundService(_Model):
    """A service this workload may call (and each split backend it may be sent to)."""

    name: str
    namespace: str
    ports: tuple[ServicePort, ...]
    split: TrafficSplitConfig | None = None
    resilience: Resilience = Resilience()
    #: The virtual addresses clients dial for this service (a Kubernetes Service's cluster IPs). With
    #: :attr:`ProxyConfig.interception`, a connection to one of them on a port of the service is this service.
    addresses: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return service_key(self.name, self.namespace)

    def port(self, number: int) -> ServicePort | None:
        return next((p for p in self.ports if p.port == number), None)


class OutboundPortBinding(_Model):
    """A local TCP or UDP port whose flows go to one service port (apps address it explicitly; no
    iptables)."""

    listen_port: Port
    service: str
    port: Port


class OutboundConfig(_Model):
    """What the workload can call. Listeners bind on :attr:`WorkloadInfo.address`.

    HTTP: one proxy-style listener on ``http_port``; the request's authority (Host header, or an absolute-form
    target) names the service: ``name``, ``name.namespace``, ``name.namespace.svc`` or
    ``name.namespace.svc.<cluster-domain>``, with an optional ``:port`` (default: the service's only HTTP
    port, or port 80). TCP and UDP: one local port per service port (``tcp`` / ``udp`` bindings).
    """

    http_port: Port | None = None
    tcp: tuple[OutboundPortBinding, ...] = ()
    udp: tuple[OutboundPortBinding, ...] = ()
    #: service_key(name, namespace) -> service. Include every split backend's service.
    services: dict[str, OutboundService] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _keys(self) -> OutboundConfig:
        for key, svc in self.services.items():
            if key != svc.key:
                raise ValueError(f"services[{key!r}] holds {svc.key!r}: keys must be '<name>.<namespace>'")
        for binding in (*self.tcp, *self.udp):
            bound = self.services.get(binding.service)
            if bound is None:
                raise ValueError(
                    f"port binding {binding.listen_port} names unknown service {binding.service!r}"
                )
            if bound.port(binding.port) is None:
                raise ValueError(
                    f"port binding {binding.listen_port} names port {binding.port} of {binding.service!r},"
                    " which the service does not have"
                )
        return self


# -------------------------------------------------------------------------------------------------- inbound
class InboundListener(_Model):
    """A port of this workload that the proxy protects: peers dial ``port`` (mTLS) on the workload address and
    the proxy forwards allowed traffic to the application at ``app_address:app_port``. UDP listeners are TLS
    streams carrying length-prefixed datagrams (DTLS is not available): see
    docs/reference-mesh/data-plane.md."""

    port: Port
    protocol: ProtocolName = "http"
    app_port: Port
    app_address: str = "127.0.0.1"
    name: str = ""


class InboundConfig(_Model):
    listeners: tuple[InboundListener, ...] = ()
    authorization: AuthorizationPolicy = AuthorizationPolicy()


# --------------------------------------------------------------------------------------------- interception
class Interception(_Model):
    """Transparent interception (the reference mesh on Kubernetes): the pod's packet filter redirects every
    inbound TCP connection to ``inbound_port`` and every outbound one the application opens to
    ``outbound_port`` (``reference_mesh/kube/interception.py``); the proxy reads the original destination from
    the connection (``SO_ORIGINAL_DST``). Set, it replaces the per-port inbound listeners and the explicit
    outbound listeners: inbound, the original port selects the :class:`InboundListener` (a port without one is
    served as TCP); outbound, the original address selects the service by its
    :attr:`OutboundService.addresses` or endpoints, and anything else is relayed untouched to where it was
    going (the mesh only takes over traffic to its own services)."""

    inbound_port: Port = 15006
    outbound_port: Port = 15001
    #: Where the outbound listener binds: the packet filter redirects locally generated connections to the
    #: loopback address.
    outbound_address: str = "127.0.0.1"
    #: Where the inbound listener binds (every address of the pod).
    inbound_address: str = "0.0.0.0"


# ------------------------------------------------------------------------------------------------- snapshot
class WorkloadInfo(_Model):
    """Which workload instance this proxy serves. Its identity must equal its certificate's."""

    trust_domain: str = "cluster.local"
    namespace: str
    service_account: str
    #: Names of the Services (in ``namespace``) selecting this instance.
    services: tuple[str, ...] = ()
    #: Instance (pod) name.
    instance: str
    labels: dict[str, str] = Field(default_factory=dict)
    #: The loopback address this instance's listeners bind, e.g. 127.0.1.7.
    address: str = "127.0.0.1"
    #: Cluster domain accepted in outbound authorities.
    cluster_domain: str = "cluster.local"

    @property
    def identity(self) -> SpiffeId:
        return SpiffeId(self.trust_domain, self.namespace, self.service_account)

    @model_validator(mode="after")
    def _valid_identity(self) -> WorkloadInfo:
        try:
            self.identity  # noqa: B018 - validates the fields together
        except SpiffeIdError as exc:
            raise ValueError(str(exc)) from exc
        return self


class ProxySettings(_Model):
    """Connection-level limits of the proxy itself."""

    #: Time allowed to receive a request's headers (slowloris bound; Go's ReadHeaderTimeout idea).
    header_timeout_ms: Annotated[int, Field(ge=1)] = 10_000
    #: Idle keep-alive connections from clients are closed after this.
    idle_timeout_ms: Annotated[int, Field(ge=1)] = 300_000
    #: Request line + headers larger than this get 431.
    max_header_bytes: Annotated[int, Field(ge=1024)] = 64 * 1024
    #: Idle UDP flows are forgotten after this.
    udp_idle_timeout_ms: Annotated[int, Field(ge=1)] = 60_000


class ProxyConfig(_Model):
    """One complete, versioned configuration of one proxy. Apply with ``Proxy.apply(config)``."""

    #: Opaque version chosen by the control plane (shown by the admin endpoint; use increasing numbers).
    version: Annotated[str, Field(min_length=1)]
    workload: WorkloadInfo
    inbound: InboundConfig = InboundConfig()
    outbound: OutboundConfig = OutboundConfig()
    settings: ProxySettings = ProxySettings()
    #: None: listeners on the workload address as configured (the embedded runtime). Set: transparent
    #: interception (see :class:`Interception`).
    interception: Interception | None = None

    @model_validator(mode="after")
    def _ports_unique(self) -> ProxyConfig:
        seen: dict[tuple[str, int], str] = {}
        if self.interception is None:
            stream = [
                (f"inbound {'udp ' if ln.protocol == 'udp' else ''}{ln.port}", ln.port)
                for ln in self.inbound.listeners
            ]
        else:  # the inbound ports are the application's; the proxy listens only on the interception ports
            stream = [
                ("inbound interception", self.interception.inbound_port),
                ("outbound interception", self.interception.outbound_port),
            ]
        stream += [(f"outbound tcp {b.listen_port}", b.listen_port) for b in self.outbound.tcp]
        if self.outbound.http_port is not None:
            stream.append(("outbound http", self.outbound.http_port))
        for what, port in stream:
            if ("tcp", port) in seen:
                raise ValueError(
                    f"port {port} used twice on {self.workload.address}: {seen[('tcp', port)]}, {what}"
                )
            seen[("tcp", port)] = what
        for b in self.outbound.udp:
            if ("udp", b.listen_port) in seen:
                raise ValueError(f"udp port {b.listen_port} bound twice")
            seen[("udp", b.listen_port)] = f"outbound udp {b.listen_port}"
        return self
