"""Workload identity: a CA, SPIFFE ids, short-lived X.509-SVIDs, verification and rotation.

Typical use (what the embedded runtime does)::

    ca = CertificateAuthority.create("cluster.local") sid = SpiffeId("cluster.local", "default", "web")
    rotator = CredentialsRotator(ca, sid, functools.partial(write_credentials, Path("run/web-0")))
    asyncio.create_task(rotator.run())     # the proxy watches run/web-0 and reloads each new certificate
"""

from reference_mesh.identity.ca import (
    DEFAULT_WORKLOAD_TTL,
    CertificateAuthority,
    TrustBundle,
    WorkloadCredentials,
)
from reference_mesh.identity.errors import CertificateRejected, CredentialsError, IdentityError, SpiffeIdError
from reference_mesh.identity.files import (
    CredentialsRotator,
    load_credentials,
    read_generation,
    write_credentials,
)
from reference_mesh.identity.spiffe import SpiffeId
from reference_mesh.identity.verify import spiffe_id_of, verify_peer

__all__ = [
    "DEFAULT_WORKLOAD_TTL",
    "CertificateAuthority",
    "CertificateRejected",
    "CredentialsError",
    "CredentialsRotator",
    "IdentityError",
    "SpiffeId",
    "SpiffeIdError",
    "TrustBundle",
    "WorkloadCredentials",
    "load_credentials",
    "read_generation",
    "spiffe_id_of",
    "verify_peer",
    "write_credentials",
]
