"""The API keys kept in the database: created, found by digest, listed and revoked."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from paymux.core.domain.api_keys import (
    VISIBLE_CHARACTERS,
    ApiKey,
    Scope,
    digest,
    new_token,
    same_digest,
)
from paymux.core.identifiers import new_id
from paymux.core.storage.database import Database
from paymux.core.storage.tables import ApiKeyRow, table_of

_key = table_of(ApiKeyRow)


class ApiKeyStore:
    """Clients' API keys in ``database``; each call is one short transaction."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def create(
        self,
        client_id: str,
        scopes: Iterable[Scope],
        *,
        now: datetime,
        expires_at: datetime | None = None,
        label: str | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key for ``client_id`` and the key itself, which is not stored: show it
        once. The client's other keys stay valid (rotation: revoke the old one later)."""
        chosen = frozenset(scopes)
        if not chosen:
            raise ValueError("a key needs at least one scope")
        if expires_at is not None and expires_at <= now:
            raise ValueError("the expiry must be in the future")
        token = new_token()
        key = ApiKey(
            id=new_id("key"),
            client_id=client_id,
            prefix=token[:VISIBLE_CHARACTERS],
            scopes=chosen,
            created_at=now,
            expires_at=expires_at,
            label=label,
        )
        async with self.database.transaction() as session:
            await session.execute(
                sa.insert(_key).values(
                    id=key.id,
                    client_id=client_id,
                    key_digest=digest(token),
                    prefix=key.prefix,
                    scopes=" ".join(sorted(chosen)),
                    label=label,
                    created_at=now,
                    expires_at=expires_at,
                    revoked_at=None,
                )
            )
        return key, token

    async def find(self, token: str) -> ApiKey | None:
        """The stored key ``token`` is, valid or not (its digest is looked up by index and
        compared again in constant time)."""
        wanted = digest(token)
        async with self.database.transaction() as session:
            row = (
                await session.execute(sa.select(_key).where(_key.c.key_digest == wanted))
            ).one_or_none()
        if row is None or not same_digest(row.key_digest, wanted):
            return None
        return _key_of(row)

    async def get(self, key_id: str) -> ApiKey | None:
        """A key by its id."""
        async with self.database.transaction() as session:
            row = (await session.execute(sa.select(_key).where(_key.c.id == key_id))).one_or_none()
        return None if row is None else _key_of(row)

    async def list(self, client_id: str | None = None) -> list[ApiKey]:
        """Every key (of ``client_id``), oldest first, revoked and expired ones included."""
        query = sa.select(_key).order_by(_key.c.created_at, _key.c.id)
        if client_id is not None:
            query = query.where(_key.c.client_id == client_id)
        async with self.database.transaction() as session:
            rows = (await session.execute(query)).all()
        return [_key_of(row) for row in rows]

    async def revoke(self, key_id: str, *, at: datetime) -> ApiKey | None:
        """Make the key stop working at ``at`` (now, or later for a grace period); an
        earlier revocation is kept if it ends sooner. ``None`` if there is no such key."""
        async with self.database.transaction() as session:
            await session.execute(
                sa.update(_key)
                .where(
                    _key.c.id == key_id,
                    sa.or_(_key.c.revoked_at.is_(None), _key.c.revoked_at > at),
                )
                .values(revoked_at=at)
            )
        return await self.get(key_id)

    async def clients(self, *, now: datetime) -> set[str]:
        """The clients with a key valid at ``now``."""
        query = sa.select(_key.c.client_id).where(
            sa.or_(_key.c.revoked_at.is_(None), _key.c.revoked_at > now),
            sa.or_(_key.c.expires_at.is_(None), _key.c.expires_at > now),
        )
        async with self.database.transaction() as session:
            return set((await session.execute(query.distinct())).scalars())


def _key_of(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        client_id=row.client_id,
        prefix=row.prefix,
        scopes=frozenset(Scope(name) for name in row.scopes.split()),
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        label=row.label,
    )
