"""The routes of a service (pure): the HTTPRouteGroup matches that name its requests in telemetry.

SMI has no "routes of a service" object (Linkerd has the ServiceProfile): HTTPRouteGroups are only referenced,
by TrafficTargets (what a destination accepts) and by TrafficSplit ``matches`` (what a root splits). The
control plane derives a service's routes from those references, so ``reference-mesh routes`` can report per
route what the mesh already enforces per route. The rule (``docs/reference-mesh/control-plane.md``):

* the routes of a Service with an HTTP port are the matches of every HTTPRouteGroup referenced by

  - a TrafficTarget rule whose destination covers a pod *serving* the Service (a pod its selector picks, or,
    when it is a TrafficSplit root, a pod one of its backends' selectors picks), only the named matches when
    the rule lists ``matches``, else all of them;
  - the ``matches`` of the TrafficSplit whose root it is (every match of those groups);

* one route per (group, match), named ``<group>/<match>``, or ``<group namespace>/<group>/<match>`` when the
  group is in another namespace than the Service (the compiler never asks for one: TrafficTargets and splits
  reference groups of their own namespace and cover only its pods, see ``SMI404``; the long form keeps a name
  unambiguous whatever a caller passes); group names cannot contain ``/``, so the part before the first ``/``
  (two for the long form) always names the group;
* order: groups by (namespace, name), then matches in document order; the first route that matches a request
  names it; a request matching none is on the default route, reported as :data:`DEFAULT_ROUTE`.

The routes are compiled as :class:`RoutePolicy` entries with no overrides (no timeout, ``retryable`` unset),
so they inherit the service's settings and change no resilience behaviour. They go *after* the routes a user
configured in the service's ``resilience`` (which keep their timeouts and take precedence: a request matching
a user route is reported under that route's name).
"""

from __future__ import annotations

from collections.abc import Iterable

from reference_mesh.control.smi import http_matches
from reference_mesh.control.state import StoreState
from reference_mesh.proxy.config import Resilience, RoutePolicy

__all__ = ["DEFAULT_ROUTE", "GroupRef", "route_name", "route_names", "smi_routes", "with_routes"]

#: How requests matching no route are reported (the proxy records them with route ``""``).
DEFAULT_ROUTE = "[default]"

#: A reference to an HTTPRouteGroup: (namespace, name, the match names it selects or None for all).
GroupRef = tuple[str, str, tuple[str, ...] | None]


def route_name(service_namespace: str, group_namespace: str, group: str, match: str) -> str:
    """``<group>/<match>``; the group is namespace-qualified when it lives outside the service's namespace."""
    qualified = group if group_namespace == service_namespace else f"{group_namespace}/{group}"
    return f"{qualified}/{match}"


def smi_routes(
    service_namespace: str, refs: Iterable[GroupRef], state: StoreState
) -> tuple[RoutePolicy, ...]:
    """The route policies of a service whose pods or split reference these groups (see the module doc).

    A reference to a group that does not exist contributes nothing; a name that occurs twice keeps its first
    match.
    """
    wanted: dict[tuple[str, str], set[str] | None] = {}
    for namespace, name, matches in refs:
        key = (namespace, name)
        if matches is None:
            wanted[key] = None
        elif key not in wanted:
            wanted[key] = set(matches)
        elif (known := wanted[key]) is not None:
            known.update(matches)
    routes: list[RoutePolicy] = []
    seen: set[str] = set()
    for namespace, name in sorted(wanted):
        group = state.get("HTTPRouteGroup", namespace, name)
        if group is None:
            continue
        names = wanted[(namespace, name)]
        for match in http_matches(group.obj):
            if names is not None and match.name not in names:
                continue
            full = route_name(service_namespace, namespace, name, match.name)
            if full not in seen:
                seen.add(full)
                routes.append(RoutePolicy(match=match.model_copy(update={"name": full})))
    return tuple(routes)


def with_routes(resilience: Resilience, routes: tuple[RoutePolicy, ...]) -> Resilience:
    """The service's settings with the SMI routes after the user's own (which keep precedence)."""
    if not routes:
        return resilience
    return resilience.model_copy(update={"routes": resilience.routes + routes})


def route_names(resilience: Resilience) -> tuple[str, ...]:
    """The names of a service's routes in first-match order, each once (unnamed user routes are reported on
    the default route, so they are left out)."""
    return tuple(dict.fromkeys(r.match.name for r in resilience.routes if r.match.name))
