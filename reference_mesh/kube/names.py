"""Every name the reference mesh uses on Kubernetes: namespace, objects, labels, annotations, ports, users.

One place, so that ``install`` (what is created), ``uninstall`` (what is removed), the injector (what is added
to pods) and the controller (what it watches) cannot disagree.
"""

from __future__ import annotations

from typing import Final

#: The control plane's namespace; its ServiceAccount names the control plane's SPIFFE id.
NAMESPACE: Final = "reference-mesh"
CONTROL_PLANE: Final = "control-plane"
#: Objects outside the namespace (cluster roles, webhook configurations) carry this prefix.
PREFIX: Final = "reference-mesh"
CA_SECRET: Final = "mesh-ca"
CONFIG_MAP: Final = "mesh-config"
#: Label on everything ``install`` creates (``uninstall`` finds what is left by it).
PART_OF: Final = ("app.kubernetes.io/part-of", "reference-mesh")
FIELD_MANAGER: Final = "reference-mesh"

GROUP: Final = "reference-mesh.smi-conformance.io"
#: On a namespace: ``enabled`` injects the sidecar into its new pods. On a pod: ``disabled`` opts it out.
INJECT_LABEL: Final = f"{GROUP}/inject"
#: On an injected pod (the controller watches pods with it).
PROXY_LABEL: Final = f"{GROUP}/proxy"
#: Pod annotations: comma-separated ports left out of interception (e.g. a test driver's control port).
SKIP_INBOUND_PORTS: Final = f"{GROUP}/skip-inbound-ports"
SKIP_OUTBOUND_PORTS: Final = f"{GROUP}/skip-outbound-ports"

#: Containers and volumes the injector adds.
INIT_CONTAINER: Final = "mesh-init"
PROXY_CONTAINER: Final = "mesh-proxy"
TOKEN_VOLUME: Final = "mesh-token"
TOKEN_DIR: Final = "/var/run/secrets/reference-mesh"
#: The audience of the projected service-account token the proxy proves its identity with.
TOKEN_AUDIENCE: Final = "reference-mesh.smi-conformance.io"

#: The user the proxy runs as: its own connections are never intercepted.
PROXY_UID: Final = 2102
PROXY_ADMIN_PORT: Final = 15000
OUTBOUND_PORT: Final = 15001
INBOUND_PORT: Final = 15006
#: Control plane ports: the snapshot stream (mTLS), HTTPS (webhooks, Traffic Metrics API, identity), and the
#: read-only admin API (status, stats, tap) that the CLI reaches through the API server's service proxy.
SNAPSHOT_PORT: Final = 15010
HTTPS_PORT: Final = 8443
ADMIN_PORT: Final = 15080

METRICS_GROUP: Final = "metrics.smi-spec.io"
METRICS_VERSION: Final = "v1alpha1"
APISERVICE: Final = f"{METRICS_VERSION}.{METRICS_GROUP}"
VALIDATING_WEBHOOK: Final = f"{PREFIX}-smi-admission"
MUTATING_WEBHOOK: Final = f"{PREFIX}-sidecar-injector"
CLUSTER_ROLE: Final = f"{PREFIX}-control-plane"


def service_dns(namespace: str = NAMESPACE) -> str:
    """The control plane Service's name in cluster DNS (what its serving certificate names)."""
    return f"{CONTROL_PLANE}.{namespace}.svc"


def control_plane_id(trust_domain: str, namespace: str = NAMESPACE) -> str:
    """The SPIFFE id the control plane presents to proxies."""
    return f"spiffe://{trust_domain}/ns/{namespace}/sa/{CONTROL_PLANE}"
