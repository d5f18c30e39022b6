"""Features a mesh may claim, and the profiles that group them.

A conformance test needs features; a mesh's adapter claims the features it implements. A test whose features
are not all claimed ends *not-supported* rather than failed. The **core** profile is what every SMI mesh that
implements traffic splitting and access control must do (HTTP weights, deny by default, identity, HTTP route
rules); **extended** holds what the spec defines but meshes commonly leave out (TCP/UDP rules, split matches,
header rules, the Traffic Metrics API). A test belongs to the profile of its most demanding feature.
"""

from __future__ import annotations

import enum

__all__ = ["FEATURES", "PROFILES", "Feature", "Profile", "parse_features", "parse_profiles", "profile_of"]


class Profile(str, enum.Enum):
    CORE = "core"
    EXTENDED = "extended"


class Feature(str, enum.Enum):
    # split.smi-spec.io
    TRAFFIC_SPLIT = "TrafficSplit"
    TRAFFIC_SPLIT_MATCHES = "TrafficSplitMatches"
    TRAFFIC_SPLIT_TCP = "TrafficSplitTCP"
    # access.smi-spec.io + specs.smi-spec.io
    TRAFFIC_TARGET = "TrafficTarget"
    TRAFFIC_TARGET_NAMESPACES = "TrafficTargetNamespaces"
    HTTP_ROUTE_METHODS = "HTTPRouteGroupMethods"
    HTTP_ROUTE_PATH_REGEX = "HTTPRouteGroupPathRegex"
    HTTP_ROUTE_HEADERS = "HTTPRouteGroupHeaders"
    TCP_ROUTE = "TCPRoute"
    TCP_ROUTE_PORTS = "TCPRoutePorts"
    UDP_ROUTE = "UDPRoute"
    # metrics.smi-spec.io
    TRAFFIC_METRICS = "TrafficMetrics"
    TRAFFIC_METRICS_LATENCY = "TrafficMetricsLatency"
    TRAFFIC_METRICS_SPLIT = "TrafficMetricsSplit"


#: Feature -> (profile, one line for `smi-conformance list` and the report).
FEATURES: dict[Feature, tuple[Profile, str]] = {
    Feature.TRAFFIC_SPLIT: (
        Profile.CORE,
        "HTTP requests to a root Service are split over backends by weight",
    ),
    Feature.TRAFFIC_SPLIT_MATCHES: (
        Profile.EXTENDED,
        "split v1alpha3+: only requests matching the referenced HTTPRouteGroups are split",
    ),
    Feature.TRAFFIC_SPLIT_TCP: (Profile.EXTENDED, "TCP connections to a root Service are split by weight"),
    Feature.TRAFFIC_TARGET: (
        Profile.CORE,
        "deny by default; TrafficTargets allow HTTP traffic from listed service accounts",
    ),
    Feature.TRAFFIC_TARGET_NAMESPACES: (
        Profile.CORE,
        "identities and TrafficTargets are namespaced: same names in another namespace are other identities",
    ),
    Feature.HTTP_ROUTE_METHODS: (Profile.CORE, "HTTPRouteGroup rules restrict HTTP methods"),
    Feature.HTTP_ROUTE_PATH_REGEX: (Profile.CORE, "HTTPRouteGroup rules restrict paths by regex"),
    Feature.HTTP_ROUTE_HEADERS: (Profile.EXTENDED, "HTTPRouteGroup rules restrict requests by header"),
    Feature.TCP_ROUTE: (Profile.EXTENDED, "TrafficTargets with TCPRoute rules allow TCP connections"),
    Feature.TCP_ROUTE_PORTS: (Profile.EXTENDED, "specs v1alpha4: TCPRoute rules restrict ports"),
    Feature.UDP_ROUTE: (Profile.EXTENDED, "TrafficTargets with UDPRoute rules allow UDP flows"),
    Feature.TRAFFIC_METRICS: (
        Profile.EXTENDED,
        "the Traffic Metrics API serves success and failure counts over a time window",
    ),
    Feature.TRAFFIC_METRICS_LATENCY: (Profile.EXTENDED, "the Traffic Metrics API serves latency percentiles"),
    Feature.TRAFFIC_METRICS_SPLIT: (Profile.EXTENDED, "the Traffic Metrics API serves TrafficSplit backends"),
}
PROFILES = tuple(Profile)


def profile_of(features: frozenset[Feature]) -> Profile:
    return Profile.EXTENDED if any(FEATURES[f][0] is Profile.EXTENDED for f in features) else Profile.CORE


def _parse(kind: str, values: list[str], known: dict[str, enum.Enum]) -> list[str]:
    unknown = [v for v in values if v not in known]
    if unknown:
        raise ValueError(f"unknown {kind} {', '.join(map(repr, unknown))}; known: {', '.join(known)}")
    return values


def parse_features(values: list[str]) -> frozenset[Feature]:
    """Feature names as typed by a user (exact names); ValueError naming the unknown ones and the valid
    ones."""
    return frozenset(Feature(v) for v in _parse("feature", values, {f.value: f for f in Feature}))


def parse_profiles(values: list[str]) -> frozenset[Profile]:
    return frozenset(Profile(v) for v in _parse("profile", values, {p.value: p for p in Profile}))
