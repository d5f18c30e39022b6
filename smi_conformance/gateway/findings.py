"""GWxxx: what ``smi convert --to gateway-api`` reports. Every loss of meaning has a code here.

The codes live apart from the linter's (``SMI0xx``-``SMI7xx``) so that neither set can take the other's
numbers; they use the linter's :class:`~smi_conformance.lint.rule.Rule` (code, name, severity, summary, the
docstring as documentation), so ``--explain``, the reporters and ``docs/rules.md`` treat them alike.

Severities: **error**, nothing (or not all) of the object could be converted, or the result would allow or
route more than SMI did; **warning**, the result is narrower than SMI (denies what SMI allowed) or relies
on behaviour Gateway API leaves to the implementation; **info**, a difference that does not change the
traffic of a correct manifest.
"""

from __future__ import annotations

from smi_conformance.lint.rule import Rule, Severity

__all__ = ["RULES", "conversion_rule"]


class _Conversion(Rule):
    """Base of the conversion findings: reported by ``smi convert``, never by ``smi lint``."""


# ---- GW0xx: inputs -------------------------------------------------------------------------------------


class InvalidSource(_Conversion):
    """An SMI object is not valid, so it is not converted.

    Why: a conversion of an invalid object would carry its mistake into the new API, or guess what it
    meant. The message is the models' own (the same as `smi lint`'s schema finding): fix the object, then
    convert again.

    Bad:
    ```yaml
    apiVersion: split.smi-spec.io/v1alpha4
    kind: TrafficSplit
    metadata: {name: web}
    spec:
      service: web
      backends: [{service: web-v1, weight: -1}]
    ```
    """

    code = "GW001"
    name = "invalid-source"
    severity = Severity.ERROR
    summary = "an SMI object is not valid; it is not converted"


class TargetNotConverted(_Conversion):
    """A TrafficTarget is not converted because no `--authz` mesh was chosen.

    Why: Gateway API has no authorization resource; each mesh has its own. Without `--authz linkerd` or
    `--authz istio` the access rules of the input are left out of the output, and the mesh you migrate to
    applies its own default policy (usually: allow everything).

    Good: `smi convert --to gateway-api --authz istio deploy/`
    """

    code = "GW002"
    name = "target-not-converted"
    severity = Severity.WARNING
    summary = "a TrafficTarget is not converted (choose a mesh with --authz)"


class UnsupportedObject(_Conversion):
    """An SMI object has no counterpart in Gateway API or the chosen mesh, and is left out.

    Why: IdentityBinding (the unreleased access v1alpha4) and the metrics kinds describe nothing Gateway
    API or the target meshes configure. They are named so that nothing disappears without a word.
    """

    code = "GW003"
    name = "unsupported-object"
    severity = Severity.WARNING
    summary = "an SMI object has no Gateway API or mesh counterpart; it is left out"


class UnusedRouteSpec(_Conversion):
    """An HTTPRouteGroup, TCPRoute or UDPRoute is used by no converted object, so nothing is generated
    from it.

    Why: route specs only describe traffic; their meaning ends up inside the HTTPRoutes and authorization
    resources of the objects that refer to them. One that nothing converted refers to leaves no trace in
    the output.
    """

    code = "GW004"
    name = "unused-route-spec"
    severity = Severity.INFO
    summary = "a route spec is used by no converted object; nothing is generated from it"


# ---- GW1xx: TrafficSplit -> HTTPRoute ------------------------------------------------------------------


class ServiceNotFound(_Conversion):
    """The root or a backend Service of a TrafficSplit is not in the input.

    Why: an HTTPRoute needs the port of every backend Service (`backendRefs[].port` is required for a
    Service) and, where the root Service has several ports, one route per port. SMI sends a backend the
    traffic of the root port with the same number, so the conversion reads the ports from the Services.
    Give their manifests in the input, or with `--services FILE` (files or folders; they are read, not
    converted).
    """

    code = "GW101"
    name = "service-not-found"
    severity = Severity.ERROR
    summary = "a Service the split names is not in the input; its ports are needed"


class RootNotAService(_Conversion):
    """The TrafficSplit's root is a DNS name that is not a Service of this cluster.

    Why: `spec.service` may be a Service name or its DNS name (`web.shop.svc.cluster.local`); an HTTPRoute's
    parent must be a Service object. A name that is not `<service>[.<namespace>[.svc[.<cluster domain>]]]`
    has no Service to attach the route to.
    """

    code = "GW102"
    name = "root-not-a-service"
    severity = Severity.ERROR
    summary = "the split's root is not the name of a Service in the cluster"


class ConsumerRoute(_Conversion):
    """The root Service lives in another namespace than the TrafficSplit.

    Why: in Gateway API's mesh support (GAMMA) a route in another namespace than its parent Service is a
    *consumer route*: it applies only to clients in the route's own namespace. An SMI split applies to every
    client of the root. The route is generated in the split's namespace as asked; move it to the Service's
    namespace for SMI's meaning.
    """

    code = "GW103"
    name = "consumer-route"
    severity = Severity.WARNING
    summary = "the root Service is in another namespace: the route applies to that namespace's clients only"


class WeightsRounded(_Conversion):
    """The weights cannot keep their exact ratios within Gateway API's range (0 to 1,000,000).

    Why: SMI weights are relative and unbounded (v1alpha1 Quantities may be fractions such as `500m`); the
    conversion scales them to the smallest integers with the same ratios. Only when those exceed
    1,000,000 are they rounded, and this finding says by how much each share moves.

    Bad:
    ```yaml
    backends:
    - {service: web-v1, weight: 1000001}
    - {service: web-v2, weight: 999999}
    ```
    """

    code = "GW104"
    name = "weights-rounded"
    severity = Severity.WARNING
    summary = "weights were rounded to fit Gateway API's 0..1,000,000 range"


class NonHttpPort(_Conversion):
    """A port of the root Service does not carry HTTP (UDP, SCTP, or an `appProtocol` that is not HTTP).

    Why: SMI splits TCP connections and UDP flows too; an HTTPRoute routes only HTTP requests. Traffic on
    this port keeps going to the root Service unsplit. Gateway API's TCPRoute and UDPRoute (experimental
    channel) can split it.
    """

    code = "GW105"
    name = "non-http-port"
    severity = Severity.WARNING
    summary = "a root Service port is not HTTP: an HTTPRoute does not split its traffic"


class BackendLacksPort(_Conversion):
    """A backend Service has no port with the number of a root Service port.

    Why: SMI sends a backend only the traffic of root ports whose number it also has, so the backend is left
    out of that port's route, as in SMI. It is often a mistake (a backend that listens elsewhere gets
    nothing on this port), hence the note.
    """

    code = "GW106"
    name = "backend-lacks-port"
    severity = Severity.INFO
    summary = "a backend has no port with a root port's number; it gets no traffic on it (as in SMI)"


class NoBackends(_Conversion):
    """A route rule has no backend that can take traffic (no backends, or none with the port).

    Why: Gateway API answers requests to a rule without backendRefs with HTTP 500. SMI leaves this case
    open (the reference mesh answers 503), so the failure is the same in kind; it is reported because it is
    rarely what was meant.
    """

    code = "GW107"
    name = "no-backends"
    severity = Severity.WARNING
    summary = "a route rule has no backends for a port: its requests fail"


class DuplicateRoot(_Conversion):
    """Two TrafficSplits have the same root Service.

    Why: a mesh applies one SMI split per root (which one is implementation-defined); Gateway API merges
    every HTTPRoute of a parent Service by match precedence, so both converted routes take part. Merge the
    splits first.
    """

    code = "GW108"
    name = "duplicate-root"
    severity = Severity.WARNING
    summary = "two splits share a root Service; Gateway API would merge both routes"


class LimitExceeded(_Conversion):
    """The result would exceed a limit of the Gateway API types, so it is not generated.

    Why: the API server refuses an HTTPRoute with more than 16 rules, 16 backendRefs per rule, 64 matches per
    rule, 128 matches in all, 16 header matches per match, a path over 1024 or a header value over 4096
    characters. Nothing is cut silently: split the source object (several HTTPRouteGroups, fewer methods per
    match) and convert again.
    """

    code = "GW109"
    name = "limit-exceeded"
    severity = Severity.ERROR
    summary = "the HTTPRoute would exceed a Gateway API limit; it is not generated"


# ---- GW2xx: HTTPRouteGroup matches -> HTTPRouteMatch --------------------------------------------------


class RegexPathPrecedence(_Conversion):
    """A split's match keeps a regular-expression path, and Gateway API leaves the precedence of such
    matches to the implementation.

    Why: a TrafficSplit with `matches` becomes a rule with those matches plus a rule without matches (a
    `PathPrefix /` match) that sends every other request to the root Service. Gateway API orders Exact,
    then longest PathPrefix, then method and header matches, but says the precedence of RegularExpression
    paths is implementation-specific: a mesh that ranks `PathPrefix /` above them would send every request
    to the root. Check your mesh's documentation, or rewrite the pathRegex as a literal path (`/api$` becomes
    an Exact match, `/api(/.*)?$` a PathPrefix match).

    Bad:
    ```yaml
    matches:
    - name: api
      pathRegex: /api/v[0-9]+
    ```

    Good:
    ```yaml
    matches:
    - name: api
      pathRegex: /api(/.*)?$
    ```
    """

    code = "GW201"
    name = "regex-path-precedence"
    severity = Severity.WARNING
    summary = "a split match keeps a regex path, whose precedence Gateway API leaves to the implementation"


class RegexDialect(_Conversion):
    """A match keeps a regular expression (path or header), and Gateway API leaves the regex dialect and
    anchoring to the implementation.

    Why: SMI regexes are RE2 here (what Envoy and the Go meshes run). Gateway API's RegularExpression
    support is implementation-specific: most meshes use RE2 or a compatible engine, and anchor the whole
    value. The conversion writes every regex so that it means the same whether the mesh matches the whole
    value, the start, or anywhere: a path becomes `^(?:pathRegex).*` (SMI anchors paths at the start only),
    a header `^(?:regex)$` (SMI matches whole header values). Literal values become Exact matches.
    """

    code = "GW202"
    name = "regex-dialect"
    severity = Severity.INFO
    summary = "a match keeps a regular expression; Gateway API leaves the dialect to the implementation"


class HeaderRepeated(_Conversion):
    """A match names the same header twice, differing only in case.

    Why: header names are case-insensitive; SMI requires both regexes to match, but Gateway API considers
    only the first entry with an equivalent name and ignores the rest, which would widen the match. Merge
    the two regexes into one.

    Bad:
    ```yaml
    headers:
      x-env: prod
      X-Env: .*
    ```
    """

    code = "GW203"
    name = "header-repeated"
    severity = Severity.ERROR
    summary = "a match names one header twice (case-insensitively); Gateway API would ignore one"


class EmptyRouteGroup(_Conversion):
    """An HTTPRouteGroup a split uses has no matches, so it selects no request.

    Why: in SMI such a group splits nothing; its rule is left out of the HTTPRoute (an empty `matches` list
    would mean "every request" in Gateway API).
    """

    code = "GW204"
    name = "empty-route-group"
    severity = Severity.INFO
    summary = "a route group has no matches; it selects nothing and yields no rule"


class RouteSpecNotFound(_Conversion):
    """An object refers to an HTTPRouteGroup, TCPRoute or UDPRoute (or a match in one) that is not in the
    input.

    Why: SMI meshes treat a missing route as matching nothing (a split sends such requests to the root, a
    TrafficTarget allows nothing for that rule), and so does the conversion; but the reference is usually
    a mistake, and the result allows or splits less than intended.
    """

    code = "GW205"
    name = "route-spec-not-found"
    severity = Severity.WARNING
    summary = "a referenced route spec or match is not in the input; it matches nothing"


class InvalidRegex(_Conversion):
    """A regex of a match is not valid RE2, so the object using it is not converted.

    Why: the conversion rewrites regexes for Gateway API and the meshes, all of which run RE2 or a
    compatible engine; an invalid one would be refused or misread. `smi lint` (SMI501) explains the syntax.
    """

    code = "GW206"
    name = "invalid-regex"
    severity = Severity.ERROR
    summary = "a match's regex is not valid RE2; the object using it is not converted"


# ---- GW3xx: TrafficTarget -> mesh authorization -------------------------------------------------------


class WorkloadNotFound(_Conversion):
    """No workload in the input runs as the TrafficTarget's destination ServiceAccount.

    Why: SMI names the destination by ServiceAccount; Istio's AuthorizationPolicy and Linkerd's Server select
    pods by label. The conversion takes the labels (and, for Linkerd, the container ports) from the
    Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs or Pods whose pods run as that account: give
    them in the input or with `--services FILE`.
    """

    code = "GW301"
    name = "workload-not-found"
    severity = Severity.ERROR
    summary = "no workload runs as the destination ServiceAccount; its pod labels are needed"


class NarrowedMatch(_Conversion):
    """A match cannot be expressed in the target mesh's authorization, so the generated policy allows
    less than the TrafficTarget did.

    Why: Istio's AuthorizationPolicy has no regular expressions: paths and header values are exact, prefix
    (`/api*`), suffix (`*.css`) or presence (`*`). SMI pathRegexes that are literal prefixes (`/api`,
    `/api/.*`), exact paths (`/api$`) or suffixes (`.*\\.css$`) convert exactly; anything else is left out
    of the policy: requests it allowed are denied, never the other way round.

    Bad:
    ```yaml
    matches:
    - name: versions
      pathRegex: /api/v[0-9]+
    ```

    Good:
    ```yaml
    matches:
    - name: versions
      pathRegex: /api/v
    ```
    """

    code = "GW302"
    name = "narrowed-match"
    severity = Severity.WARNING
    summary = "a match cannot be expressed in the mesh's policy; the policy allows less than SMI"


class UdpNotMediated(_Conversion):
    """A TrafficTarget allows UDP traffic, which neither Istio nor Linkerd authorizes.

    Why: both meshes proxy TCP only; UDP between pods is neither allowed nor denied by their policies. The
    rule needs no resource, but UDP from sources SMI would deny is not denied either: use a Kubernetes
    NetworkPolicy for that.
    """

    code = "GW303"
    name = "udp-not-mediated"
    severity = Severity.WARNING
    summary = "UDP rules have no counterpart: the target mesh does not authorize UDP"


class IdentityBindingSubject(_Conversion):
    """A TrafficTarget names an IdentityBinding (unreleased access v1alpha4) as a subject.

    Why: IdentityBindings group identities by pod labels or SPIFFE IDs, which the conversion does not
    resolve; the subject is left out (so the policy allows less), or, for the destination, the whole target
    is not converted.
    """

    code = "GW304"
    name = "identity-binding-subject"
    severity = Severity.WARNING
    summary = "IdentityBinding subjects are not converted"


class DefaultAllow(_Conversion):
    """The target mesh allows traffic to workloads that no policy selects; SMI denies it.

    Why: SMI access control is deny-by-default across the mesh. Istio and Linkerd allow all traffic to a
    workload until a policy (an ALLOW AuthorizationPolicy, a Server) selects it. The converted policies make
    every destination they select deny-by-default, but workloads that no TrafficTarget names stay open.
    Istio: add an allow-nothing AuthorizationPolicy (`spec: {}`) per namespace; Linkerd: set the
    `config.linkerd.io/default-inbound-policy: deny` annotation on the namespaces.
    """

    code = "GW305"
    name = "default-allow"
    severity = Severity.INFO
    summary = "workloads no policy selects stay open in the mesh; SMI would deny their traffic"


class NoWorkloadPort(_Conversion):
    """Linkerd needs a Server per port, and no port is known for the destination workload.

    Why: a Linkerd Server selects one port of the pods. The conversion takes the ports from the workload's
    containers (`ports[].containerPort`), from the TCPRoute or the v1alpha1/v1alpha2 destination port:
    declare the container ports, or restrict the rule to ports.
    """

    code = "GW306"
    name = "no-workload-port"
    severity = Severity.ERROR
    summary = "no port is known for the destination workload (Linkerd needs one Server per port)"


class SharedServerRoutes(_Conversion):
    """Several TrafficTargets allow HTTP routes on the same Linkerd Server.

    Why: Linkerd picks one route per request (by Gateway API precedence) and applies only that route's
    AuthorizationPolicies; SMI allows a request when any TrafficTarget allows it. Where the routes of two
    targets overlap, a request may now be denied that SMI allowed (never the reverse). Give overlapping
    matches the same sources, or merge the targets.
    """

    code = "GW307"
    name = "shared-server-routes"
    severity = Severity.WARNING
    summary = "several targets put HTTP routes on one Linkerd Server; overlapping routes may narrow access"


_ALL: tuple[type[Rule], ...] = (
    InvalidSource,
    TargetNotConverted,
    UnsupportedObject,
    UnusedRouteSpec,
    ServiceNotFound,
    RootNotAService,
    ConsumerRoute,
    WeightsRounded,
    NonHttpPort,
    BackendLacksPort,
    NoBackends,
    DuplicateRoot,
    LimitExceeded,
    RegexPathPrecedence,
    RegexDialect,
    HeaderRepeated,
    EmptyRouteGroup,
    RouteSpecNotFound,
    InvalidRegex,
    WorkloadNotFound,
    NarrowedMatch,
    UdpNotMediated,
    IdentityBindingSubject,
    DefaultAllow,
    NoWorkloadPort,
    SharedServerRoutes,
)

#: code -> rule, in code order.
RULES: dict[str, Rule] = {cls.code: cls() for cls in sorted(_ALL, key=lambda cls: cls.code)}
_ALIASES: dict[str, str] = {r.name: code for code, r in RULES.items()}

if len(RULES) != len(_ALL) or len(_ALIASES) != len(_ALL):  # pragma: no cover - caught by the tests
    raise RuntimeError("duplicate conversion finding code or name")


def conversion_rule(code_or_name: str) -> Rule:
    """The conversion finding with this code (``GW101``, any case) or name; KeyError if none."""
    key = code_or_name.strip()
    return RULES[_ALIASES.get(key.lower(), key.upper())]
