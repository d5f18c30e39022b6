"""A mesh certificate authority: EC P-256 root, short-lived per-workload X.509-SVIDs.

The CA signs leaf certificates directly (no intermediates): the trust bundle a proxy needs is then the set of
root certificates of its trust domain, and rotating the CA is "add the new root to every bundle, re-issue,
drop the old".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from reference_mesh.identity.errors import CredentialsError
from reference_mesh.identity.spiffe import SpiffeId

__all__ = ["DEFAULT_WORKLOAD_TTL", "CertificateAuthority", "TrustBundle", "WorkloadCredentials"]

#: Linkerd's default workload certificate lifetime; the embedded runtime uses much shorter ones.
DEFAULT_WORKLOAD_TTL = dt.timedelta(hours=24)
#: Clock skew tolerated by backdating notBefore (issuer and verifier may run on different hosts).
_BACKDATE = dt.timedelta(seconds=60)


def _key_usage(**allowed: bool) -> x509.KeyUsage:
    """digitalSignature plus the usages named; everything else off."""
    flags = dict.fromkeys(
        (
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    return x509.KeyUsage(digital_signature=True, **{**flags, **allowed})


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True)
class TrustBundle:
    """The CA certificates a proxy trusts for one trust domain."""

    trust_domain: str
    roots: tuple[x509.Certificate, ...]

    def pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.roots)

    @classmethod
    def from_pem(cls, trust_domain: str, data: bytes) -> TrustBundle:
        try:
            roots = tuple(x509.load_pem_x509_certificates(data))
        except ValueError as exc:
            raise CredentialsError(f"trust bundle is not PEM certificates: {exc}") from exc
        return cls(trust_domain, roots)

    def merged(self, other: TrustBundle) -> TrustBundle:
        """Both bundles' roots (for CA rotation); same trust domain only."""
        if other.trust_domain != self.trust_domain:
            raise ValueError(f"cannot merge bundles of {self.trust_domain!r} and {other.trust_domain!r}")
        seen = {c.fingerprint(hashes.SHA256()) for c in self.roots}
        extra = tuple(c for c in other.roots if c.fingerprint(hashes.SHA256()) not in seen)
        return TrustBundle(self.trust_domain, self.roots + extra)


@dataclass(frozen=True)
class WorkloadCredentials:
    """What a sidecar needs to speak mTLS: its leaf certificate, private key, and the trust bundle."""

    spiffe_id: SpiffeId
    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    bundle: TrustBundle

    @property
    def not_after(self) -> dt.datetime:
        return self.certificate.not_valid_after_utc

    @property
    def not_before(self) -> dt.datetime:
        return self.certificate.not_valid_before_utc

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def private_key_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


class CertificateAuthority:
    """Issues X.509-SVIDs for one trust domain. Create with :meth:`create` or load with :meth:`from_pem`."""

    def __init__(self, trust_domain: str, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey):
        self.trust_domain = trust_domain
        self.certificate = certificate
        self._key = key

    @classmethod
    def create(
        cls,
        trust_domain: str,
        *,
        ttl: dt.timedelta = dt.timedelta(days=365),
        now: dt.datetime | None = None,
    ) -> CertificateAuthority:
        """A new self-signed root whose subject names the trust domain."""
        SpiffeId(trust_domain, "x", "x")  # validates the trust domain
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, trust_domain),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{trust_domain} mesh root CA"),
            ]
        )
        start = (now or _now()) - _BACKDATE
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + ttl)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                _key_usage(key_cert_sign=True, crl_sign=True),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        return cls(trust_domain, cert, key)

    @classmethod
    def from_pem(cls, trust_domain: str, certificate_pem: bytes, key_pem: bytes) -> CertificateAuthority:
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise CredentialsError("the CA key must be an EC key")
        return cls(trust_domain, x509.load_pem_x509_certificate(certificate_pem), key)

    def key_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @property
    def bundle(self) -> TrustBundle:
        return TrustBundle(self.trust_domain, (self.certificate,))

    def issue(
        self,
        spiffe_id: SpiffeId,
        *,
        ttl: dt.timedelta = DEFAULT_WORKLOAD_TTL,
        now: dt.datetime | None = None,
        extra_uris: Iterable[str] = (),
        bundle: TrustBundle | None = None,
    ) -> WorkloadCredentials:
        """A fresh key pair and certificate for ``spiffe_id``, valid from ``now`` (backdated 60 s) for
        ``ttl``.

        ``extra_uris`` exists so tests can build certificates that verification must refuse; a real issuer
        never passes it. ``bundle`` overrides the bundle handed out (e.g. old + new root during CA rotation).
        """
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self.issue_for_key(spiffe_id, key.public_key(), ttl=ttl, now=now, extra_uris=extra_uris)
        return WorkloadCredentials(spiffe_id, cert, key, bundle or self.bundle)

    def issue_for_key(
        self,
        spiffe_id: SpiffeId,
        public_key: ec.EllipticCurvePublicKey,
        *,
        ttl: dt.timedelta = DEFAULT_WORKLOAD_TTL,
        now: dt.datetime | None = None,
        extra_uris: Iterable[str] = (),
    ) -> x509.Certificate:
        """An X.509-SVID for ``spiffe_id`` certifying a key the workload holds (from its certificate signing
        request: the private key never leaves the workload)."""
        if spiffe_id.trust_domain != self.trust_domain:
            raise ValueError(f"{spiffe_id} is not in trust domain {self.trust_domain!r}")
        start = (now or _now()) - _BACKDATE
        uris = [x509.UniformResourceIdentifier(spiffe_id.uri)]
        uris += [x509.UniformResourceIdentifier(u) for u in extra_uris]
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.trust_domain),
                x509.NameAttribute(
                    NameOID.COMMON_NAME, f"{spiffe_id.service_account}.{spiffe_id.namespace}"[:64]
                ),
            ]
        )
        return self._sign(
            x509.CertificateBuilder()
            .subject_name(name)
            .not_valid_before(start)
            .not_valid_after(start + _BACKDATE + ttl)
            .add_extension(_key_usage(key_agreement=True), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(x509.SubjectAlternativeName(uris), critical=False),
            public_key,
        )

    def issue_serving(
        self,
        dns_names: Iterable[str],
        *,
        ttl: dt.timedelta = DEFAULT_WORKLOAD_TTL,
        now: dt.datetime | None = None,
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """A TLS server certificate for DNS names (no SPIFFE id: it cannot pass as a workload), with its new
        key: what the control plane presents to the API server (webhooks, the aggregated metrics API) and to
        proxies asking for their identity."""
        dns = list(dns_names)
        key = ec.generate_private_key(ec.SECP256R1())
        start = (now or _now()) - _BACKDATE
        cert = self._sign(
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns[0][:64])]))
            .not_valid_before(start)
            .not_valid_after(start + _BACKDATE + ttl)
            .add_extension(_key_usage(), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False),
            key.public_key(),
        )
        return cert, key

    def _sign(
        self, builder: x509.CertificateBuilder, public_key: ec.EllipticCurvePublicKey
    ) -> x509.Certificate:
        """A leaf for ``public_key`` signed by this CA: issuer, serial, CA:false and key identifiers added."""
        return (
            builder.public_key(public_key)
            .issuer_name(self.certificate.subject)
            .serial_number(x509.random_serial_number())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )
