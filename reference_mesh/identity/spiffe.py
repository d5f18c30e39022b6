"""SPIFFE ids for mesh workloads: ``spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>``.

The mesh names a workload by its Kubernetes ServiceAccount, exactly as SMI's TrafficTarget does, so the id a
proxy reads from a verified peer certificate can be compared directly with the sources of an access policy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reference_mesh.identity.errors import SpiffeIdError

__all__ = ["SpiffeId"]

# SPIFFE-ID spec: trust domain is lowercase letters, digits, '.', '-', '_'; path segments are [A-Za-z0-9._-].
_TRUST_DOMAIN = re.compile(r"[a-z0-9._-]{1,255}")
# Kubernetes names: RFC 1123 labels (namespace) and subdomains (service account), lowercase.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")


@dataclass(frozen=True, order=True)
class SpiffeId:
    """A workload identity. ``str(id)`` is the URI carried in the certificate's only URI SAN."""

    trust_domain: str
    namespace: str
    service_account: str

    def __post_init__(self) -> None:
        if not _TRUST_DOMAIN.fullmatch(self.trust_domain):
            raise SpiffeIdError(
                f"invalid trust domain {self.trust_domain!r}: lowercase letters, digits, '.-_'"
            )
        if not _DNS_LABEL.fullmatch(self.namespace):
            raise SpiffeIdError(f"invalid namespace {self.namespace!r}: not a DNS-1123 label")
        if not _DNS_SUBDOMAIN.fullmatch(self.service_account):
            raise SpiffeIdError(f"invalid service account {self.service_account!r}: not a DNS-1123 subdomain")

    @property
    def uri(self) -> str:
        return f"spiffe://{self.trust_domain}/ns/{self.namespace}/sa/{self.service_account}"

    def __str__(self) -> str:
        return self.uri

    @classmethod
    def parse(cls, uri: str) -> SpiffeId:
        """Parse a mesh workload id; anything else (query, fragment, port, userinfo, other paths) is an
        error."""
        prefix = "spiffe://"
        if not uri.startswith(prefix):
            raise SpiffeIdError(f"{uri!r} is not a SPIFFE id: it must start with {prefix!r}")
        rest = uri[len(prefix) :]
        if any(c in rest for c in "?#@:%") or rest != rest.strip():
            raise SpiffeIdError(f"{uri!r}: SPIFFE ids carry no port, userinfo, query, fragment or escapes")
        trust_domain, _, path = rest.partition("/")
        parts = path.split("/")
        if len(parts) != 4 or parts[0] != "ns" or parts[2] != "sa":
            raise SpiffeIdError(f"{uri!r}: expected the path /ns/<namespace>/sa/<service-account>")
        return cls(trust_domain, parts[1], parts[3])
