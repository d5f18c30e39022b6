"""SMI2xx: TrafficSplit weights and backends."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from fractions import Fraction
from typing import Any

from smi_conformance.lint.resources import (
    LintContext,
    Resource,
    dict_at,
    dicts,
    list_at,
    per_object,
    str_at,
)
from smi_conformance.lint.rule import Hit, Rule, Severity
from smi_conformance.manifests import NodePath
from smi_conformance.service_names import split_root

_KINDS = frozenset({"TrafficSplit"})


def weight_number(obj: Resource, weight: Any) -> int | float | Fraction | None:
    """A backend weight as a number to compare (v1alpha1 Kubernetes quantities as exact fractions; YAML's
    infinities as they are: ``-.inf`` is negative); None if unreadable (NaN too). Integers stay integers:
    building a Fraction for each is most of a rule's time."""
    if isinstance(weight, bool):
        return None
    if isinstance(weight, int):
        return weight
    if isinstance(weight, float):
        return weight if weight == weight else None
    if isinstance(weight, str) and not obj.version_at_least("v1alpha2"):
        # imported here: the models package (pydantic) is loaded only when a run needs it, not at CLI start-up
        from smi_conformance.models.quantity import QuantityError, parse_quantity

        try:
            return parse_quantity(weight.strip())
        except QuantityError:
            return None
    return None


def weight_value(obj: Resource, weight: Any) -> Fraction | None:
    """A backend weight as an exact number (v1alpha1 Kubernetes quantities included); None if unreadable."""
    number = weight_number(obj, weight)
    if number is None or (isinstance(number, float) and not math.isfinite(number)):
        return None
    return Fraction(number)


@per_object
def backends(obj: Resource) -> tuple[tuple[NodePath, Mapping[str, Any]], ...]:
    return tuple(dicts(dict_at(obj.data, "spec"), "backends", ("spec",)))


class NegativeWeight(Rule):
    """A backend has a negative weight.

    Why: weights are relative shares of traffic; a negative share means nothing. The spec's v1alpha2+ CRDs
    (smi-controller-sdk) reject it, the smi-sdk-go CRDs accept it (their weight is any number) and leave
    the behaviour to each mesh. In v1alpha1 weights are Kubernetes quantities, and `-1` is still negative.

    Bad:
    ```yaml
    backends:
    - service: website-v1
      weight: -10
    ```

    Good:
    ```yaml
    apiVersion: split.smi-spec.io/v1alpha4
    kind: TrafficSplit
    metadata: {name: website-canary}
    spec:
      service: website
      backends:
      - service: website-v1
        weight: 100
      - service: website-v2
        weight: 0
    ```
    """

    code = "SMI201"
    name = "negative-weight"
    severity = Severity.ERROR
    summary = "a backend weight is negative"
    kinds = _KINDS
    replaces_schema = True

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        for path, backend in backends(obj):
            value = weight_number(obj, backend.get("weight"))
            if value is not None and value < 0:
                yield Hit(f"backend weight {backend.get('weight')!r} is negative", (*path, "weight"))


class FractionalWeight(Rule):
    """A v1alpha2+ backend weight is not a whole number.

    Why: from v1alpha2 on, weights are integers ("whole numbers" in the spec; `integer` in the
    smi-controller-sdk CRDs). The smi-sdk-go CRDs declare `number` and accept 0.5, but meshes read the
    field as an integer and truncate or reject it. Scale all weights up instead: only their ratio matters.
    (v1alpha1 weights are quantities, where `500m` is a legitimate half.)

    Bad:
    ```yaml
    backends:
    - service: website-v1
      weight: 0.5
    - service: website-v2
      weight: 0.5
    ```

    Good:
    ```yaml
    apiVersion: split.smi-spec.io/v1alpha4
    kind: TrafficSplit
    metadata: {name: website-canary}
    spec:
      service: website
      backends:
      - service: website-v1
        weight: 50
      - service: website-v2
        weight: 50
    ```
    """

    code = "SMI202"
    name = "fractional-weight"
    severity = Severity.ERROR
    summary = "a v1alpha2+ backend weight is not a whole number"
    kinds = _KINDS
    replaces_schema = True

    def applies(self, obj: Resource) -> bool:
        return obj.version_at_least("v1alpha2")

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        if not obj.version_at_least("v1alpha2"):
            return
        for path, backend in backends(obj):
            weight = backend.get("weight")
            if isinstance(weight, float) and weight == weight and not weight.is_integer():
                yield Hit(f"backend weight {weight!r} is not a whole number", (*path, "weight"))


class AllWeightsZero(Rule):
    """Every backend of the TrafficSplit has weight 0.

    Why: the split sends traffic nowhere; what happens is unspecified (some meshes fail every request, some
    fall back to the root service). The reference mesh answers 503 and says why. A canary that starts dark
    should give the stable backend the weight instead.

    Bad:
    ```yaml
    backends:
    - service: website-v1
      weight: 0
    - service: website-v2
      weight: 0
    ```

    Good:
    ```yaml
    apiVersion: split.smi-spec.io/v1alpha4
    kind: TrafficSplit
    metadata: {name: website-canary}
    spec:
      service: website
      backends:
      - service: website-v1
        weight: 100
      - service: website-v2
        weight: 0
    ```
    """

    code = "SMI203"
    name = "all-weights-zero"
    severity = Severity.WARNING
    summary = "every backend weight is zero, so the split sends traffic nowhere"
    kinds = _KINDS

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        values = [weight_number(obj, backend.get("weight")) for _, backend in backends(obj)]
        if values and all(value == 0 for value in values):
            yield Hit(
                "every backend weight is 0: the split sends traffic nowhere", ("spec", "backends"), key=True
            )


class DuplicateBackend(Rule):
    """The same service appears twice among the backends.

    Why: implementations key backends by service, so one entry silently overrides the other (or the weights
    are added, depending on the mesh). Give the service one entry with the combined weight.

    Bad:
    ```yaml
    backends:
    - service: website-v1
      weight: 50
    - service: website-v1
      weight: 50
    ```

    Good:
    ```yaml
    apiVersion: split.smi-spec.io/v1alpha4
    kind: TrafficSplit
    metadata: {name: website-canary}
    spec:
      service: website
      backends:
      - service: website-v1
        weight: 100
    ```
    """

    code = "SMI204"
    name = "duplicate-backend"
    severity = Severity.ERROR
    summary = "a service is listed twice among the backends"
    kinds = _KINDS

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        seen: dict[str, int] = {}
        for path, backend in backends(obj):
            service = str_at(backend, "service")
            if service is None:
                continue
            if service in seen:
                yield Hit(
                    f"backend {service!r} is listed twice (also backends[{seen[service]}])",
                    (*path, "service"),
                )
            else:
                seen[service] = int(path[-1])


class BackendIsRoot(Rule):
    """A backend is the root service itself.

    Why: the spec discourages it: the root service is what clients address, and sending a share of its
    traffic "to itself" either loops through the split again or, in meshes that special-case it, reaches the
    root's own endpoints, which are usually the union of every version. Point the backend at a
    version-specific service instead.

    Bad:
    ```yaml
    spec:
      service: website
      backends:
      - service: website
        weight: 90
      - service: website-v2
        weight: 10
    ```

    Good:
    ```yaml
    apiVersion: split.smi-spec.io/v1alpha4
    kind: TrafficSplit
    metadata: {name: website-canary}
    spec:
      service: website
      backends:
      - service: website-v1
        weight: 90
      - service: website-v2
        weight: 10
    ```
    """

    code = "SMI205"
    name = "backend-is-root"
    severity = Severity.WARNING
    summary = "a backend is the root service itself"
    kinds = _KINDS

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        root = str_at(dict_at(obj.data, "spec"), "service")
        if root is None:
            return
        own = split_root(root, obj.namespace)  # the root may be written as a DNS name: web.shop
        for path, backend in backends(obj):
            service = str_at(backend, "service")
            if service is not None and split_root(service, obj.namespace) == own:
                yield Hit(f"backend {service!r} is the root service of this split", (*path, "service"))


class DuplicateRoot(Rule):
    """Two TrafficSplits split the same root service.

    Why: a mesh applies one split per root service; which one wins is implementation-defined (oldest,
    newest, alphabetical...), so the other is silently ignored. Merge them into one TrafficSplit (from
    v1alpha3 on, one split may list several HTTPRouteGroups in `matches`).

    Bad:
    ```yaml
    kind: TrafficSplit
    metadata: {name: website-canary}
    spec: {service: website, backends: [{service: website-v2, weight: 10}, {service: website-v1, weight: 90}]}
    ---
    kind: TrafficSplit
    metadata: {name: website-ab}
    spec: {service: website, backends: [{service: website-v3, weight: 50}, {service: website-v1, weight: 50}]}
    ```

    Good (one split per root; from v1alpha3 on, `matches` selects which requests it splits):
    ```yaml
    apiVersion: split.smi-spec.io/v1alpha4
    kind: TrafficSplit
    metadata: {name: website-canary}
    spec:
      service: website
      backends: [{service: website-v2, weight: 10}, {service: website-v1, weight: 90}]
    ```
    """

    code = "SMI206"
    name = "duplicate-split-root"
    severity = Severity.ERROR
    summary = "two TrafficSplits split the same root service"
    kinds = _KINDS

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        root = str_at(dict_at(obj.data, "spec"), "service")
        if root is None:
            return
        # Reported on the later ones only, naming the first split of that root with another name (the same
        # object twice is duplicate-object's): an index lookup, not a scan of every earlier split.
        other = ctx.earlier_split_of_root(obj, root)
        if other is not None:
            where = ctx.at(other, ("spec", "service"))
            yield Hit(
                f"root service {root!r} is also split by TrafficSplit {other.namespace}/{other.name} "
                f"{where}; only one of them takes effect",
                ("spec", "service"),
            )


class NestedSplit(Rule):
    """A backend is itself the root service of another TrafficSplit.

    Why: SMI splits are not hierarchical: a mesh resolves one level, so the inner split is ignored for this
    traffic (or, in some meshes, applied, making the result depend on the implementation). Flatten the two
    splits into one with the combined weights.

    Bad:
    ```yaml
    kind: TrafficSplit
    spec:
      service: website
      backends: [{service: website-new, weight: 50}, {service: website-v1, weight: 50}]
    ---
    kind: TrafficSplit
    spec:
      service: website-new
      backends: [{service: website-v2, weight: 50}, {service: website-v3, weight: 50}]
    ```

    Good (flattened: 50% v1, 25% v2, 25% v3):
    ```yaml
    apiVersion: split.smi-spec.io/v1alpha4
    kind: TrafficSplit
    metadata: {name: website-rollout}
    spec:
      service: website
      backends:
      - {service: website-v1, weight: 50}
      - {service: website-v2, weight: 25}
      - {service: website-v3, weight: 25}
    ```
    """

    code = "SMI207"
    name = "nested-split"
    severity = Severity.WARNING
    summary = "a backend is the root of another TrafficSplit (splits are not hierarchical)"
    kinds = _KINDS
    deferred = True

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        root = str_at(dict_at(obj.data, "spec"), "service")
        own = split_root(root, obj.namespace) if root is not None else None
        for path, backend in backends(obj):
            service = str_at(backend, "service")
            if service is None or split_root(service, obj.namespace) == own:
                continue  # the split's own root: backend-is-root's
            inner = ctx.splits_for_root(obj.namespace, service)
            if inner:
                yield Hit(
                    f"backend {service!r} is the root of TrafficSplit {inner[0].namespace}/{inner[0].name}; "
                    "splits do not nest",
                    (*path, "service"),
                )


class NoBackends(Rule):
    """The TrafficSplit has an empty `backends` list.

    Why: there is nothing to split the traffic over; meshes either ignore the split or fail requests to the
    root service.

    Bad:
    ```yaml
    spec:
      service: website
      backends: []
    ```

    Good:
    ```yaml
    apiVersion: split.smi-spec.io/v1alpha4
    kind: TrafficSplit
    metadata: {name: website-canary}
    spec:
      service: website
      backends:
      - service: website-v1
        weight: 100
    ```
    """

    code = "SMI208"
    name = "no-backends"
    severity = Severity.WARNING
    summary = "the TrafficSplit lists no backends"
    kinds = _KINDS

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        if list_at(dict_at(obj.data, "spec"), "backends") == []:
            yield Hit("backends is empty: nothing to split the traffic over", ("spec", "backends"), key=True)


RULES = (
    NegativeWeight,
    FractionalWeight,
    AllWeightsZero,
    DuplicateBackend,
    BackendIsRoot,
    DuplicateRoot,
    NestedSplit,
    NoBackends,
)
