"""Workload identity on Kubernetes (reference_mesh/kube/identity.py): what a reviewed token entitles to, and
the issuing endpoint with its client over real TLS on loopback. The reviewer is the boundary (a TokenReview on
the API server); the real one is exercised by tests/kind/test_reference_mesh.py."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization

from reference_mesh.identity import CertificateAuthority, SpiffeId, verify_peer
from reference_mesh.kube import names
from reference_mesh.kube.identity import (
    POD_NAME_EXTRA,
    IdentityClient,
    IdentityRefused,
    IdentityService,
    ReviewedToken,
    identity_of,
)

TRUST = "cluster.local"
GOOD = ReviewedToken(
    authenticated=True,
    username="system:serviceaccount:shop:web",
    audiences=(names.TOKEN_AUDIENCE,),
    extra={POD_NAME_EXTRA: ["web-0"]},
)


def test_the_identity_comes_from_the_verified_service_account_only() -> None:
    assert identity_of(GOOD, TRUST) == SpiffeId(TRUST, "shop", "web")


@pytest.mark.parametrize(
    ("review", "status", "message"),
    [
        (ReviewedToken(authenticated=False, error="token has expired"), 401, "token has expired"),
        (
            ReviewedToken(True, GOOD.username, ("https://kubernetes.default.svc",), GOOD.extra),
            401,
            "audience",
        ),
        (ReviewedToken(True, "alice", GOOD.audiences, GOOD.extra), 403, "not a service account"),
        (ReviewedToken(True, GOOD.username, GOOD.audiences, {}), 403, "not bound to a pod"),
    ],
)
def test_tokens_that_entitle_to_nothing(review: ReviewedToken, status: int, message: str) -> None:
    with pytest.raises(IdentityRefused) as refused:
        identity_of(review, TRUST)
    assert refused.value.status == status and message in refused.value.message


class Reviewer:
    """The TokenReview boundary: known tokens and what the API server would say of them."""

    def __init__(self) -> None:
        self.tokens = {"pod-token": GOOD}
        self.asked: list[str] = []

    async def __call__(self, token: str) -> ReviewedToken:
        self.asked.append(token)
        return self.tokens.get(token, ReviewedToken(authenticated=False, error="invalid bearer token"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _serve(
    service: IdentityService, ca: CertificateAuthority, tmp: Path, dns: str
) -> tuple[web.AppRunner, int]:
    cert, key = ca.issue_serving([dns])
    (tmp / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "tls.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp / "tls.crt", tmp / "tls.key")
    app = web.Application()
    app.router.add_post("/v1/identity", service.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    return runner, port


def test_a_proxy_gets_a_certificate_for_its_reviewed_identity_over_tls(tmp_path: Path) -> None:
    ca = CertificateAuthority.create(TRUST)
    reviewer = Reviewer()
    service = IdentityService(ca, reviewer, ttl=dt.timedelta(minutes=30))
    token_file = tmp_path / "token"

    async def scenario() -> dict[str, Any]:
        runner, port = await _serve(service, ca, tmp_path, "localhost")
        try:
            url = f"https://localhost:{port}/v1/identity"
            client = IdentityClient(url, ca.bundle.pem().decode(), token_file)
            token_file.write_text("pod-token\n")
            creds = await client.obtain()
            token_file.write_text("stolen-token")
            with pytest.raises(IdentityRefused) as refused:
                await client.obtain()
            # the server's certificate must name the host the proxy dials
            wrong_name = IdentityClient(
                f"https://127.0.0.1:{port}/v1/identity", ca.bundle.pem().decode(), token_file
            )
            with pytest.raises(aiohttp.ClientConnectorCertificateError, match=r"IP address mismatch"):
                await wrong_name.obtain()
            # and chain to the mesh's trust anchors
            stranger = CertificateAuthority.create(TRUST)
            foreign = IdentityClient(url, stranger.bundle.pem().decode(), token_file)
            with pytest.raises(aiohttp.ClientConnectorCertificateError, match="certificate verify failed"):
                await foreign.obtain()
            return {"creds": creds, "refused": refused.value}
        finally:
            await runner.cleanup()

    result = asyncio.run(scenario())
    creds, refused = result["creds"], result["refused"]
    assert creds.spiffe_id == SpiffeId(TRUST, "shop", "web")
    assert verify_peer(creds.certificate, ca.bundle) == SpiffeId(TRUST, "shop", "web")
    assert creds.not_after - creds.not_before <= dt.timedelta(minutes=31)
    assert refused.status == 401 and "invalid bearer token" in refused.message
    assert reviewer.asked == ["pod-token", "stolen-token"]
    assert (service.issued, service.refused) == (1, 1)


def test_the_endpoint_refuses_missing_tokens_and_bad_requests(tmp_path: Path) -> None:
    ca = CertificateAuthority.create(TRUST)
    service = IdentityService(ca, Reviewer())

    async def scenario() -> list[tuple[int, str]]:
        runner, port = await _serve(service, ca, tmp_path, "localhost")
        context = ssl.create_default_context(cadata=ca.bundle.pem().decode())
        out = []
        try:
            async with aiohttp.ClientSession() as session:
                for headers, body in (
                    ({}, {"csr": "x"}),
                    ({"authorization": "Bearer pod-token"}, {"csr": "not a csr"}),
                    ({"authorization": "Bearer pod-token"}, ["wrong shape"]),
                ):
                    async with session.post(
                        f"https://localhost:{port}/v1/identity", json=body, headers=headers, ssl=context
                    ) as resp:
                        out.append((resp.status, (await resp.json())["error"]))
        finally:
            await runner.cleanup()
        return out

    answers = asyncio.run(scenario())
    assert [status for status, _ in answers] == [401, 400, 400]
    assert "projected token" in answers[0][1] and "certificate signing request" in answers[1][1]
    assert service.issued == 0


def test_serving_certificates_name_hosts_and_cannot_pass_as_workloads() -> None:
    from reference_mesh.identity import CertificateRejected

    ca = CertificateAuthority.create(TRUST)
    cert, _ = ca.issue_serving([names.service_dns(), "control-plane"])
    with pytest.raises(CertificateRejected):
        verify_peer(cert, ca.bundle)  # no SPIFFE id: refused by every proxy


def test_the_sidecar_renews_its_certificate_before_it_expires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """reference_mesh/kube/sidecar.py: a new certificate (and key) at 70% of each lifetime, written where the
    proxy reloads it from."""
    from reference_mesh.identity import load_credentials, read_generation
    from reference_mesh.kube.sidecar import _renew

    # two-second lifetimes, without the minute of backdating a real issuer adds for clock skew
    monkeypatch.setattr("reference_mesh.identity.ca._BACKDATE", dt.timedelta(0))
    ca = CertificateAuthority.create(TRUST)
    service = IdentityService(ca, Reviewer(), ttl=dt.timedelta(seconds=2))
    token_file = tmp_path / "token"
    token_file.write_text("pod-token")
    creds_dir = tmp_path / "credentials"

    async def scenario() -> dict[int, float]:
        from reference_mesh.identity import write_credentials

        runner, port = await _serve(service, ca, tmp_path, "localhost")
        client = IdentityClient(f"https://localhost:{port}/v1/identity", ca.bundle.pem().decode(), token_file)
        stop = asyncio.Event()
        try:
            first = await client.obtain()
            write_credentials(creds_dir, first)
            renewing = asyncio.ensure_future(_renew(client, creds_dir, first, stop))
            loop = asyncio.get_running_loop()
            seen = {read_generation(creds_dir): loop.time()}  # generation -> when it appeared
            for _ in range(200):  # until two renewals, at most ten lifetimes
                await asyncio.sleep(0.1)
                seen.setdefault(read_generation(creds_dir), loop.time())
                if len(seen) >= 3:
                    break
            stop.set()
            await asyncio.wait_for(renewing, 5)
            return seen
        finally:
            await runner.cleanup()

    seen = asyncio.run(scenario())
    assert sorted(seen) == [1, 2, 3], seen  # renewed twice, one generation at a time
    # each renewal came at 70% of the previous certificate's 2 s, not at once: 1.4 s after its notBefore
    # (which X.509 rounds down to the second), never sooner than the 1 s the sidecar waits at least (less the
    # 0.1 s between two looks of this loop)
    assert seen[2] - seen[1] >= 0.9 and seen[3] - seen[2] >= 0.9, seen
    current = load_credentials(creds_dir)
    assert current.spiffe_id == SpiffeId(TRUST, "shop", "web")
    assert service.issued == 3
