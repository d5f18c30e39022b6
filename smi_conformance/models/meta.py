"""Kubernetes ObjectMeta and the name formats Kubernetes enforces, as strict pydantic types.

Only what matters for an SMI manifest is checked in depth: name, generateName, namespace, labels and
annotations. The fields the API server fills in (uid, resourceVersion, managedFields, ...) are accepted as
they come, so that ``kubectl get -o yaml`` output validates too; a misspelt field is still an unknown-field
error.
"""

# No `from __future__ import annotations` here: see smi_conformance.models._base.
import re
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field, StringConstraints, WithJsonSchema, model_validator

from smi_conformance.models._base import (
    FORMAT,
    MISSING,
    VALUE,
    Expect,
    SMIModel,
    SMIObject,
    custom_error,
    located_error,
)

_LABEL = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"
_PART = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"  # Kubernetes bounds a subdomain's total length, not its parts
DNS1123_LABEL_PATTERN = rf"^{_LABEL}$"
DNS1123_SUBDOMAIN_PATTERN = rf"^{_PART}(?:\.{_PART})*$"
DNS1035_LABEL_PATTERN = r"^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$"
LABEL_VALUE_PATTERN = r"^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$"
_QUALIFIED_NAME_PART = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
QUALIFIED_NAME_PATTERN = rf"^(?:{_PART}(?:\.{_PART})*/)?{_QUALIFIED_NAME_PART}$"
GENERATE_NAME_PATTERN = rf"^{_PART}(?:\.{_PART})*-*$"

_SUBDOMAIN_RE = re.compile(DNS1123_SUBDOMAIN_PATTERN)
_QUALIFIED_NAME_PART_RE = re.compile(rf"^{_QUALIFIED_NAME_PART}$")
_ANNOTATIONS_MAX_BYTES = 256 * 1024

DNS1123Label = Annotated[
    str,
    StringConstraints(max_length=63, pattern=DNS1123_LABEL_PATTERN),
    Expect(
        "a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, "
        "at most 63 characters)"
    ),
]
"""A Kubernetes namespace name."""

DNS1123Subdomain = Annotated[
    str,
    StringConstraints(max_length=253, pattern=DNS1123_SUBDOMAIN_PATTERN),
    Expect(
        "a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', starting and ending with a letter or "
        "digit, at most 253 characters)"
    ),
]
"""An object name: custom resources, ServiceAccounts."""

DNS1035Label = Annotated[
    str,
    StringConstraints(max_length=63, pattern=DNS1035_LABEL_PATTERN),
    Expect(
        "a DNS-1035 label, as Kubernetes requires for Service names (lowercase letters, digits and '-', "
        "starting with a letter, ending with a letter or digit, at most 63 characters)"
    ),
]
"""A Service name."""

NonEmptyStr = Annotated[str, StringConstraints(min_length=1), Expect("a non-empty string")]


def _check_qualified_name(key: str) -> str:
    """Label and annotation keys: an optional DNS-subdomain prefix and '/', then a 1-63 character name."""
    prefix, slash, name = key.rpartition("/")
    ok = bool(_QUALIFIED_NAME_PART_RE.match(name))
    if slash:
        ok = ok and len(prefix) <= 253 and bool(_SUBDOMAIN_RE.match(prefix))
    if not ok:
        raise custom_error(
            FORMAT,
            "must be a Kubernetes qualified name (an optional DNS subdomain prefix and '/', "
            "then 1-63 letters, "
            "digits, '-', '_' or '.', starting and ending with a letter or digit)",
        )
    return key


QualifiedName = Annotated[
    str,
    AfterValidator(_check_qualified_name),
    WithJsonSchema({"type": "string", "pattern": QUALIFIED_NAME_PATTERN}),
]
LabelValue = Annotated[
    str,
    StringConstraints(max_length=63, pattern=LABEL_VALUE_PATTERN),
    Expect(
        "a valid label value (empty, or up to 63 letters, digits, '-', '_' or '.', starting and ending with "
        "a letter or digit)"
    ),
]


def _check_annotations_size(annotations: dict[str, str]) -> dict[str, str]:
    size = sum(len(k.encode()) + len(v.encode()) for k, v in annotations.items())
    if size > _ANNOTATIONS_MAX_BYTES:
        raise custom_error(
            VALUE, f"annotations total {size} bytes; Kubernetes allows at most 262144 (256 KiB)"
        )
    return annotations


def _check_generate_name(prefix: str) -> str:
    # Kubernetes appends 5 random characters; the prefix (without a trailing '-') must itself be a valid name.
    stem = prefix.rstrip("-")
    if not stem or len(prefix) > 253 or not _SUBDOMAIN_RE.match(stem):
        raise custom_error(
            FORMAT,
            f"generateName {prefix!r} must be a DNS-1123 subdomain, optionally followed by '-', "
            "as Kubernetes appends random characters to it",
        )
    return prefix


MAX_OPAQUE_DEPTH = 64


def _check_depth(value: Any) -> Any:
    """Opaque fields are taken as they come, but not nested absurdly deep (which nothing can serialise)."""
    level = [value]
    for _ in range(MAX_OPAQUE_DEPTH):
        level = [
            child
            for node in level
            if isinstance(node, (dict, list))
            for child in (node.values() if isinstance(node, dict) else node)
        ]
        if not level:
            return value
    raise custom_error(VALUE, f"must not be nested more than {MAX_OPAQUE_DEPTH} levels deep")


Opaque = Annotated[Any, AfterValidator(_check_depth)]
"""A server-filled field accepted as it comes (uid, managedFields, ...)."""


class ObjectMeta(SMIModel):
    """Standard Kubernetes object metadata; ``name`` (or ``generateName``) is required."""

    # Present and not null: the model reads a null name as no name, and so does an API server.
    SCHEMA_EXTRA: ClassVar[dict[str, Any]] = {
        "anyOf": [
            {"required": [field], "properties": {field: {"type": "string"}}}
            for field in ("name", "generateName")
        ]
    }

    name: DNS1123Subdomain | None = None
    """Name of the object, unique in its namespace."""
    generate_name: (
        Annotated[
            str,
            AfterValidator(_check_generate_name),
            WithJsonSchema({"type": "string", "maxLength": 253, "pattern": GENERATE_NAME_PATTERN}),
        ]
        | None
    ) = None
    """Prefix the API server completes into a unique name when ``name`` is not given."""
    namespace: DNS1123Label | None = None
    """Namespace of the object; the namespace it is applied to when absent."""
    labels: dict[QualifiedName, LabelValue] | None = None
    """Labels (selectable key/value pairs)."""
    annotations: Annotated[dict[QualifiedName, str], AfterValidator(_check_annotations_size)] | None = None
    """Annotations (non-identifying key/value pairs)."""
    # Filled in by the API server; accepted as they come so that `kubectl get -o yaml` output validates.
    uid: Opaque = None
    resource_version: Opaque = None
    generation: Opaque = None
    creation_timestamp: Opaque = None
    deletion_timestamp: Opaque = None
    deletion_grace_period_seconds: Opaque = None
    owner_references: Opaque = None
    finalizers: Opaque = None
    managed_fields: Opaque = None
    self_link: Opaque = None
    cluster_name: Opaque = None

    @model_validator(mode="after")
    def _name_or_generate_name(self) -> "ObjectMeta":
        if self.name is None and self.generate_name is None:
            raise located_error(("name",), MISSING, "missing required field 'name' (or 'generateName')", None)
        return self


class SMIResource(SMIObject):
    """A top-level SMI object the API server stores (a custom resource): metadata, and any status."""

    metadata: ObjectMeta
    status: Opaque | None = None
    """Whatever status a cluster reports. SMI defines none, but CRDs with a status subresource return
    ``status: {}``, so ``kubectl get -o yaml`` output carries it; accepted as it comes."""


class ListMeta(SMIModel):
    """Metadata of API responses (TrafficMetrics, lists): nothing required, nothing checked beyond types."""

    name: str | None = None
    namespace: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    uid: Opaque = None
    resource_version: Opaque = None
    creation_timestamp: Opaque = None
    self_link: Opaque = None
    continue_: Opaque = Field(default=None, alias="continue")
    remaining_item_count: Opaque = None


class LabelSelector(SMIModel):
    """A Kubernetes label selector restricted to ``matchLabels`` (all SMI uses)."""

    match_labels: Annotated[
        dict[QualifiedName, LabelValue], Field(min_length=1), Expect("a mapping with at least one label")
    ]
    """Labels an object must carry, all of them; at least one (an empty selector would select everything)."""
