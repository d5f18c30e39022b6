"""Identity: SPIFFE ids, the CA, verification refusals, credentials on disk, rotation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from reference_mesh.identity import (
    CertificateAuthority,
    CertificateRejected,
    CredentialsError,
    CredentialsRotator,
    SpiffeId,
    SpiffeIdError,
    TrustBundle,
    load_credentials,
    read_generation,
    verify_peer,
    write_credentials,
)

TD = "cluster.local"
WEB = SpiffeId(TD, "default", "web")


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.create(TD)


def test_spiffe_id_round_trip() -> None:
    sid = SpiffeId.parse("spiffe://cluster.local/ns/prod/sa/checkout.v2")
    assert (sid.trust_domain, sid.namespace, sid.service_account) == ("cluster.local", "prod", "checkout.v2")
    assert str(sid) == "spiffe://cluster.local/ns/prod/sa/checkout.v2"


@pytest.mark.parametrize(
    "uri",
    [
        "https://cluster.local/ns/a/sa/b",
        "spiffe://cluster.local/ns/a/sa/b/extra",
        "spiffe://cluster.local/ns/a/b/c",
        "spiffe://cluster.local/ns/A/sa/b",
        "spiffe://Cluster.local/ns/a/sa/b",
        "spiffe://cluster.local:8443/ns/a/sa/b",
        "spiffe://cluster.local/ns/a/sa/b?x=1",
        "spiffe://cluster.local/ns//sa/b",
        "spiffe://user@cluster.local/ns/a/sa/b",
    ],
)
def test_spiffe_id_rejects(uri: str) -> None:
    with pytest.raises(SpiffeIdError):
        SpiffeId.parse(uri)


def test_issued_certificate_is_a_spiffe_svid(ca: CertificateAuthority) -> None:
    creds = ca.issue(WEB, ttl=dt.timedelta(minutes=5))
    cert = creds.certificate
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [WEB.uri]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert creds.private_key.curve.name == "secp256r1"
    assert creds.not_after - creds.not_before <= dt.timedelta(minutes=6)
    assert verify_peer(cert, ca.bundle) == WEB
    assert verify_peer(cert.public_bytes(serialization.Encoding.DER), ca.bundle) == WEB


def test_expired_and_not_yet_valid_are_refused(ca: CertificateAuthority) -> None:
    old = ca.issue(
        WEB, ttl=dt.timedelta(minutes=1), now=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    )
    with pytest.raises(CertificateRejected, match="expired"):
        verify_peer(old.certificate, ca.bundle)
    future = ca.issue(WEB, now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1))
    with pytest.raises(CertificateRejected, match="not valid before"):
        verify_peer(future.certificate, ca.bundle)


def test_foreign_ca_is_refused(ca: CertificateAuthority) -> None:
    impostor = CertificateAuthority.create(TD)  # same trust domain name, different key
    creds = impostor.issue(WEB)
    with pytest.raises(CertificateRejected, match="not signed"):
        verify_peer(creds.certificate, ca.bundle)


def test_exactly_one_uri_san(ca: CertificateAuthority) -> None:
    creds = ca.issue(WEB, extra_uris=["spiffe://cluster.local/ns/default/sa/admin"])
    with pytest.raises(CertificateRejected, match="exactly one URI SAN"):
        verify_peer(creds.certificate, ca.bundle)


def test_wrong_trust_domain_is_refused() -> None:
    other = CertificateAuthority.create("other.example")
    creds = other.issue(SpiffeId("other.example", "default", "web"))
    bundle = TrustBundle(TD, other.bundle.roots)  # even if someone put that root in our bundle
    with pytest.raises(CertificateRejected, match="trust domain"):
        verify_peer(creds.certificate, bundle)


def test_ca_certificate_cannot_be_a_workload(ca: CertificateAuthority) -> None:
    with pytest.raises(CertificateRejected):
        verify_peer(ca.certificate, ca.bundle)


def test_bundle_merge_accepts_both_roots(ca: CertificateAuthority) -> None:
    new = CertificateAuthority.create(TD)
    merged = ca.bundle.merged(new.bundle)
    assert len(merged.roots) == 2 and len(merged.merged(new.bundle).roots) == 2
    assert verify_peer(new.issue(WEB).certificate, merged) == WEB
    assert verify_peer(ca.issue(WEB).certificate, merged) == WEB


def test_credentials_files_round_trip(ca: CertificateAuthority, tmp_path: Path) -> None:
    creds = ca.issue(WEB)
    write_credentials(tmp_path / "web", creds)
    assert read_generation(tmp_path / "web") == 1
    loaded = load_credentials(tmp_path / "web")
    assert loaded.spiffe_id == WEB and loaded.certificate == creds.certificate
    assert (tmp_path / "web" / "key.pem").stat().st_mode & 0o777 == 0o600
    write_credentials(tmp_path / "web", ca.issue(WEB))
    assert read_generation(tmp_path / "web") == 2


def test_mismatched_key_is_reported(ca: CertificateAuthority, tmp_path: Path) -> None:
    write_credentials(tmp_path, ca.issue(WEB))
    (tmp_path / "key.pem").write_bytes(ca.issue(WEB).private_key_pem())
    with pytest.raises(CredentialsError, match="does not match"):
        load_credentials(tmp_path)
    with pytest.raises(CredentialsError):
        load_credentials(tmp_path / "missing")


def test_rotator_issues_fresh_certificates(ca: CertificateAuthority) -> None:
    seen = []
    rotator = CredentialsRotator(ca, WEB, seen.append, ttl=dt.timedelta(seconds=30))
    first, second = rotator.rotate(), rotator.rotate()
    assert seen == [first, second]
    assert first.certificate.serial_number != second.certificate.serial_number
    with pytest.raises(ValueError):
        CredentialsRotator(ca, WEB, seen.append, renew_at=1.5)


def test_ca_refuses_other_trust_domain(ca: CertificateAuthority) -> None:
    with pytest.raises(ValueError):
        ca.issue(SpiffeId("other.example", "default", "web"))
