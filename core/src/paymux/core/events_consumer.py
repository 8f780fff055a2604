"""A helper for services that consume paymux's events: run a handler once per event id.

Brokers deliver paymux's events at least once, so a consumer sees some twice.
:class:`Deduplicator` remembers, per consumer name, the ids of the events it handled, in
its own table ``paymux_consumed_event`` (created if missing) in any SQLAlchemy database
(usually the consumer's own)::

    dedup = Deduplicator("postgresql+psycopg://analytics@db/analytics")
    await dedup.handle("analytics", event, record_sale)

The guarantee: the id is recorded after the handler returned, so a handler that completed
never runs again for that id; a crash between the handler's end and the record makes it run
once more (at least once). Make handlers idempotent for that window, or use
:meth:`Deduplicator.handle_in_transaction` when the handler's writes live in the same
database: they then commit together with the record, exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from paymux.core.events import CloudEvent
from paymux.core.identifiers import utc_now
from paymux.core.storage.database import async_url
from paymux.core.storage.tables import UtcDateTime

E = TypeVar("E", bound=CloudEvent | Mapping[str, Any])

_metadata = sa.MetaData()
consumed_event = sa.Table(
    "paymux_consumed_event",
    _metadata,
    sa.Column("consumer", sa.String(128), primary_key=True),
    sa.Column("event_id", sa.String(128), primary_key=True),
    sa.Column("consumed_at", UtcDateTime(), nullable=False),
)
"""The table of handled events: one row per consumer and event id."""


def event_id(event: CloudEvent | Mapping[str, Any]) -> str:
    """The CloudEvents ``id`` of an envelope object or of its decoded JSON."""
    if isinstance(event, CloudEvent):
        return event.id
    found = event.get("id")
    if not isinstance(found, str) or not found:
        raise ValueError("the event has no CloudEvents id")
    return found


class Deduplicator:
    """Runs a consumer's handler only the first time it sees an event id."""

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], datetime] = utc_now,
        engine: AsyncEngine | None = None,
    ) -> None:
        self._engine = engine or create_async_engine(async_url(url))
        self._clock = clock
        self._ready = False
        self._setup = asyncio.Lock()

    async def seen(self, consumer: str, event: CloudEvent | Mapping[str, Any]) -> bool:
        """Whether ``consumer`` has handled this event already."""
        await self._create_table()
        async with self._engine.connect() as connection:
            return await self._seen(connection, consumer, event_id(event))

    async def handle(
        self, consumer: str, event: E, handler: Callable[[E], Awaitable[object]]
    ) -> bool:
        """Run ``handler(event)`` unless ``consumer`` handled this id; record it after.

        Returns ``True`` if the handler ran. An exception of the handler propagates and
        nothing is recorded (the next delivery runs it again).
        """
        identifier = event_id(event)
        await self._create_table()
        async with self._engine.connect() as connection:
            if await self._seen(connection, consumer, identifier):
                return False
        await handler(event)
        async with self._engine.begin() as connection:
            await self._record(connection, consumer, identifier)
        return True

    async def handle_in_transaction(
        self,
        consumer: str,
        event: E,
        handler: Callable[[AsyncConnection, E], Awaitable[object]],
    ) -> bool:
        """Run ``handler(connection, event)`` in the transaction that records the id.

        The handler's writes on ``connection`` and the record commit together or not at
        all: exactly once for changes in this database. Returns ``True`` if it ran.
        """
        identifier = event_id(event)
        await self._create_table()
        async with self._engine.begin() as connection:
            if not await self._record(connection, consumer, identifier):
                return False
            await handler(connection, event)
        return True

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._engine.dispose()

    async def _create_table(self) -> None:
        if self._ready:
            return
        async with self._setup:
            if not self._ready:
                async with self._engine.begin() as connection:
                    await connection.run_sync(_metadata.create_all)
                self._ready = True

    @staticmethod
    async def _seen(connection: AsyncConnection, consumer: str, identifier: str) -> bool:
        found = await connection.scalar(
            sa.select(consumed_event.c.event_id).where(
                consumed_event.c.consumer == consumer, consumed_event.c.event_id == identifier
            )
        )
        return found is not None

    async def _record(self, connection: AsyncConnection, consumer: str, identifier: str) -> bool:
        """Insert the id; ``False`` if it was there (another delivery got it first)."""
        dialect = connection.dialect.name
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(consumed_event)
        result = await connection.execute(
            insert.values(consumer=consumer, event_id=identifier, consumed_at=self._clock())
            .on_conflict_do_nothing(index_elements=["consumer", "event_id"])
            .returning(consumed_event.c.event_id)
        )
        return result.scalar_one_or_none() is not None
