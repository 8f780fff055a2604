"""Reading and marking outbox rows for the relay (each call its own short transaction)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from paymux.core.events import OutboxRecord
from paymux.core.storage.database import Database
from paymux.core.storage.tables import OutboxEventRow, table_of

_out = table_of(OutboxEventRow)


class OutboxRepository:
    """The relay's view of the ``outbox_event`` table."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def unpublished(self, limit: int) -> list[OutboxRecord]:
        """The oldest unpublished events, in order (``created_at``, then ``id``)."""
        query = (
            sa.select(_out)
            .where(_out.c.published_at.is_(None))
            .order_by(_out.c.created_at, _out.c.id)
            .limit(limit)
        )
        async with self._database.transaction() as session:
            rows = (await session.execute(query)).all()
        return [
            OutboxRecord(
                id=row.id,
                topic=row.topic,
                key=row.key,
                payload=json.loads(row.payload),
                created_at=row.created_at,
            )
            for row in rows
        ]

    async def mark_published(self, ids: Sequence[str], *, now: datetime) -> None:
        """Record that these events were delivered."""
        if not ids:
            return
        async with self._database.transaction() as session:
            await session.execute(
                sa.update(_out)
                .where(_out.c.id.in_(list(ids)), _out.c.published_at.is_(None))
                .values(published_at=now)
            )

    async def pending_count(self) -> int:
        """How many events wait to be published."""
        async with self._database.transaction() as session:
            count = await session.scalar(
                sa.select(sa.func.count()).select_from(_out).where(_out.c.published_at.is_(None))
            )
        return int(count or 0)
