"""Kubernetes ObjectMeta and the name formats Kubernetes enforces, as strict pydantic types.

Only what matters for an SMI manifest is checked in depth: name, generateName, namespace, labels and
annotations. The fields the API server fills in (uid, resourceVersion, managedFields, ...) are accepted as
they come, so that ``kubectl get -o yaml`` output validates too; a misspelt field is still an unknown-field
error.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from smi_conformance.models._base import FORMAT, MISSING, VALUE, Expect, SMIModel, custom_error, located_error

_LABEL = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"
_PART = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"  # Kubernetes bounds a subdomain's total length, not its parts
DNS1123_LABEL_PATTERN = rf"^{_LABEL}$"
DNS1123_SUBDOMAIN_PATTERN = rf"^{_PART}(?:\.{_PART})*$"
DNS1035_LABEL_PATTERN = r"^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$"
LABEL_VALUE_PATTERN = r"^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$"
_QUALIFIED_NAME_PART = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
QUALIFIED_NAME_PATTERN = rf"^(?:{_PART}(?:\.{_PART})*/)?{_QUALIFIED_NAME_PART}$"

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


QualifiedName = Annotated[str, AfterValidator(_check_qualified_name)]
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


class ObjectMeta(SMIModel):
    """Standard Kubernetes object metadata; ``name`` (or ``generateName``) is required."""

    name: DNS1123Subdomain | None = None
    """Name of the object, unique in its namespace."""
    generate_name: Annotated[str, AfterValidator(_check_generate_name)] | None = None
    """Prefix the API server completes into a unique name when ``name`` is not given."""
    namespace: DNS1123Label | None = None
    """Namespace of the object; the namespace it is applied to when absent."""
    labels: dict[QualifiedName, LabelValue] | None = None
    """Labels (selectable key/value pairs)."""
    annotations: Annotated[dict[QualifiedName, str], AfterValidator(_check_annotations_size)] | None = None
    """Annotations (non-identifying key/value pairs)."""
    # Filled in by the API server; accepted as they come so that `kubectl get -o yaml` output validates.
    uid: Any = None
    resource_version: Any = None
    generation: Any = None
    creation_timestamp: Any = None
    deletion_timestamp: Any = None
    deletion_grace_period_seconds: Any = None
    owner_references: Any = None
    finalizers: Any = None
    managed_fields: Any = None
    self_link: Any = None
    cluster_name: Any = None

    @model_validator(mode="after")
    def _name_or_generate_name(self) -> ObjectMeta:
        if self.name is None and self.generate_name is None:
            raise located_error(("name",), MISSING, "missing required field 'name' (or 'generateName')", None)
        return self


class ListMeta(SMIModel):
    """Metadata of API responses (TrafficMetrics, lists): nothing required, nothing checked beyond types."""

    name: str | None = None
    namespace: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    uid: Any = None
    resource_version: Any = None
    creation_timestamp: Any = None
    self_link: Any = None
    continue_: Any = Field(default=None, alias="continue")
    remaining_item_count: Any = None


class LabelSelector(SMIModel):
    """A Kubernetes label selector restricted to ``matchLabels`` (all SMI uses)."""

    match_labels: dict[QualifiedName, LabelValue]
    """Labels an object must carry, all of them."""
