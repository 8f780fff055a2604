"""Bearer API keys with scopes: each key belongs to one client, and a client sees only its
own objects.

Keys come from two places: ``Settings.api_keys`` (the sandbox key, or keys an operator
configures, in clear or as ``sha256:<hex>``) and the ``api_key`` table (``paymux keys
create``), where only digests are kept. Every comparison is between SHA-256 digests, in
constant time. A route declares the scope it needs with
``Security(runtime.api_keys, scopes=[Scope.PAYMENTS_READ])``; OpenAPI shows it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from paymux.app.problems import Problem
from paymux.app.query_params import check_query_parameters
from paymux.core.domain.api_keys import (
    DIGEST_PREFIX,
    TOKEN_PREFIX,
    ApiKey,
    Scope,
    digest,
    granted,
    same_digest,
)
from paymux.core.identifiers import utc_now
from paymux.core.settings import ConfiguredApiKey
from paymux.core.storage.api_key_repository import ApiKeyStore

BEARER = HTTPBearer(
    auto_error=False,
    description="An API key: `Authorization: Bearer <key>`. Each operation lists the scope "
    "it needs (`admin` grants every scope, `payments:write` also `payments:read`).",
)
_CACHE_LIMIT = 10_000


@dataclass(frozen=True)
class Principal:
    """Who called: the client, the scopes of the key, and the key's id (``None`` for a key
    of ``Settings.api_keys``)."""

    client_id: str
    scopes: frozenset[Scope]
    key_id: str | None = None


class ApiKeys:
    """The configured keys and, with a ``store``, the database's keys.

    A database key found is remembered ``cache_seconds`` (a revocation takes effect within
    that time in this process); its expiry and revocation times are checked on every
    request, so a revocation scheduled for later ends it on time.
    """

    paymux_checks_query_parameters = True
    """As a route's dependency, it refuses unknown query parameters itself, once the key
    is accepted (:data:`~paymux.app.query_params.CHECKS_QUERY_PARAMETERS`)."""

    def __init__(
        self,
        keys: Mapping[str, str | ConfiguredApiKey],
        *,
        store: ApiKeyStore | None = None,
        cache_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._configured = [_configured(key, owner) for key, owner in keys.items()]
        self.store = store
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._now = now
        self._cache: dict[str, tuple[float, ApiKey]] = {}

    async def authenticate(self, authorization: str | None) -> Principal:
        """The caller of an ``Authorization: Bearer <key>`` header; :class:`Problem` 401 for
        a missing, unknown, expired or revoked key."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Problem(
                "unauthorized",
                "send 'Authorization: Bearer <api key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        wanted = digest(token)
        found: Principal | None = None
        for key_digest, principal in self._configured:  # every one: no early exit
            if same_digest(key_digest, wanted):
                found = principal
        if found is None and self.store is not None and token.startswith(TOKEN_PREFIX):
            stored = await self._stored(token, wanted)
            if stored is not None and stored.valid_at(self._now()):
                found = Principal(stored.client_id, stored.scopes, stored.id)
        if found is None:
            raise Problem(
                "unauthorized", "the API key is not valid", headers={"WWW-Authenticate": "Bearer"}
            )
        return found

    def forget(self) -> None:
        """Drop every remembered database key (the next request reads the database)."""
        self._cache.clear()

    async def database_clients(self) -> set[str]:
        """The clients with a valid key in the database."""
        return set() if self.store is None else await self.store.clients(now=self._now())

    async def _stored(self, token: str, wanted: str) -> ApiKey | None:
        assert self.store is not None
        cached = self._cache.get(wanted)
        if cached is not None and self._clock() - cached[0] < self._cache_seconds:
            return cached[1]
        stored = await self.store.find(token)
        if stored is None:
            self._cache.pop(wanted, None)
            return None
        if self._cache_seconds > 0:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[wanted] = (self._clock(), stored)
        return stored

    async def __call__(
        self,
        request: Request,
        security_scopes: SecurityScopes,
        _scheme: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    ) -> str:
        """FastAPI dependency: the calling client's id, once its key has every scope the
        route asks for (``Security(api_keys, scopes=[...])``); 401 or 403 otherwise."""
        principal = await self.authenticate(request.headers.get("authorization"))
        has = granted(principal.scopes)
        missing = [scope for scope in security_scopes.scopes if scope not in has]
        if missing:
            needed = " ".join(missing)
            raise Problem(
                "insufficient-scope",
                f"this API key lacks the scope {needed}",
                headers={
                    "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{needed}"'
                },
                required_scopes=missing,
            )
        request.state.paymux_client_id = principal.client_id
        request.state.paymux_api_key_id = principal.key_id
        check_query_parameters(request)  # only now: 401 before anything about the route
        return principal.client_id


def _configured(key: str, owner: str | ConfiguredApiKey) -> tuple[str, Principal]:
    key_digest = key.removeprefix(DIGEST_PREFIX) if key.startswith(DIGEST_PREFIX) else digest(key)
    if isinstance(owner, str):
        return key_digest, Principal(owner, frozenset({Scope.ADMIN}))
    return key_digest, Principal(owner.client, frozenset(owner.scopes))
