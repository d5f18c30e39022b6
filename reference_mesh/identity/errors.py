"""Errors of the identity package.

IdentityError
├── SpiffeIdError          a string is not a valid mesh SPIFFE id
├── CertificateRejected    a peer certificate fails verification (expired, foreign CA, bad SAN, wrong domain)
└── CredentialsError       credentials on disk are missing or unreadable
"""

from __future__ import annotations

__all__ = ["CertificateRejected", "CredentialsError", "IdentityError", "SpiffeIdError"]


class IdentityError(Exception):
    """Base class of every identity error."""


class SpiffeIdError(IdentityError, ValueError):
    """A string is not a valid mesh SPIFFE id."""


class CertificateRejected(IdentityError):
    """A certificate failed verification; the message says why, for logs and 'check' output."""


class CredentialsError(IdentityError):
    """Workload credentials could not be loaded."""
