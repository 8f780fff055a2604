"""Bearer API keys: each key belongs to one client, and a client sees only its own objects."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from paymux.app.problems import Problem

BEARER = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`")


class ApiKeys:
    """The configured keys, compared in constant time."""

    def __init__(self, keys: Mapping[str, str]) -> None:
        self._keys = dict(keys)

    def client_for(self, authorization: str | None) -> str:
        """The client id of a ``Bearer <key>`` header; :class:`Problem` 401 otherwise."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Problem(
                "unauthorized",
                "send 'Authorization: Bearer <api key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        client = None
        for key, owner in self._keys.items():
            if hmac.compare_digest(key.encode(), token.strip().encode()):
                client = owner
        if client is None:
            raise Problem(
                "unauthorized", "the API key is not valid", headers={"WWW-Authenticate": "Bearer"}
            )
        return client

    def __call__(
        self,
        request: Request,
        _scheme: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    ) -> str:
        """FastAPI dependency: the calling client's id (declares Bearer auth in OpenAPI)."""
        return self.client_for(request.headers.get("authorization"))
