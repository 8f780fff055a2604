"""The plugin's own state: references issued, payouts and their batches, imported lines.

A bank has no API to ask "where does this payment stand?": the plugin *is* the PSP's memory,
so its state must survive restarts and be shared by every paymux process. It lives in a few
tables of its own (all named ``bank_transfer_*``, never paymux's tables), in the database
the ``database_url`` setting names: by default an SQLite file, or any SQLAlchemy URL with a
synchronous driver (``postgresql+psycopg://...``, for example paymux's own server with the
tables beside paymux's). Uniqueness is enforced by the database (idempotency keys, payment
ids, references, end-to-end ids), so two processes cannot issue two references for one key.

The store is synchronous (SQLAlchemy Core); the provider calls it through
``asyncio.to_thread`` with a timeout. On SQLite every transaction starts with
``BEGIN IMMEDIATE``, so concurrent writers queue (up to ``busy_timeout``) instead of failing
on a lock upgrade.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import StaticPool

_T = TypeVar("_T")

metadata = MetaData()

references = Table(
    "bank_transfer_reference",
    metadata,
    Column("reference", String(35), primary_key=True),
    Column("idempotency_key", String(255), nullable=False, unique=True),
    Column("payment_id", String(128), nullable=False, unique=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("return_url", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),  # pending | succeeded | failed
    Column("failure_code", String(64)),
    Column("settled_at", DateTime(timezone=True)),
)

payouts = Table(
    "bank_transfer_payout",
    metadata,
    Column("end_to_end_id", String(35), primary_key=True),
    Column("idempotency_key", String(255), nullable=False, unique=True),
    Column("payout_id", String(128), nullable=False, unique=True),
    Column("seller_id", String(128), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("iban", String(34), nullable=False),
    Column("bic", String(11)),
    Column("holder_name", String(140), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("batch_id", String(64), index=True),  # NULL: in the open batch
    Column("status", String(16), nullable=False),  # pending | paid | failed
    Column("failure_code", String(64)),
    Column("settled_at", DateTime(timezone=True)),
)

batches = Table(
    "bank_transfer_batch",
    metadata,
    Column("batch_id", String(64), primary_key=True),
    Column("message_id", String(35), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("transfer_count", Integer, nullable=False),
    Column("control_sum_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("document", LargeBinary, nullable=False),
)

statement_lines = Table(
    "bank_transfer_statement_line",
    metadata,
    Column("line_id", String(64), primary_key=True),
    Column("outcome", String(32), nullable=False),
    Column("key", String(35)),
    Column("direction", String(4)),
    Column("amount_minor", BigInteger),
    Column("currency", String(3)),
    Column("booked_on", String(10)),
    Column("texts", Text, nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
)


def utc(value: datetime | None) -> datetime | None:
    """A datetime read back from the store, made timezone-aware (SQLite drops the zone)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class Store:
    """The plugin's tables in one database; :meth:`run` does one unit of work in a transaction."""

    def __init__(self, url: str, *, busy_timeout: float = 5.0) -> None:
        self.engine = _engine(url, busy_timeout)
        self._ready = False
        # SQLite writes one transaction at a time anyway; queueing this process's threads
        # here keeps them off one shared in-memory connection at the same time.
        self._lock = threading.Lock() if self.engine.dialect.name == "sqlite" else None

    def run(self, work: Callable[[Connection], _T]) -> _T:
        """Run ``work`` in one transaction (created tables first, once per process)."""
        if self._lock is None:
            return self._run(work)
        with self._lock:
            return self._run(work)

    def _run(self, work: Callable[[Connection], _T]) -> _T:
        if not self._ready:
            metadata.create_all(self.engine, checkfirst=True)
            self._ready = True
        with self.engine.begin() as connection:
            return work(connection)

    def dispose(self) -> None:
        """Close the connection pool."""
        self.engine.dispose()


def _engine(url: str, busy_timeout: float) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    options: dict[str, Any] = {
        "connect_args": {"check_same_thread": False, "timeout": busy_timeout}
    }
    if parsed.database in (None, "", ":memory:"):
        options["poolclass"] = StaticPool  # one shared in-memory database (tests)
    engine = create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we say BEGIN ourselves

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
