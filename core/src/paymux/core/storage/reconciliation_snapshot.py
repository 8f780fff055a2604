"""A stored snapshot of a provider's payments for reconciliation (PostgreSQL only).

Reading a million rows of ``reconciliation_payment`` with ``COPY`` costs about a second of
PostgreSQL's time and as much of ours; one Parquet document of the same rows is fetched and
decoded in a tenth of that. ``reconciliation_snapshot`` keeps such a document per client and
provider with the ``pg_snapshot`` ``S`` it was read under, and every row of
``reconciliation_payment`` records the top-level transaction that last wrote it
(``written_xid``: its default on insert, a trigger on update). The rows written since the
document are then exactly those whose writer ``S`` does not see::

    written_xid >= pg_snapshot_xmin(S) AND NOT pg_visible_in_snapshot(written_xid, S)

including a writer that began before ``S`` and committed after it. A run reads the
document and that delta in one transaction and merges them (a payment of the delta
replaces its row of the document). The document is rebuilt from what a run read when there
was none, or when the delta grew large, after the run committed, in its own short
transaction; a newer document is never replaced by an older one.

Payment rows are never deleted (payments are only inserted and updated), and a row's
client and provider are written once, with the row (the delta is read by client and
provider): a deleted row, or one moved to another provider, would stay in the document
until it is rebuilt (delete the ``reconciliation_snapshot`` row).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl
import psycopg
from sqlalchemy.engine import make_url

from paymux.core.reconciliation.frames import concat_compact
from paymux.core.reconciliation.matching import PAYMENT_INDEX_SCHEMA

log = logging.getLogger(__name__)

SNAPSHOT_SCHEMA: dict[str, pl.DataType] = {
    **PAYMENT_INDEX_SCHEMA,
    "created_at": pl.Datetime("us", "UTC"),
}
"""The columns of a stored document: what matching needs, and when each payment was made
(for the lookback)."""

ALL_SQL = """
SELECT payment_event_id AS payment_id, currency, amount_minor, status, succeeded_at,
       token, psp_reference, psp_payment_id, has_chargeback, created_at
FROM reconciliation_payment
WHERE client_id = {client} AND provider = {provider} AND created_at >= {since}
"""
"""Every payment of the lookback (no document yet): what the document is built from."""

DELTA_SQL = """
SELECT payment_event_id AS payment_id, currency, amount_minor, status, succeeded_at,
       token, psp_reference, psp_payment_id, has_chargeback, created_at
FROM reconciliation_payment
WHERE client_id = {client} AND provider = {provider}
  AND written_xid >= pg_snapshot_xmin({snapshot}::pg_snapshot)
  AND NOT pg_visible_in_snapshot(written_xid, {snapshot}::pg_snapshot)
"""
"""The payments written by transactions the document's snapshot does not see (an index
range from the snapshot's ``xmin``)."""

REFRESH_ROWS = 50_000
REFRESH_SHARE = 0.2
"""The document is rebuilt once the delta holds more than ``max(REFRESH_ROWS,
REFRESH_SHARE x the document's payments)`` rows."""


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    """A document read back: its snapshot, how many payments it holds, and the document
    itself (Parquet of :data:`SNAPSHOT_SCHEMA`, decoded by :func:`merge`)."""

    snapshot: str
    payments: int
    data: bytes


@dataclass(frozen=True, slots=True)
class SnapshotToStore:
    """A document to store once the run committed (:func:`store_snapshot_postgresql`)."""

    snapshot: str
    """The ``pg_snapshot`` (text) the payments were read under."""
    covers_since: datetime
    payments: int
    data: bytes
    """Parquet (lz4, no statistics) of :data:`SNAPSHOT_SCHEMA`."""


def current_snapshot(connection: psycopg.Connection[Any]) -> str:
    """The snapshot of ``connection``'s repeatable-read transaction (taken now if this is
    its first statement), as text."""
    row = connection.execute("SELECT pg_current_snapshot()::text").fetchone()
    assert row is not None
    return str(row[0])


def read_stored(
    connection: psycopg.Connection[Any], client_id: str, provider: str, since: datetime
) -> StoredSnapshot | None:
    """The stored document of ``client_id`` and ``provider`` if it covers ``since`` (holds
    every payment created since then) and has today's columns; else None."""
    row = connection.execute(
        "SELECT snapshot, data FROM reconciliation_snapshot"
        " WHERE client_id = %s AND provider = %s AND covers_since <= %s"
        # a document of another cluster (a restored dump, a logical replica promoted):
        # taken under transaction ids this server has not reached, so not used
        " AND pg_snapshot_xmax(snapshot::pg_snapshot)"
        " <= pg_snapshot_xmax(pg_current_snapshot())",
        (client_id, provider, since),
        binary=True,
    ).fetchone()
    if row is None:
        return None
    data = bytes(row[1])
    if pl.read_parquet_schema(io.BytesIO(data)) != SNAPSHOT_SCHEMA:
        log.info(
            "reconciliation snapshot of %s/%s has other columns: not used", client_id, provider
        )
        return None
    payments = pl.scan_parquet(io.BytesIO(data)).select(pl.len()).collect().item()
    return StoredSnapshot(str(row[0]), int(payments), data)


def merge(document: bytes, delta: pl.DataFrame, since: datetime) -> pl.DataFrame:
    """The document's payments with those of ``delta`` replacing (or adding to) them, the
    ones created since ``since``, in one chunk (matching goes by row). The document is
    filtered as it is decoded (no second copy of a million payments)."""
    recent = pl.col("created_at") >= since
    kept = recent
    if delta.height:
        kept = recent & ~pl.col("payment_id").is_in(delta.get_column("payment_id").implode())
    stored = pl.scan_parquet(io.BytesIO(document)).filter(kept).collect()
    return concat_compact([stored, delta.filter(recent)])


def worth_refreshing(stored_payments: int, delta_payments: int) -> bool:
    """Whether a delta this large calls for a new document."""
    return delta_payments > max(REFRESH_ROWS, REFRESH_SHARE * stored_payments)


def to_store(payments: pl.DataFrame, snapshot: str, covers_since: datetime) -> SnapshotToStore:
    """``payments`` (:data:`SNAPSHOT_SCHEMA`, read under ``snapshot``) as a document."""
    buffer = io.BytesIO()
    payments.select(list(SNAPSHOT_SCHEMA)).write_parquet(  # one row group: read in one chunk
        buffer, compression="lz4", statistics=False, row_group_size=max(1, payments.height)
    )
    return SnapshotToStore(snapshot, covers_since, payments.height, buffer.getvalue())


_STORE_SQL = """
INSERT INTO reconciliation_snapshot
    (client_id, provider, snapshot, covers_since, payments, built_at, data)
VALUES (%s, %s, %s, %s, %s, %s, %b)
ON CONFLICT (client_id, provider) DO UPDATE SET
    snapshot = EXCLUDED.snapshot, covers_since = EXCLUDED.covers_since,
    payments = EXCLUDED.payments, built_at = EXCLUDED.built_at, data = EXCLUDED.data
WHERE pg_snapshot_xmax(reconciliation_snapshot.snapshot::pg_snapshot)
    < pg_snapshot_xmax(EXCLUDED.snapshot::pg_snapshot)
   OR pg_snapshot_xmax(reconciliation_snapshot.snapshot::pg_snapshot)
    > pg_snapshot_xmax(pg_current_snapshot())
RETURNING 1
"""
"""Snapshots' ``xmax`` (the next transaction id when each was taken) only grow: a document
read later replaces the stored one, one read earlier (a slow run) does not. A stored
document taken under ids this server has not reached comes from another cluster (a
restored dump): any document replaces it."""


def store_snapshot_postgresql(
    url: str, client_id: str, provider: str, pending: SnapshotToStore
) -> bool:
    """Store ``pending`` in one short transaction of its own unless the stored document is
    as new; whether it was stored (blocking: call it in a thread)."""
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    # commits on leaving; never waits long for a lock (the run has committed already)
    with psycopg.connect(conninfo, options="-c lock_timeout=5s") as connection:
        row = connection.execute(
            _STORE_SQL,
            (
                client_id,
                provider,
                pending.snapshot,
                pending.covers_since,
                pending.payments,
                datetime.now(UTC),
                pending.data,
            ),
        ).fetchone()
    stored = row is not None
    log.info(
        "reconciliation snapshot of %s/%s (%d payments, %.1f MB): %s",
        client_id,
        provider,
        pending.payments,
        len(pending.data) / 1e6,
        "stored" if stored else "a newer one is stored already",
    )
    return stored
