"""Workload identity on Kubernetes: a certificate only for the service account a verified token names.

The proxy proves who it is with its pod's projected service-account token, issued by the kubelet for the
mesh's audience (``reference-mesh.smi-conformance.io``) and bound to the pod. It sends the token and a
certificate signing request (its private key never leaves the pod) to the control plane::

    POST https://control-plane.reference-mesh.svc:8443/v1/identity
    Authorization: Bearer <projected token>
    {"csr": "<PEM>"}                      -> 200 {"certificate": "<PEM>", "bundle": "<PEM>"}
                                          -> 400 bad CSR, 401 token refused, 403 not a pod's service account

The control plane asks the API server (TokenReview, with the mesh's audience) who the token belongs to; the
certificate's SPIFFE id is built from the *verified* namespace and service account
(``system:serviceaccount:<ns>:<sa>``), never from anything the request claims. A token for another audience
(the pod's ordinary API token, say), an expired one or one not bound to a pod is refused. The proxy trusts the
control plane's serving certificate through the mesh's trust anchors, which the injector gives it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from reference_mesh.identity import (
    CertificateAuthority,
    SpiffeId,
    SpiffeIdError,
    TrustBundle,
    WorkloadCredentials,
    spiffe_id_of,
)
from reference_mesh.kube import names
from reference_mesh.kube.client import ApiError, KubeApi

__all__ = [
    "IdentityClient",
    "IdentityRefused",
    "IdentityService",
    "ReviewedToken",
    "TokenReviewer",
    "kube_token_reviewer",
]

POD_NAME_EXTRA = "authentication.kubernetes.io/pod-name"
_SA_PREFIX = "system:serviceaccount:"


class IdentityRefused(Exception):
    """The control plane would not issue a certificate (``status`` is the HTTP status it answered)."""

    def __init__(self, status: int, message: str):
        super().__init__(f"{status}: {message}")
        self.status, self.message = status, message


@dataclass(frozen=True)
class ReviewedToken:
    """What the API server said about a token."""

    authenticated: bool
    username: str = ""
    audiences: tuple[str, ...] = ()
    extra: dict[str, list[str]] | None = None
    error: str = ""


#: token -> the API server's verdict (a TokenReview)
TokenReviewer = Callable[[str], Awaitable[ReviewedToken]]


def kube_token_reviewer(api: KubeApi, audience: str = names.TOKEN_AUDIENCE) -> TokenReviewer:
    """TokenReview through the API server (the call blocks, so it runs in a thread)."""

    def review(token: str) -> ReviewedToken:
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token, "audiences": [audience]},
        }
        status = api.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", body=body)["status"]
        user = status.get("user") or {}
        return ReviewedToken(
            authenticated=bool(status.get("authenticated")),
            username=str(user.get("username") or ""),
            audiences=tuple(status.get("audiences") or ()),
            extra=user.get("extra") or {},
            error=str(status.get("error") or ""),
        )

    async def reviewer(token: str) -> ReviewedToken:
        return await asyncio.to_thread(review, token)

    return reviewer


def identity_of(review: ReviewedToken, trust_domain: str, audience: str = names.TOKEN_AUDIENCE) -> SpiffeId:
    """The SPIFFE id a reviewed token entitles to; :class:`IdentityRefused` when it entitles to none."""
    if not review.authenticated:
        raise IdentityRefused(
            401, f"token not accepted by the API server: {review.error or 'unauthenticated'}"
        )
    if audience not in review.audiences:
        raise IdentityRefused(401, f"token is not for the audience {audience!r}")
    if not review.username.startswith(_SA_PREFIX):
        raise IdentityRefused(403, f"{review.username!r} is not a service account")
    if not (review.extra or {}).get(POD_NAME_EXTRA):
        raise IdentityRefused(
            403, "the token is not bound to a pod (use the projected token the injector mounts)"
        )
    namespace, _, account = review.username.removeprefix(_SA_PREFIX).partition(":")
    try:
        return SpiffeId(trust_domain, namespace, account)
    except SpiffeIdError as exc:
        raise IdentityRefused(403, str(exc)) from exc


def _public_key_of(csr_pem: Any) -> ec.EllipticCurvePublicKey:
    if not isinstance(csr_pem, str):
        raise IdentityRefused(400, 'body must be {"csr": "<PEM certificate signing request>"}')
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
    except ValueError as exc:
        raise IdentityRefused(400, f"not a PEM certificate signing request: {exc}") from exc
    if not csr.is_signature_valid:
        raise IdentityRefused(400, "the certificate signing request's signature is invalid")
    key = csr.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise IdentityRefused(400, "the key must be EC P-256")
    return key


class IdentityService:
    """The control plane's end: ``POST /v1/identity`` (add :meth:`handle` to an HTTPS application)."""

    def __init__(
        self,
        ca: CertificateAuthority,
        reviewer: TokenReviewer,
        *,
        ttl: dt.timedelta = dt.timedelta(hours=1),
        audience: str = names.TOKEN_AUDIENCE,
    ):
        self.ca, self.reviewer, self.ttl, self.audience = ca, reviewer, ttl, audience
        self.issued = 0
        self.refused = 0

    async def issue(self, token: str, csr_pem: Any) -> x509.Certificate:
        key = _public_key_of(csr_pem)
        try:
            review = await self.reviewer(token)
        except ApiError as exc:
            raise IdentityRefused(503, f"cannot review the token now: {exc}") from exc
        spiffe_id = identity_of(review, self.ca.trust_domain, self.audience)
        return self.ca.issue_for_key(spiffe_id, key, ttl=self.ttl)

    async def handle(self, request: web.Request) -> web.Response:
        token = request.headers.get("authorization", "")
        if not token.startswith("Bearer ") or not token[7:].strip():
            self.refused += 1
            return web.json_response(
                {"error": "send the pod's projected token as a Bearer token"}, status=401
            )
        try:
            body = await request.json()
        except ValueError:
            body = None
        try:
            cert = await self.issue(token[7:].strip(), body.get("csr") if isinstance(body, dict) else None)
        except IdentityRefused as exc:
            self.refused += 1
            return web.json_response({"error": exc.message}, status=exc.status)
        self.issued += 1
        return web.json_response(
            {
                "certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
                "bundle": self.ca.bundle.pem().decode(),
            }
        )


class IdentityClient:
    """The proxy's end: a new key and certificate, for the identity the control plane verifies."""

    def __init__(self, url: str, trust_anchors_pem: str, token_path: Path, *, timeout_s: float = 10.0):
        self.url, self.token_path, self.timeout_s = url, token_path, timeout_s
        self.ssl = ssl.create_default_context(cadata=trust_anchors_pem)  # verifies the server's DNS name too

    async def obtain(self) -> WorkloadCredentials:
        """Ask once; raises :class:`IdentityRefused` (or OSError / aiohttp errors when unreachable)."""
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reference-mesh proxy")]))
            .sign(key, hashes.SHA256())
        )
        token = self.token_path.read_text().strip()  # re-read each time: the kubelet rotates it
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as session,
            session.post(
                self.url,
                json={"csr": csr.public_bytes(serialization.Encoding.PEM).decode()},
                headers={"authorization": f"Bearer {token}"},
                ssl=self.ssl,
            ) as resp,
        ):
            text = await resp.text()
        if resp.status != 200:
            try:
                message = str(json.loads(text).get("error"))
            except (ValueError, AttributeError):
                message = text[:300]
            raise IdentityRefused(resp.status, message)
        answer = json.loads(text)
        cert = x509.load_pem_x509_certificate(answer["certificate"].encode())
        if cert.public_key().public_numbers() != key.public_key().public_numbers():  # type: ignore[union-attr]
            raise IdentityRefused(502, "the certificate returned is not for the key sent")
        spiffe_id = spiffe_id_of(cert)
        bundle = TrustBundle.from_pem(spiffe_id.trust_domain, answer["bundle"].encode())
        return WorkloadCredentials(spiffe_id, cert, key, bundle)
