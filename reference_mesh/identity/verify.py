"""Verification of a peer's X.509-SVID, independent of any TLS library.

The proxies' TLS handshake already refuses chains that do not lead to the bundle and expired certificates
(OpenSSL does it with CERT_REQUIRED); :func:`verify_peer` then applies the SPIFFE rules OpenSSL knows nothing
about, and repeats the chain and time checks so the rules hold even if a TLS setting is got wrong. A peer
identity is only ever read through this function.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from reference_mesh.identity.ca import TrustBundle
from reference_mesh.identity.errors import CertificateRejected, SpiffeIdError
from reference_mesh.identity.spiffe import SpiffeId

__all__ = ["spiffe_id_of", "verify_peer"]


def spiffe_id_of(certificate: x509.Certificate) -> SpiffeId:
    """The certificate's SPIFFE id: it must carry exactly one URI SAN, and that URI must be a mesh SPIFFE
    id."""
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise CertificateRejected("certificate has no subjectAltName, so no SPIFFE id") from None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    if len(uris) != 1:
        raise CertificateRejected(f"certificate must carry exactly one URI SAN, it has {len(uris)}")
    try:
        return SpiffeId.parse(uris[0])
    except SpiffeIdError as exc:
        raise CertificateRejected(str(exc)) from exc


def _issued_by_bundle(leaf: x509.Certificate, bundle: TrustBundle) -> bool:
    for root in bundle.roots:
        if root.subject != leaf.issuer:
            continue
        try:
            leaf.verify_directly_issued_by(root)
        except (InvalidSignature, ValueError, TypeError):
            continue
        return True
    return False


def verify_peer(
    leaf: x509.Certificate | bytes,
    bundle: TrustBundle,
    *,
    now: dt.datetime | None = None,
) -> SpiffeId:
    """Verify a peer leaf certificate (object or DER) against ``bundle``; return its SPIFFE id.

    Refuses (raises :class:`CertificateRejected`): a certificate not signed by a root of the bundle (a foreign
    CA), one outside its validity period, a CA certificate used as a leaf, one without exactly one SPIFFE URI
    SAN, and one whose id belongs to another trust domain.
    """
    cert = x509.load_der_x509_certificate(leaf) if isinstance(leaf, bytes) else leaf
    when = now or dt.datetime.now(dt.timezone.utc)
    if not _issued_by_bundle(cert, bundle):
        raise CertificateRejected(
            f"certificate is not signed by a CA of trust domain {bundle.trust_domain!r}"
        )
    if when < cert.not_valid_before_utc:
        raise CertificateRejected(f"certificate not valid before {cert.not_valid_before_utc.isoformat()}")
    if when > cert.not_valid_after_utc:
        raise CertificateRejected(f"certificate expired at {cert.not_valid_after_utc.isoformat()}")
    try:
        if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise CertificateRejected("a CA certificate cannot be a workload identity")
    except x509.ExtensionNotFound:
        pass
    spiffe_id = spiffe_id_of(cert)
    if spiffe_id.trust_domain != bundle.trust_domain:
        raise CertificateRejected(f"identity {spiffe_id} is not in trust domain {bundle.trust_domain!r}")
    return spiffe_id
