"""API keys: random bearer tokens kept only as a SHA-256 digest, each with scopes.

A key is ``pmx_`` and 43 URL-safe characters (256 random bits). Such a token cannot be
guessed, so a plain SHA-256 digest is enough to store it (a slow password hash protects
low-entropy secrets; here it would only slow every request). paymux keeps the digest and
the key's first characters (``prefix``) to recognise it in listings, never the key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

TOKEN_PREFIX = "pmx_"  # noqa: S105 - the public prefix of every key, no secret
VISIBLE_CHARACTERS = 12
"""How many leading characters of a key are kept in clear to recognise it (``pmx_`` + 8)."""
DIGEST_PREFIX = "sha256:"
"""How a configured key given as a digest starts: ``sha256:<64 hex digits>``."""


class Scope(StrEnum):
    """What a key may do. ``admin`` implies every scope; ``payments:write`` implies
    ``payments:read``."""

    PAYMENTS_WRITE = "payments:write"
    PAYMENTS_READ = "payments:read"
    REFUNDS = "refunds"
    PAYOUTS = "payouts"
    ADMIN = "admin"


IMPLIED: dict[Scope, frozenset[Scope]] = {
    Scope.ADMIN: frozenset(Scope),
    Scope.PAYMENTS_WRITE: frozenset({Scope.PAYMENTS_WRITE, Scope.PAYMENTS_READ}),
}


def granted(scopes: Iterable[Scope]) -> frozenset[Scope]:
    """Every scope ``scopes`` grant, implied ones included."""
    return frozenset(implied for scope in scopes for implied in IMPLIED.get(scope, {scope}))


def parse_scopes(values: Iterable[str]) -> frozenset[Scope]:
    """Scopes from their names (each may also be a comma-separated list); ``ValueError``
    names an unknown one."""
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    unknown = sorted({name for name in names if name not in Scope.__members__.values()})
    if unknown:
        known = ", ".join(scope.value for scope in Scope)
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; known: {known}")
    return frozenset(Scope(name) for name in names)


def new_token() -> str:
    """A new API key: ``pmx_`` and 256 random bits, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """The SHA-256 digest of a key, 64 lower-case hex digits: what paymux stores."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_digest(a: str, b: str) -> bool:
    """Compare two digests in constant time."""
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass(frozen=True)
class ApiKey:
    """A key stored in the database (never the key itself)."""

    id: str
    client_id: str
    prefix: str
    """The key's first characters, to recognise it (``pmx_AbCd1234``)."""
    scopes: frozenset[Scope]
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    """When the key stops working: set by a revocation, possibly in the future (a grace
    period while clients move to a new key)."""
    label: str | None = None

    def valid_at(self, now: datetime) -> bool:
        """Whether the key authenticates at ``now``."""
        ends = [end for end in (self.expires_at, self.revoked_at) if end is not None]
        return all(now < end for end in ends)

    def status_at(self, now: datetime) -> str:
        """``active``, ``revoked``, ``expired``, or ``revoking`` (revoked in the future)."""
        if self.revoked_at is not None and now >= self.revoked_at:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "revoking" if self.revoked_at is not None else "active"
