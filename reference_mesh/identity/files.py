"""Credentials on disk, and their rotation.

A sidecar reads its credentials from a directory holding ``cert.pem`` (leaf), ``key.pem`` and ``bundle.pem``;
the issuer replaces them atomically (write temporary files, then rename ``bundle``, ``key``, ``cert`` in that
order and bump ``generation``) so a reader never sees a key that does not match its certificate for long: the
proxy reloads when ``generation`` changes and retries on a mismatch. This is the same shape as SPIFFE helper /
Kubernetes projected-volume delivery, and works whether the proxy runs in the issuer's process or another one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from reference_mesh.identity.ca import (
    DEFAULT_WORKLOAD_TTL,
    CertificateAuthority,
    TrustBundle,
    WorkloadCredentials,
)
from reference_mesh.identity.errors import CredentialsError
from reference_mesh.identity.spiffe import SpiffeId
from reference_mesh.identity.verify import spiffe_id_of

__all__ = ["CERT_FILE", "GENERATION_FILE", "CredentialsRotator", "load_credentials", "write_credentials"]

CERT_FILE, KEY_FILE, BUNDLE_FILE, GENERATION_FILE = "cert.pem", "key.pem", "bundle.pem", "generation"
log = logging.getLogger(__name__)


def _atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def write_credentials(directory: Path, creds: WorkloadCredentials) -> None:
    """Write ``creds`` into ``directory`` (created 0700) and bump its generation counter."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    _atomic_write(directory / BUNDLE_FILE, creds.bundle.pem(), 0o644)
    _atomic_write(directory / KEY_FILE, creds.private_key_pem())
    _atomic_write(directory / CERT_FILE, creds.certificate_pem(), 0o644)
    gen_path = directory / GENERATION_FILE
    try:
        generation = int(gen_path.read_text()) + 1
    except (OSError, ValueError):
        generation = 1
    _atomic_write(gen_path, f"{generation}\n".encode(), 0o644)


def read_generation(directory: Path) -> int:
    try:
        return int((directory / GENERATION_FILE).read_text())
    except (OSError, ValueError):
        return 0


def load_credentials(directory: Path) -> WorkloadCredentials:
    """Read credentials written by :func:`write_credentials`; the key must match the certificate."""
    try:
        cert = x509.load_pem_x509_certificate((directory / CERT_FILE).read_bytes())
        key = serialization.load_pem_private_key((directory / KEY_FILE).read_bytes(), password=None)
        bundle_pem = (directory / BUNDLE_FILE).read_bytes()
    except (OSError, ValueError) as exc:
        raise CredentialsError(f"cannot read credentials from {directory}: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CredentialsError(f"{directory / KEY_FILE}: expected an EC private key")
    if key.public_key().public_numbers() != cert.public_key().public_numbers():  # type: ignore[union-attr]
        raise CredentialsError(f"{directory}: key does not match certificate (rotation in progress?)")
    spiffe_id = spiffe_id_of(cert)
    return WorkloadCredentials(spiffe_id, cert, key, TrustBundle.from_pem(spiffe_id.trust_domain, bundle_pem))


class CredentialsRotator:
    """Keeps a workload's credentials fresh: issues at start, then again after ``renew_at`` of each lifetime.

    ``sink`` receives each new credential set (e.g. ``functools.partial(write_credentials, dir)`` or a proxy's
    :meth:`set_credentials`). Linkerd renews at 70% of the lifetime; so does this by default.
    """

    def __init__(
        self,
        ca: CertificateAuthority,
        spiffe_id: SpiffeId,
        sink: Callable[[WorkloadCredentials], None],
        *,
        ttl: dt.timedelta = DEFAULT_WORKLOAD_TTL,
        renew_at: float = 0.7,
    ):
        if not 0 < renew_at < 1:
            raise ValueError("renew_at must be a fraction of the lifetime in (0, 1)")
        self.ca, self.spiffe_id, self.sink, self.ttl, self.renew_at = ca, spiffe_id, sink, ttl, renew_at
        self.current: WorkloadCredentials | None = None

    def rotate(self) -> WorkloadCredentials:
        self.current = self.ca.issue(self.spiffe_id, ttl=self.ttl)
        self.sink(self.current)
        return self.current

    async def run(self) -> None:
        """Issue now, then before each expiry, until cancelled."""
        while True:
            self.rotate()
            await asyncio.sleep(max(0.05, self.ttl.total_seconds() * self.renew_at))
