"""mTLS for the proxies: SSL contexts from workload credentials, rotated in place, and peer identity checks.

One server and one client :class:`ssl.SSLContext` per proxy. Rotation calls ``load_cert_chain`` on the same
contexts: OpenSSL copies the certificate into each connection when it starts, so live connections keep theirs
and new handshakes present the new one; nothing is dropped. A new CA is added to the verify store the same
way; since a store cannot forget a CA, :func:`peer_identity` re-verifies every peer against the *current*
bundle.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from pathlib import Path
from typing import Any, Protocol

from reference_mesh.identity import (
    CertificateRejected,
    SpiffeId,
    TrustBundle,
    WorkloadCredentials,
    verify_peer,
)

__all__ = ["Channel", "MeshTls", "PeerIdentityError"]


class Channel(Protocol):
    """What knows a connection's peer: an asyncio transport or stream writer."""

    def get_extra_info(self, name: str, default: Any = None) -> Any: ...

    def close(self) -> None: ...


class PeerIdentityError(Exception):
    """The peer's certificate is missing, refused, or names the wrong workload."""


class MeshTls:
    """The proxy's TLS state. ``server`` / ``client`` contexts stay the same objects across rotations."""

    def __init__(self, credentials: WorkloadCredentials):
        self._dir = Path(tempfile.mkdtemp(prefix="mesh-tls-"))
        os.chmod(self._dir, 0o700)
        self.server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        for ctx in (self.server, self.client):
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
            ctx.verify_mode = ssl.CERT_REQUIRED
        self.client.check_hostname = False  # peers are named by SPIFFE URI SAN, checked in peer_identity
        self.credentials = credentials
        self.bundle: TrustBundle = credentials.bundle
        self._load(credentials)

    def _load(self, creds: WorkloadCredentials) -> None:
        cert, key = self._dir / "cert.pem", self._dir / "key.pem"
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(creds.private_key_pem())
        cert.write_bytes(creds.certificate_pem())
        cadata = creds.bundle.pem().decode()
        for ctx in (self.server, self.client):
            ctx.load_cert_chain(cert, key)
            ctx.load_verify_locations(cadata=cadata)
        key.unlink()

    def rotate(self, creds: WorkloadCredentials) -> None:
        """Present ``creds`` on new connections from now on; trust its bundle."""
        if creds.spiffe_id != self.credentials.spiffe_id:
            raise PeerIdentityError(
                f"rotation cannot change identity {self.credentials.spiffe_id} -> {creds.spiffe_id}"
            )
        self._load(creds)
        self.credentials, self.bundle = creds, creds.bundle

    def close(self) -> None:
        for p in self._dir.iterdir():
            p.unlink()
        self._dir.rmdir()

    def peer_identity(self, channel: Channel) -> SpiffeId:
        """The verified SPIFFE id of the peer on a TLS connection, or :class:`PeerIdentityError`."""
        sslobj = channel.get_extra_info("ssl_object")
        der = sslobj.getpeercert(binary_form=True) if sslobj is not None else None
        if not der:
            raise PeerIdentityError("peer presented no certificate")
        try:
            return verify_peer(der, self.bundle)
        except CertificateRejected as exc:
            raise PeerIdentityError(f"peer certificate refused: {exc}") from exc
