"""The outbox relay: publishes stored events in order, at least once, and marks them.

One pass reads the oldest unpublished events (``created_at``, then ``id``) in a short
transaction, hands them to every publisher with no transaction open, and only then marks
them published in another short transaction. A crash or a failing publisher between the
two leaves them unpublished: they are published again (at least once). Events of one key
(a payment, or a seller for payouts) stay in order because one relay works at a time: on
PostgreSQL each pass holds a session advisory lock (``pg_try_advisory_lock``) on a
connection of its own, so several ``paymux relay`` processes are safe; on SQLite run one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import datetime

import sqlalchemy as sa

from paymux.core import crashpoints
from paymux.core.events import DEFAULT_SOURCE, CloudEvent, envelope
from paymux.core.events_publishers import Publisher
from paymux.core.identifiers import utc_now
from paymux.core.storage.database import Database
from paymux.core.storage.outbox_repository import OutboxRepository

log = logging.getLogger(__name__)

RELAY_LOCK_KEY = 0x7061_796D_7578_0001
"""The PostgreSQL advisory lock key the relays take turns on."""


class PublishError(Exception):
    """A publisher did not accept a batch; nothing of it was marked published."""

    def __init__(self, publisher: str, cause: BaseException) -> None:
        super().__init__(f"publisher {publisher!r} failed: {type(cause).__name__}: {cause}")
        self.publisher = publisher


class OutboxRelay:
    """Moves events from the ``outbox_event`` table to the publishers."""

    def __init__(
        self,
        database: Database,
        publishers: Sequence[Publisher],
        *,
        source: str = DEFAULT_SOURCE,
        batch_size: int = 100,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if not publishers:
            raise ValueError("the relay needs at least one publisher")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.database = database
        self._outbox = OutboxRepository(database)
        self.publishers = list(publishers)
        self._source = source
        self._batch_size = batch_size
        self._clock = clock
        self._local = asyncio.Lock()

    async def publish_batch(self) -> int | None:
        """Publish the oldest unpublished batch and mark it.

        Returns how many events were published, or ``None`` when another relay holds the
        turn. Raises :class:`PublishError` if a publisher failed (nothing is marked).
        """
        async with self._turn() as mine:
            if not mine:
                return None
            records = await self._outbox.unpublished(self._batch_size)
            if not records:
                return 0
            events = [envelope(record, source=self._source) for record in records]
            await self._publish(events)
            crashpoints.reached(crashpoints.RELAY_PUBLISHED)
            await self._outbox.mark_published([event.id for event in events], now=self._clock())
            for event in events:
                log.info("published %s %s (subject %s)", event.type, event.id, event.subject)
            return len(events)

    async def drain(self) -> int:
        """Publish batches until the outbox is empty (or another relay has the turn).

        Returns how many events this relay published; raises :class:`PublishError` as
        :meth:`publish_batch` does.
        """
        total = 0
        while True:
            published = await self.publish_batch()
            if not published:
                return total
            total += published
            if published < self._batch_size:
                return total

    async def run(
        self,
        *,
        interval: float = 1.0,
        max_backoff: float = 60.0,
        stop: asyncio.Event | None = None,
    ) -> None:
        """Drain the outbox, sleep ``interval``, again, until ``stop`` is set.

        After a publisher failure the relay waits ``interval``, doubled after every further
        failure up to ``max_backoff``, and publishes the same events again.
        """
        stop = stop or asyncio.Event()
        failures = 0
        while not stop.is_set():
            try:
                await self.drain()
            except PublishError as error:
                failures += 1
                delay = min(max_backoff, interval * 2 ** (failures - 1))
                log.warning("%s; retrying in %.1f s", error, delay)
            else:
                failures = 0
                delay = interval
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)

    async def aclose(self) -> None:
        """Close every publisher (one that fails to close is logged)."""
        for publisher in self.publishers:
            try:
                await publisher.aclose()
            except Exception:
                log.exception("publisher %r failed to close", publisher.name)

    async def _publish(self, events: Sequence[CloudEvent]) -> None:
        for publisher in self.publishers:
            try:
                await publisher.publish(events)
            except Exception as error:
                raise PublishError(publisher.name, error) from error

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[bool]:
        """This relay's exclusive turn: ``False`` if another relay (process) has it."""
        if self._local.locked():
            yield False
            return
        async with self._local:
            if self.database.dialect != "postgresql":
                yield True
                return
            engine = self.database.engine.execution_options(isolation_level="AUTOCOMMIT")
            async with engine.connect() as connection:
                taken = await connection.scalar(
                    sa.select(sa.func.pg_try_advisory_lock(RELAY_LOCK_KEY))
                )
                if not taken:
                    yield False
                    return
                try:
                    yield True
                finally:
                    await connection.scalar(sa.select(sa.func.pg_advisory_unlock(RELAY_LOCK_KEY)))
