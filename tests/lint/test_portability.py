"""What each official CRD set does with a document, as the portability rules (SMI701, SMI702) encode it.

``rejections`` is asked directly, with documents the project's models may reject too: the rules only show
its answer for documents the models accept (so the rule cases cannot reach every check), but each check
states a fact about a CRD set, and the place and words of each answer are what a user reads. Every
expected verdict is also checked against the CRD files themselves (``spec_data.crd_rejections``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from smi_conformance.lint.resources import Resource
from smi_conformance.lint.rules.portability import SDK_GO_METHODS, rejections
from smi_conformance.manifests import NodePath, load_text

from . import spec_data as sd

GO, CONTROLLER = "smi-sdk-go", "smi-controller-sdk"
SDK_GO_ONLY = f"smi-sdk-go only allows the methods {', '.join(sorted(SDK_GO_METHODS))}"
NO_GROUP = "smi-controller-sdk has no group field on subjects: it would be dropped"

CASES: list[tuple[str, str, list[tuple[NodePath, str]]]] = [
    # --- smi-sdk-go: HTTPRouteGroup
    (
        GO,
        """
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: g}
spec:
  matches:
  - {name: ok, methods: [GET, "*"], headers: [{x-user: beta}]}
  - {name: 5, methods: [get, 1, PURGE], headers: {x-user: beta}}
""",
        [
            (("spec", "matches", 1), "smi-sdk-go requires a name on every match"),
            (
                ("spec", "matches", 1, "headers"),
                "smi-sdk-go wants headers as a list of one-key maps, not a map",
            ),
            (("spec", "matches", 1, "methods", 0), SDK_GO_ONLY),
            (("spec", "matches", 1, "methods", 2), SDK_GO_ONLY),
        ],
    ),
    (GO, "apiVersion: specs.smi-spec.io/v1alpha4\nkind: HTTPRouteGroup\nspec: {matches: []}\n", []),
    (
        GO,
        "apiVersion: specs.smi-spec.io/v1alpha4\nkind: HTTPRouteGroup\nspec: {}\n",
        [(("spec",), "smi-sdk-go requires matches")],
    ),
    (
        GO,
        "apiVersion: specs.smi-spec.io/v1alpha2\nkind: HTTPRouteGroup\nmetadata: {name: g}\n",
        [
            (
                ("apiVersion",),
                "the smi-sdk-go CRDs define but do not serve specs.smi-spec.io/v1alpha2 "
                "HTTPRouteGroup (they serve v1alpha4)",
            ),
            (("kind",), "smi-sdk-go requires matches"),
        ],
    ),
    (
        GO,
        "apiVersion: specs.smi-spec.io/v1alpha2\nkind: HTTPRouteGroup\nmatches: [{name: a, pathRegex: /a}]\n",
        [
            (
                ("apiVersion",),
                "the smi-sdk-go CRDs define but do not serve specs.smi-spec.io/v1alpha2 HTTPRouteGroup "
                "(they serve v1alpha4)",
            )
        ],
    ),
    # --- smi-sdk-go: TrafficSplit
    (
        GO,
        """
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
spec:
  service: web
  matches: [{kind: HTTPRouteGroup, name: a}, {kind: HTTPRouteGroup, name: b, apiGroup: specs.smi-spec.io}]
  backends: [{service: web-v1, weight: 1}]
""",
        [
            (
                ("spec", "matches", 1, "apiGroup"),
                "smi-sdk-go has no matches[].apiGroup field: it would be dropped",
            )
        ],
    ),
    # --- smi-sdk-go: TrafficTarget
    (
        GO,
        """
apiVersion: access.smi-spec.io/v1alpha1
kind: TrafficTarget
destination: {kind: ServiceAccount, name: api, namespace: default}
specs: [{kind: TCPRoute, name: r}]
sources: [{kind: ServiceAccount, name: web, namespace: default}]
""",
        [
            (
                ("apiVersion",),
                "the smi-sdk-go CRDs define but do not serve access.smi-spec.io/v1alpha1 "
                "TrafficTarget (they serve v1alpha3)",
            ),
            (("destination",), "smi-sdk-go requires destination.port in access v1alpha1"),
        ],
    ),
    (
        GO,
        """
apiVersion: access.smi-spec.io/v1alpha2
kind: TrafficTarget
spec:
  destination: {kind: ServiceAccount, name: api, namespace: default, port: 8080}
  rules: [{kind: HTTPRouteGroup, name: g, matches: [a]}, {kind: TCPRoute, name: r}, {kind: UDPRoute, name: u}]
  sources: [{kind: ServiceAccount, name: web, namespace: default}]
""",
        [
            (
                ("apiVersion",),
                "the smi-sdk-go CRDs define but do not serve access.smi-spec.io/v1alpha2 "
                "TrafficTarget (they serve v1alpha3)",
            ),
            (("spec", "rules", 2, "kind"), "smi-sdk-go only allows HTTPRouteGroup, TCPRoute here"),
        ],
    ),
    (
        GO,
        """
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
spec:
  destination: {kind: ServiceAccount, name: api, namespace: default}
  rules: [{kind: UDPRoute, name: u}, {kind: Route, name: r}, {kind: TCPRoute, name: t}]
  sources: [{kind: ServiceAccount, name: web, namespace: default}]
""",
        [(("spec", "rules", 1, "kind"), "smi-sdk-go only allows HTTPRouteGroup, TCPRoute, UDPRoute here")],
    ),
    # --- smi-sdk-go: TCPRoute and UDPRoute
    # the CRD does not require spec itself (SMI701 said it did: a finding for a document smi-sdk-go accepts)
    (GO, "apiVersion: specs.smi-spec.io/v1alpha4\nkind: TCPRoute\nmetadata: {name: r}\n", []),
    (
        GO,
        "apiVersion: specs.smi-spec.io/v1alpha4\nkind: TCPRoute\nspec: {}\n",
        [(("spec",), "smi-sdk-go requires spec.matches.ports")],
    ),
    (
        GO,
        "apiVersion: specs.smi-spec.io/v1alpha4\nkind: UDPRoute\nspec: {matches: {}}\n",
        [(("spec", "matches"), "smi-sdk-go requires spec.matches.ports (use [] for every port)")],
    ),
    (
        GO,
        "apiVersion: specs.smi-spec.io/v1alpha4\nkind: TCPRoute\nspec: {matches: {name: db, ports: [53]}}\n",
        [(("spec", "matches", "name"), "smi-sdk-go has no matches.name field: it would be dropped")],
    ),
    (GO, "apiVersion: specs.smi-spec.io/v1alpha4\nkind: UDPRoute\nspec: {matches: {ports: []}}\n", []),
    (
        GO,
        "apiVersion: access.smi-spec.io/v1alpha4\nkind: IdentityBinding\nspec: {schema: podLabels}\n",
        [(("apiVersion",), "the smi-sdk-go CRDs have no access.smi-spec.io/v1alpha4 IdentityBinding")],
    ),
    (
        GO,
        "apiVersion: access.smi-spec.io/v1alpha1\nkind: TrafficTarget\n"
        "destination: {kind: ServiceAccount, name: api, namespace: default, port: 80}\n",
        [
            (
                ("apiVersion",),
                "the smi-sdk-go CRDs define but do not serve access.smi-spec.io/v1alpha1 TrafficTarget "
                "(they serve v1alpha3)",
            )
        ],
    ),
    (
        CONTROLLER,
        "apiVersion: specs.smi-spec.io/v1alpha5\nkind: TCPRoute\nspec: {matches: {ports: [80]}}\n",
        [
            (
                ("apiVersion",),
                "the smi-controller-sdk CRDs have no specs.smi-spec.io/v1alpha5 TCPRoute "
                "(they serve v1alpha1, v1alpha2, v1alpha3, v1alpha4)",
            )
        ],
    ),
    # --- smi-controller-sdk: HTTPRouteGroup
    (
        CONTROLLER,
        "apiVersion: specs.smi-spec.io/v1alpha3\nkind: HTTPRouteGroup\nmetadata: {name: g}\n",
        [(("kind",), "smi-controller-sdk requires spec in specs v1alpha3")],
    ),
    (CONTROLLER, "apiVersion: specs.smi-spec.io/v1alpha3\nkind: HTTPRouteGroup\nspec: {matches: []}\n", []),
    (
        CONTROLLER,
        """
apiVersion: specs.smi-spec.io/v1alpha1
kind: HTTPRouteGroup
matches:
- {name: a, pathRegex: /a}
- {name: b, headers: {x-user: beta}}
""",
        [
            (
                ("matches", 1, "headers"),
                "smi-controller-sdk has no headers in specs v1alpha1: they would be dropped",
            )
        ],
    ),
    (
        CONTROLLER,
        """
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
spec:
  matches:
  - {name: a, headers: {x-user: beta}}
  - {name: b, headers: [{x-user: beta}]}
""",
        [
            (
                ("spec", "matches", 1, "headers"),
                "smi-controller-sdk wants headers as a map, not a list of one-key maps",
            )
        ],
    ),
    # --- smi-controller-sdk: TrafficTarget
    (
        CONTROLLER,
        "apiVersion: access.smi-spec.io/v1alpha1\nkind: TrafficTarget\n"
        "destination: {kind: ServiceAccount, name: api, namespace: default}\n",
        [
            (("sources",), "smi-controller-sdk requires sources in access v1alpha1"),
            (("specs",), "smi-controller-sdk requires specs in access v1alpha1"),
        ],
    ),
    (
        CONTROLLER,
        """
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
spec:
  destination: {kind: ServiceAccount, name: api, namespace: default, port: 8080}
  rules: [{kind: TCPRoute, name: r}]
  sources: [{kind: ServiceAccount, name: web, namespace: default}]
""",
        [(("spec", "destination", "port"), "smi-controller-sdk has no destination.port in v1alpha3")],
    ),
    (
        CONTROLLER,
        """
apiVersion: access.smi-spec.io/v1alpha4
kind: TrafficTarget
spec:
  destination: {kind: ServiceAccount, group: "", name: api, namespace: default}
  rules: [{kind: TCPRoute, name: r}]
  sources:
  - {kind: ServiceAccount, name: web, namespace: default}
  - {kind: ServiceAccount, group: "", name: cli, namespace: default}
""",
        [
            (("spec", "destination", "group"), NO_GROUP),
            (("spec", "sources", 1, "group"), NO_GROUP),
        ],
    ),
    # --- smi-controller-sdk: TCPRoute
    (
        CONTROLLER,
        "apiVersion: specs.smi-spec.io/v1alpha1\nkind: TCPRoute\nspec: {}\n",
        [(("spec",), "smi-controller-sdk has no spec in TCPRoute v1alpha1: it would be dropped")],
    ),
    (
        CONTROLLER,
        "apiVersion: specs.smi-spec.io/v1alpha2\nkind: TCPRoute\nspec: {}\n",
        [(("spec",), "smi-controller-sdk has no spec in TCPRoute v1alpha2: it would be dropped")],
    ),
    (CONTROLLER, "apiVersion: specs.smi-spec.io/v1alpha2\nkind: TCPRoute\nmetadata: {name: r}\n", []),
    (
        CONTROLLER,
        "apiVersion: specs.smi-spec.io/v1alpha3\nkind: TCPRoute\nspec: {matches: {ports: [80]}}\n",
        [(("spec",), "smi-controller-sdk defines no fields under spec in TCPRoute v1alpha3: dropped")],
    ),
    (CONTROLLER, "apiVersion: specs.smi-spec.io/v1alpha3\nkind: TCPRoute\nspec: {}\n", []),
    (
        CONTROLLER,
        "apiVersion: specs.smi-spec.io/v1alpha3\nkind: UDPRoute\nspec: {}\n",
        [
            (
                ("apiVersion",),
                "the smi-controller-sdk CRDs have no specs.smi-spec.io/v1alpha3 UDPRoute "
                "(they serve v1alpha4)",
            )
        ],
    ),
]


def _resource(text: str) -> Resource:
    document = load_text(text).documents[0]
    data = document.data
    return Resource(document, data["apiVersion"], data["kind"], data)


@pytest.mark.parametrize(("crd_set", "text", "expected"), CASES)
def test_each_check_answers_where_and_why(
    crd_set: str, text: str, expected: list[tuple[NodePath, str]]
) -> None:
    assert rejections(crd_set, _resource(text)) == expected


@pytest.mark.parametrize(("crd_set", "text", "expected"), CASES)
def test_each_verdict_is_the_crd_sets_own(
    crd_set: str, text: str, expected: list[tuple[NodePath, str]], smi_spec_dir: Path
) -> None:
    """The CRD files reject (or prune part of) exactly the documents the checks find a problem with."""
    doc = yaml.safe_load(text)
    assert bool(sd.crd_rejections(smi_spec_dir / "crds" / crd_set, doc)) == bool(expected), sd.crd_rejections(
        smi_spec_dir / "crds" / crd_set, doc
    )
