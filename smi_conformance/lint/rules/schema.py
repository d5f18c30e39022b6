"""SMI1xx: the object does not match the schema of its kind and version (from ``smi_conformance.models``).

Emitted by the engine, one code per kind of schema problem, so that, for example, unknown fields can be
handled differently from wrong types.
"""

from __future__ import annotations

from smi_conformance.lint.rule import Rule, Severity


class UnknownField(Rule):
    """The object has a field its kind and version do not define.

    Why: the Kubernetes API server prunes unknown fields of custom resources without a word (or rejects
    them with `--validate=strict`), so the setting silently does nothing. It is usually a typo, a field of
    another version (`specs` is v1alpha1, `rules` later), or a field at the wrong level.

    Bad:
    ```yaml
    apiVersion: split.smi-spec.io/v1alpha4
    kind: TrafficSplit
    spec:
      service: website
      backend:            # typo
      - service: website-v1
        weight: 100
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

    code = "SMI101"
    name = "unknown-field"
    severity = Severity.ERROR
    summary = "a field the kind and version do not define"


class MissingField(Rule):
    """A required field is missing.

    Why: the object cannot do its job without it (a TrafficSplit without `service` has no root service to
    split); depending on the CRDs installed the API server rejects it or stores a useless object.

    Bad:
    ```yaml
    apiVersion: split.smi-spec.io/v1alpha4
    kind: TrafficSplit
    spec:
      backends:
      - service: website-v1
        weight: 100
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

    code = "SMI102"
    name = "missing-field"
    severity = Severity.ERROR
    summary = "a required field is missing"


class WrongType(Rule):
    """A field has the wrong type (a string where a number belongs, a map where a list belongs...).

    Why: values are never silently coerced: `weight: "50"` is a string, and CRD validation rejects it
    (v1alpha1 is the exception: its weights are Kubernetes quantities, which may be strings).

    Bad:
    ```yaml
    backends:
    - service: website-v1
      weight: "50"
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

    code = "SMI103"
    name = "wrong-type"
    severity = Severity.ERROR
    summary = "a field has the wrong type"


class InvalidValue(Rule):
    """A field has a value outside what the spec allows (an unknown enum member, a number out of range).

    Bad:
    ```yaml
    rules:
    - kind: HTTPRoute     # not an SMI route kind
      name: api-routes
    ```

    Good:
    ```yaml
    apiVersion: specs.smi-spec.io/v1alpha4
    kind: HTTPRouteGroup
    metadata: {name: api-routes}
    spec:
      matches:
      - name: all
        pathRegex: /.*
    ---
    apiVersion: access.smi-spec.io/v1alpha3
    kind: TrafficTarget
    metadata: {name: website-to-api}
    spec:
      destination: {kind: ServiceAccount, name: api}
      sources: [{kind: ServiceAccount, name: website, namespace: default}]
      rules:
      - kind: HTTPRouteGroup
        name: api-routes
    ```
    """

    code = "SMI104"
    name = "invalid-value"
    severity = Severity.ERROR
    summary = "a field's value is not allowed"


class InvalidFormat(Rule):
    """A string field does not have the required format (a Kubernetes quantity, a DNS name, a duration...).

    Bad:
    ```yaml
    apiVersion: split.smi-spec.io/v1alpha1
    kind: TrafficSplit
    spec:
      backends:
      - service: website-v1
        weight: 50%
    ```

    Good:
    ```yaml
    apiVersion: split.smi-spec.io/v1alpha1
    kind: TrafficSplit
    metadata: {name: website-canary}
    spec:
      service: website
      backends:
      - service: website-v1
        weight: 500m
      - service: website-v2
        weight: 500m
    ```
    """

    code = "SMI105"
    name = "invalid-format"
    severity = Severity.ERROR
    summary = "a string field does not have the required format"


class UnknownKindOrVersion(Rule):
    """`apiVersion` names an SMI API group, but the version does not exist, or the kind does not exist in it.

    Why: the API server answers "no matches for kind"; usually a typo in the version or the kind, or a
    version of another group (`split.smi-spec.io/v1alpha3` exists, `access.smi-spec.io/v1alpha4` is
    unreleased, `access.smi-spec.io/v1alpha5` does not exist). The message suggests the closest version
    that defines the kind, or the closest kind of that version. A group that is almost an SMI group
    (`spilt.smi-spec.io`) is reported too, instead of being skipped as another project's object.
    `smi lint --list-kinds` shows every known pair.

    Bad:
    ```yaml
    apiVersion: split.smi-spec.io/v1alpah4   # did you mean split.smi-spec.io/v1alpha4?
    kind: TraficSplit                        # did you mean 'TrafficSplit'?
    ```

    Good:
    ```yaml
    apiVersion: split.smi-spec.io/v1alpha4
    kind: TrafficSplit
    metadata:
      name: web
    spec:
      service: website
      backends: [{service: website-v1, weight: 100}]
    ```
    """

    code = "SMI106"
    name = "unknown-kind-or-version"
    aliases = ("unknown-kind",)
    severity = Severity.ERROR
    summary = "an SMI apiVersion that does not exist, or a kind it does not have"


#: Problem.kind (from the models) -> the rule that reports it.
BY_PROBLEM_KIND: dict[str, type[Rule]] = {
    "unknown-field": UnknownField,
    "missing-field": MissingField,
    "type": WrongType,
    "value": InvalidValue,
    "format": InvalidFormat,
}

RULES = (UnknownField, MissingField, WrongType, InvalidValue, InvalidFormat, UnknownKindOrVersion)
