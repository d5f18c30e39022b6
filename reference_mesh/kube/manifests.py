"""What ``reference-mesh install`` creates, as plain objects (pure: the same objects are rendered as YAML or
applied to a cluster), and what ``uninstall`` removes.

* the SMI CRDs (generated from the models, as in ``schemas/crds/``; experimental kinds left out);
* the namespace ``reference-mesh`` with the control plane: ServiceAccount, Deployment, Service, the mesh
  CA (a Secret: the root that signs every workload certificate) and ``mesh-config`` (image and trust
  anchors, what the injector needs);
* RBAC: a ClusterRole to list and watch pods, services, service accounts and SMI objects and to review
  tokens; a RoleBinding in ``kube-system`` to read the aggregator's client CA
  (``extension-apiserver-authentication``);
* the validating webhook for SMI objects, the mutating webhook that injects pods of namespaces labelled
  ``reference-mesh.smi-conformance.io/inject=enabled``, and the APIService of the Traffic Metrics API.

The webhooks and the APIService trust the control plane's serving certificate through the mesh CA
(``caBundle``), which the control plane uses to issue that certificate at start-up. Every object carries the
label ``app.kubernetes.io/part-of=reference-mesh``.
"""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass
from typing import Any

from reference_mesh.identity import CertificateAuthority
from reference_mesh.kube import names
from reference_mesh.kube.client import Resource
from reference_mesh.kube.inject import InjectionConfig
from smi_conformance.models.registry import lookup
from smi_conformance.schema.crd import crds

__all__ = ["RESOURCES", "InstallOptions", "render", "resource_of", "served_versions", "smi_crds"]

Obj = dict[str, Any]
CA_DIR = "/etc/reference-mesh/ca"
CONFIG_DIR = "/etc/reference-mesh/config"
SMI_GROUPS = ("split.smi-spec.io", "access.smi-spec.io", "specs.smi-spec.io")

#: Every kind install creates, and where it lives.
RESOURCES = {
    r.kind: r
    for r in (
        Resource("Namespace", "namespaces", namespaced=False),
        Resource(
            "CustomResourceDefinition", "customresourcedefinitions", "apiextensions.k8s.io", namespaced=False
        ),
        Resource("ServiceAccount", "serviceaccounts"),
        Resource("ClusterRole", "clusterroles", "rbac.authorization.k8s.io", namespaced=False),
        Resource("ClusterRoleBinding", "clusterrolebindings", "rbac.authorization.k8s.io", namespaced=False),
        Resource("RoleBinding", "rolebindings", "rbac.authorization.k8s.io"),
        Resource("Secret", "secrets"),
        Resource("ConfigMap", "configmaps"),
        Resource("Deployment", "deployments", "apps"),
        Resource("Service", "services"),
        Resource(
            "ValidatingWebhookConfiguration",
            "validatingwebhookconfigurations",
            "admissionregistration.k8s.io",
            namespaced=False,
        ),
        Resource(
            "MutatingWebhookConfiguration",
            "mutatingwebhookconfigurations",
            "admissionregistration.k8s.io",
            namespaced=False,
        ),
        Resource("APIService", "apiservices", "apiregistration.k8s.io", namespaced=False),
    )
}


def resource_of(obj: Obj) -> Resource:
    resource = RESOURCES.get(obj.get("kind", ""))
    if resource is None or resource.api_version != obj.get("apiVersion"):
        raise ValueError(f"install does not manage {obj.get('apiVersion')} {obj.get('kind')}")
    return resource


@dataclass(frozen=True)
class InstallOptions:
    image: str
    trust_domain: str = "cluster.local"
    image_pull_policy: str = "IfNotPresent"
    log_level: str = "INFO"
    #: How proxies split traffic (MeshSettings.split_algorithm), passed to the controller.
    split_algorithm: str = "weighted_random"
    #: Deliberate bugs (reference_mesh/faults.py), passed to the controller: only for showing that the
    #: conformance suite catches them.
    faults: tuple[str, ...] = ()


def _meta(name: str, namespace: str | None = names.NAMESPACE, **labels: str) -> Obj:
    meta: Obj = {"name": name, "labels": {names.PART_OF[0]: names.PART_OF[1], **labels}}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def _obj(api_version: str, kind: str, meta: Obj, **fields: Any) -> Obj:
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **fields}


def smi_crds(ca_bundle: str | None = None) -> list[Obj]:
    """The SMI CRDs ``install`` creates: ``schemas/crds/`` (experimental kinds left out), labelled as the
    mesh's. With the CA bundle that trusts the control plane, every released version of every kind is served,
    converted by the control plane's conversion webhook (:func:`reference_mesh.kube.webhooks.convert_smi`,
    the models' conversion, which refuses what a version cannot express): a client that writes split v1alpha1
    with Quantity weights gets them, as every SMI API version is an API of the mesh."""
    out = []
    for path, crd in sorted(crds().items()):
        if path.startswith("experimental/"):
            continue
        crd = copy.deepcopy(crd)
        crd["metadata"].setdefault("labels", {})[names.PART_OF[0]] = names.PART_OF[1]
        if ca_bundle is not None:
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                info = lookup(f"{group}/{version['name']}", kind)
                version["served"] = info is not None and info.status != "experimental"
            crd["spec"]["conversion"] = {
                "strategy": "Webhook",
                "webhook": {
                    "conversionReviewVersions": ["v1"],
                    "clientConfig": _client_config("/convert-smi", ca_bundle),
                },
            }
        out.append(crd)
    return out


def served_versions() -> dict[str, list[str]]:
    """API group -> the versions every kind of it is served in once installed, oldest first."""
    served: dict[str, list[str]] = {}
    for crd in smi_crds(ca_bundle=""):
        names_ = [v["name"] for v in crd["spec"]["versions"] if v["served"]]
        group = crd["spec"]["group"]
        served[group] = [v for v in served[group] if v in names_] if group in served else names_
    return served


def _rbac() -> list[Obj]:
    sa = {"kind": "ServiceAccount", "name": names.CONTROL_PLANE, "namespace": names.NAMESPACE}
    rules = [
        {
            "apiGroups": [""],
            "resources": ["pods", "services", "serviceaccounts"],
            "verbs": ["get", "list", "watch"],
        },
        {"apiGroups": list(SMI_GROUPS), "resources": ["*"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
    ]
    role_ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": names.CLUSTER_ROLE}
    return [
        _obj("v1", "ServiceAccount", _meta(names.CONTROL_PLANE)),
        _obj("rbac.authorization.k8s.io/v1", "ClusterRole", _meta(names.CLUSTER_ROLE, None), rules=rules),
        _obj(
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            _meta(names.CLUSTER_ROLE, None),
            roleRef=role_ref,
            subjects=[sa],
        ),
        # extension API servers read the aggregator's client CA from kube-system (a Role Kubernetes defines)
        _obj(
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            _meta(f"{names.PREFIX}-auth-reader", "kube-system"),
            roleRef={
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "extension-apiserver-authentication-reader",
            },
            subjects=[sa],
        ),
    ]


def _deployment(options: InstallOptions) -> Obj:
    labels = {"app": names.CONTROL_PLANE}
    probe_port = names.ADMIN_PORT
    container = {
        "name": names.CONTROL_PLANE,
        "image": options.image,
        "imagePullPolicy": options.image_pull_policy,
        "command": ["python3", "-m", "reference_mesh.kube.controller"],
        "args": [
            f"--trust-domain={options.trust_domain}",
            f"--ca-dir={CA_DIR}",
            f"--config={CONFIG_DIR}/config.json",
            f"--log-level={options.log_level}",
            f"--split-algorithm={options.split_algorithm}",
            *([f"--faults={','.join(sorted(options.faults))}"] if options.faults else []),
        ],
        "env": [
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "TMPDIR", "value": "/tmp"},
        ],
        "ports": [
            {"name": "https", "containerPort": names.HTTPS_PORT},
            {"name": "snapshots", "containerPort": names.SNAPSHOT_PORT},
            {"name": "admin", "containerPort": names.ADMIN_PORT},
        ],
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": probe_port}, "periodSeconds": 1},
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": probe_port},
            "periodSeconds": 10,
            "failureThreshold": 6,
        },
        "securityContext": {
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}},
        "volumeMounts": [
            {"name": "ca", "mountPath": CA_DIR, "readOnly": True},
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    return _obj(
        "apps/v1",
        "Deployment",
        _meta(names.CONTROL_PLANE, **labels),
        spec={
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": {**labels, names.PART_OF[0]: names.PART_OF[1]}},
                "spec": {
                    "serviceAccountName": names.CONTROL_PLANE,
                    "containers": [container],
                    "volumes": [
                        {"name": "ca", "secret": {"secretName": names.CA_SECRET}},
                        {"name": "config", "configMap": {"name": names.CONFIG_MAP}},
                        {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
                    ],
                    "terminationGracePeriodSeconds": 10,
                },
            },
        },
    )


def _service() -> Obj:
    return _obj(
        "v1",
        "Service",
        _meta(names.CONTROL_PLANE),
        spec={
            "selector": {"app": names.CONTROL_PLANE},
            "ports": [
                {"name": "https", "port": 443, "targetPort": names.HTTPS_PORT},
                {"name": "snapshots", "port": names.SNAPSHOT_PORT, "targetPort": names.SNAPSHOT_PORT},
                {
                    "name": "admin",
                    "port": names.ADMIN_PORT,
                    "targetPort": names.ADMIN_PORT,
                    "appProtocol": "http",
                },
            ],
        },
    )


def _client_config(path: str | None, ca_bundle: str) -> Obj:
    service: Obj = {"namespace": names.NAMESPACE, "name": names.CONTROL_PLANE, "port": 443}
    if path is not None:
        service["path"] = path
    return {"service": service, "caBundle": ca_bundle}


def _webhooks(ca_bundle: str) -> list[Obj]:
    validating = {
        "name": f"smi.{names.GROUP}",
        "clientConfig": _client_config("/validate-smi", ca_bundle),
        "rules": [
            {
                "apiGroups": list(SMI_GROUPS),
                "apiVersions": ["*"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["*"],
                "scope": "Namespaced",
            }
        ],
        "failurePolicy": "Fail",
        "matchPolicy": "Equivalent",
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "timeoutSeconds": 10,
    }
    mutating = {
        "name": f"inject.{names.GROUP}",
        "clientConfig": _client_config("/mutate-pod", ca_bundle),
        "rules": [
            {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}
        ],
        "namespaceSelector": {"matchLabels": {names.INJECT_LABEL: "enabled"}},
        "objectSelector": {
            "matchExpressions": [{"key": names.INJECT_LABEL, "operator": "NotIn", "values": ["disabled"]}]
        },
        "failurePolicy": "Fail",
        "reinvocationPolicy": "Never",
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "timeoutSeconds": 10,
    }
    admission = "admissionregistration.k8s.io/v1"
    return [
        _obj(
            admission,
            "ValidatingWebhookConfiguration",
            _meta(names.VALIDATING_WEBHOOK, None),
            webhooks=[validating],
        ),
        _obj(
            admission,
            "MutatingWebhookConfiguration",
            _meta(names.MUTATING_WEBHOOK, None),
            webhooks=[mutating],
        ),
    ]


def _apiservice(ca_bundle: str) -> Obj:
    return _obj(
        "apiregistration.k8s.io/v1",
        "APIService",
        _meta(names.APISERVICE, None),
        spec={
            "group": names.METRICS_GROUP,
            "version": names.METRICS_VERSION,
            "service": {"namespace": names.NAMESPACE, "name": names.CONTROL_PLANE, "port": 443},
            "caBundle": ca_bundle,
            "groupPriorityMinimum": 1000,
            "versionPriority": 10,
        },
    )


def render(options: InstallOptions, ca: CertificateAuthority) -> list[Obj]:
    """Every object of the installation, in the order to create them."""
    ca_pem = ca.bundle.pem()
    ca_bundle = base64.b64encode(ca_pem).decode()
    config = InjectionConfig(
        image=options.image,
        trust_anchors=ca_pem.decode(),
        trust_domain=options.trust_domain,
        image_pull_policy=options.image_pull_policy,
        log_level=options.log_level,
    )
    return [
        _obj("v1", "Namespace", _meta(names.NAMESPACE, None)),
        *smi_crds(ca_bundle),
        *_rbac(),
        _obj(
            "v1",
            "Secret",
            _meta(names.CA_SECRET),
            type="kubernetes.io/tls",
            data={
                "tls.crt": base64.b64encode(ca_pem).decode(),
                "tls.key": base64.b64encode(ca.key_pem()).decode(),
            },
        ),
        _obj("v1", "ConfigMap", _meta(names.CONFIG_MAP), data={"config.json": config.to_json()}),
        _deployment(options),
        _service(),
        *_webhooks(ca_bundle),
        _apiservice(ca_bundle),
    ]
