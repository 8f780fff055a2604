"""Reconciliation storage: what paymux knows of a provider, read in bulk as frames; runs,
their lines (one Parquet document per run) and discrepancies, appended.

Reading a million payments row by row would dominate a run, so on PostgreSQL the records
are streamed with ``COPY ... TO STDOUT`` on a connection of their own (in a thread, beside
the file's hashing) and read by polars, the payments from a stored snapshot and the rows
written since it (:mod:`paymux.core.storage.reconciliation_snapshot`); SQLite goes
through the session.
"""

from __future__ import annotations

import io
import json
import logging
import selectors
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

import polars as pl
import psycopg
import sqlalchemy as sa
from psycopg import pq
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from paymux.core.identifiers import new_ids
from paymux.core.reconciliation.details import details_text
from paymux.core.reconciliation.frames import concat_compact
from paymux.core.reconciliation.fx import (
    CHARGEBACK_POSTED_SCHEMA,
    CHARGEBACK_SCHEMA,
    CHARGEBACK_TRANSACTIONS,
    CONVERTED_SCHEMA,
    REFUND_POSTED_SCHEMA,
)
from paymux.core.reconciliation.matching import (
    PAYMENT_INDEX_SCHEMA,
    PAYOUT_INDEX_SCHEMA,
    REFUND_INDEX_SCHEMA,
    SEEN_SCHEMA,
    Records,
)
from paymux.core.storage.reconciliation_snapshot import (
    ALL_SQL,
    DELTA_SQL,
    SNAPSHOT_SCHEMA,
    SnapshotToStore,
    current_snapshot,
    merge,
    read_stored,
    to_store,
    worth_refreshing,
)
from paymux.core.storage.tables import (
    ChargebackPartRow,
    ChargebackRow,
    LedgerAccountRow,
    LedgerPostingRow,
    LedgerTransactionRow,
    ReconciliationDiscrepancyRow,
    ReconciliationPaymentRow,
    ReconciliationRunLinesRow,
    ReconciliationRunRow,
    RefundPartRow,
    table_of,
)

log = logging.getLogger(__name__)

_run = table_of(ReconciliationRunRow)
_lines = table_of(ReconciliationRunLinesRow)
_disc = table_of(ReconciliationDiscrepancyRow)

_PAYMENTS_SQL = """
SELECT payment_event_id AS payment_id, currency, amount_minor, status, succeeded_at,
       token, psp_reference, psp_payment_id, has_chargeback
FROM reconciliation_payment
WHERE client_id = {client} AND provider = {provider} AND created_at >= {since}
"""
"""One scan of the narrow copy the payment writes keep (``reconciliation_payment``; on
PostgreSQL its stored snapshot and the rows written since, see :func:`_payments`)."""

# A converted payout is paid (and settled by the provider) in its payout currency.

_REFUNDS_SQL = """
SELECT f.id AS refund_id, f.payment_event_id AS payment_id, f.currency, f.amount_minor,
       f.status, f.psp_reference,
       CASE WHEN f.status = 'succeeded' THEN f.updated_at END AS succeeded_at
FROM refund f JOIN reconciliation_payment p ON p.payment_event_id = f.payment_event_id
WHERE f.client_id = {client} AND p.provider = {provider} AND f.created_at >= {since}
"""

_PAYOUTS_SQL = """
SELECT id AS payout_id, COALESCE(payout_currency, currency) AS currency,
       COALESCE(payout_amount_minor, amount_minor) AS amount_minor, status, psp_reference
FROM payout WHERE client_id = {client} AND provider = {provider} AND created_at >= {since}
"""


_DISCREPANCY_COLUMNS = [column.name for column in _disc.columns]
_STAGING = "reconciliation_discrepancy_staging"
"""A temporary table per connection, emptied at every commit: discrepancies are copied
into it, then inserted from it in one statement (PostgreSQL)."""
_CREATE_STAGING = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGING} "
    "(LIKE reconciliation_discrepancy) ON COMMIT DELETE ROWS"
)
_EMPTY_STAGING = f"TRUNCATE {_STAGING}"
_COPY_STAGING = f"COPY {_STAGING} ({', '.join(_DISCREPANCY_COLUMNS)}) FROM STDIN (FORMAT csv)"
_INSERT_STAGED = (
    f"INSERT INTO reconciliation_discrepancy ({', '.join(_DISCREPANCY_COLUMNS)}) "  # noqa: S608 (the table's own column names)
    f"SELECT {', '.join(_DISCREPANCY_COLUMNS)} FROM {_STAGING} "
    "ON CONFLICT (client_id, provider, key) WHERE resolved_at IS NULL DO NOTHING RETURNING id"
)


@dataclass(frozen=True, slots=True)
class StoredRun:
    """A stored reconciliation run."""

    id: str
    client_id: str
    provider: str
    format: str
    source: str
    file_name: str
    file_sha256: str
    period_start: date | None
    period_end: date | None
    lines_total: int
    lines_matched: int
    summary: dict[str, Any]
    new_discrepancies: int
    resolved_discrepancies: int
    created_at: datetime
    finished_at: datetime


@dataclass(frozen=True, slots=True)
class StoredDiscrepancy:
    """A stored discrepancy."""

    id: str
    provider: str
    kind: str
    psp_reference: str
    subject_id: str | None
    line_type: str | None
    currency: str | None
    expected_currency: str | None
    expected_minor: int | None
    actual_minor: int | None
    line_number: int | None
    details: str
    opened_run_id: str
    opened_at: datetime
    resolved_run_id: str | None
    resolved_at: datetime | None


def read_records_postgresql(
    url: str, client_id: str, provider: str, since: datetime
) -> tuple[Records, SnapshotToStore | None]:
    """The provider's records, streamed with ``COPY`` (blocking: call it in a thread), and
    the payments' document to store once the run committed when there was none or many
    payments were written since it (:mod:`~paymux.core.storage.reconciliation_snapshot`).

    The reads share one snapshot (a read-only repeatable-read transaction), so a payment
    that changes meanwhile is not seen in two states; a document built from them is stored
    with that snapshot."""
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as connection:
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        connection.read_only = True
        connection.execute("SET TIME ZONE 'UTC'")
        snapshot = current_snapshot(connection)  # the transaction's: every read below
        params = {
            "client": _literal(connection, client_id),
            "provider": _literal(connection, provider),
            "since": _literal(connection, since.isoformat()) + "::timestamptz",
        }
        payments, pending = _payments(connection, client_id, provider, since, snapshot, params)
        records = Records(
            payments,
            _copy(connection, _REFUNDS_SQL.format(**params), REFUND_INDEX_SCHEMA),
            _copy(connection, _PAYOUTS_SQL.format(**params), PAYOUT_INDEX_SCHEMA),
        )
        return records, pending


def _payments(
    connection: psycopg.Connection[Any],
    client_id: str,
    provider: str,
    since: datetime,
    snapshot: str,
    params: dict[str, str],
) -> tuple[pl.DataFrame, SnapshotToStore | None]:
    """The payments since ``since`` (:data:`PAYMENT_INDEX_SCHEMA`): the stored document and
    the rows written since it, else every row; and the document to store, if one is due."""
    stored = read_stored(connection, client_id, provider, since)
    if stored is None:
        payments = _copy(connection, ALL_SQL.format(**params), SNAPSHOT_SCHEMA)
        refresh = True
    else:
        delta_sql = DELTA_SQL.format(**params, snapshot=_literal(connection, stored.snapshot))
        delta = _copy(connection, delta_sql, SNAPSHOT_SCHEMA)
        stored_payments = stored.payments
        payments = merge(stored.data, delta, since)
        del stored  # its document is let go before the refunds are read
        refresh = worth_refreshing(stored_payments, delta.height)
        log.info(
            "reconciliation records of %s/%s: a snapshot of %d payments and %d written since%s",
            client_id,
            provider,
            stored_payments,
            delta.height,
            " (to be rebuilt)" if refresh else "",
        )
    pending = to_store(payments, snapshot, since) if refresh else None
    return payments.drop("created_at"), pending


def _literal(connection: psycopg.Connection[Any], value: str) -> str:
    return psycopg.sql.Literal(value).as_string(connection)


_CHUNK_BYTES = 8 << 20
"""Rows are turned into frames every 8 MiB of ``COPY`` output, so the text never piles up."""


def _copy(
    connection: psycopg.Connection[Any], query: str, schema: dict[str, pl.DataType]
) -> pl.DataFrame:
    text_schema = {name: pl.String() for name in schema}
    frames = [
        pl.read_csv(
            io.BytesIO(chunk), has_header=False, new_columns=list(schema), schema=text_schema
        ).with_columns(_cast_copied(name, dtype) for name, dtype in schema.items())
        for chunk in _copy_out(connection, f"COPY ({query}) TO STDOUT WITH (FORMAT csv)")
    ]
    if not frames:
        return pl.DataFrame(schema=schema)
    return concat_compact(frames)  # one chunk: matched by row


def _copy_out(connection: psycopg.Connection[Any], statement: str) -> Iterator[bytes]:
    """The output of ``COPY ... TO STDOUT`` in the connection's open transaction, in pieces
    of about :data:`_CHUNK_BYTES` (whole rows).

    libpq hands over ``COPY`` one row at a time; psycopg's ``Copy.read`` spends about
    0.8 us of Python per row on that (0.8 s for a million payments), so this reads the
    rows from libpq directly in one loop (about a third of that). On any error the
    connection is closed (it may be left in the middle of the ``COPY``)."""
    pgconn = connection.pgconn
    readable = selectors.DefaultSelector()  # not select(): sockets may be numbered > 1023
    readable.register(pgconn.socket, selectors.EVENT_READ)
    try:
        pgconn.send_query(statement.encode())
        _wait_result(pgconn, readable)
        result = pgconn.get_result()
        if result is None or result.status != pq.ExecStatus.COPY_OUT:
            raise _error(result, connection)
        read, consume = pgconn.get_copy_data, pgconn.consume_input
        buffer = bytearray()
        while True:
            size, row = read(1)  # 1: do not block; 0 rows ready until more input arrives
            if size > 0:
                buffer += row
                if len(buffer) >= _CHUNK_BYTES:
                    yield bytes(buffer)
                    buffer.clear()
            elif size == 0:
                readable.select()
                consume()
            else:  # -1: the COPY is done
                break
        if buffer:
            yield bytes(buffer)
        _wait_result(pgconn, readable)
        while (result := pgconn.get_result()) is not None:
            if result.status != pq.ExecStatus.COMMAND_OK:
                raise _error(result, connection)
    except BaseException:
        connection.close()
        raise
    finally:
        readable.close()


def _wait_result(pgconn: pq.abc.PGconn, readable: selectors.BaseSelector) -> None:
    """Read input until a result is ready (without blocking in libpq)."""
    while True:
        pgconn.consume_input()
        if not pgconn.is_busy():
            return
        readable.select()


def _error(result: pq.abc.PGresult | None, connection: psycopg.Connection[Any]) -> Exception:
    if result is None:
        return psycopg.OperationalError("COPY: the server sent no result")
    return psycopg.errors.error_from_result(result, encoding=connection.info.encoding)


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    return str(value)


def _cast_copied(name: str, dtype: pl.DataType) -> pl.Expr:
    """:func:`_cast` for PostgreSQL's own text (``COPY`` in UTC: ``2026-11-24
    18:00:00.123456+00``), read in one pass."""
    if isinstance(dtype, pl.Datetime):
        return (
            pl.col(name)
            .str.to_datetime(format="%Y-%m-%d %H:%M:%S%.f%#z", time_unit="us")
            .dt.convert_time_zone("UTC")
            .alias(name)
        )
    if dtype == pl.String():
        return pl.col(name)
    return _cast(name, dtype)


def _cast(name: str, dtype: pl.DataType) -> pl.Expr:
    column = pl.col(name)
    if dtype == pl.Boolean():
        return column.is_in(["t", "1", "true"]).alias(name)
    if isinstance(dtype, pl.Datetime):
        return (
            column.str.replace(r"(\+00(:00)?|Z)$", "")
            .str.replace("T", " ")
            .str.to_datetime(format="%Y-%m-%d %H:%M:%S%.f", time_zone="UTC", time_unit="us")
            .alias(name)
        )
    return column.cast(dtype).alias(name)


class ReconciliationRepository:
    """Runs and discrepancies within one open transaction (and the SQLite record reads)."""

    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._session = session
        self._dialect = dialect

    async def _execute(self, statement: Any, parameters: Any = None) -> sa.CursorResult[Any]:
        return cast(sa.CursorResult[Any], await self._session.execute(statement, parameters))

    async def read_records(self, client_id: str, provider: str, since: datetime) -> Records:
        """The provider's records through the session (the path for SQLite)."""
        params = {"client": ":client", "provider": ":provider", "since": ":since"}
        values = {"client": client_id, "provider": provider, "since": since}
        frames = []
        for sql, schema in (
            (_PAYMENTS_SQL, PAYMENT_INDEX_SCHEMA),
            (_REFUNDS_SQL, REFUND_INDEX_SCHEMA),
            (_PAYOUTS_SQL, PAYOUT_INDEX_SCHEMA),
        ):
            statement = sa.text(sql.format(**params))
            if "since" in sql:
                statement = statement.bindparams(
                    sa.bindparam("since", type_=_run.c.created_at.type)
                )
            rows = (await self._execute(statement, values)).all()
            frame = pl.DataFrame(
                [tuple(_text(value) for value in row) for row in rows],
                schema={name: pl.String() for name in schema},
                orient="row",
            )
            frames.append(frame.with_columns(_cast(n, t) for n, t in schema.items()))
        return Records(*frames)

    async def _earlier_lines(
        self, client_id: str, provider: str, since: date
    ) -> list[tuple[str, bytes]]:
        rows = await self._execute(
            sa.select(_lines.c.file_sha256, _lines.c.lines).where(
                _lines.c.client_id == client_id,
                _lines.c.provider == provider,
                sa.or_(_lines.c.period_end.is_(None), _lines.c.period_end >= since),
            )
        )
        return [(row.file_sha256, row.lines) for row in rows]

    async def seen_lines(
        self,
        client_id: str,
        provider: str,
        *,
        since: date,
        file_sha256: str,
        line_references: pl.Series,
    ) -> pl.DataFrame:
        """The lines of earlier runs (whose period ends on or after ``since``) with one of
        ``line_references`` (:data:`~paymux.core.reconciliation.matching.SEEN_SCHEMA`),
        and, rarely, a line whose id shares a hash with one of them (matching joins the
        ids themselves).

        One run's document at a time, filtered as it is read: memory stays bounded by the
        largest file, not by the history."""
        documents = await self._earlier_lines(client_id, provider, since)
        if not documents:
            return pl.DataFrame(schema=SEEN_SCHEMA)
        # by 8-byte hashes (a set of a million strings takes ten times as long): a line of
        # another id with the same hash may pass, and matching compares the ids themselves
        wanted = line_references.drop_nulls().hash().unique().implode()
        frames = []
        for sha256, document in documents:
            frame = pl.read_parquet(io.BytesIO(document), columns=["type", "line_reference"])
            frames.append(
                frame.filter(pl.col("line_reference").hash().is_in(wanted)).with_columns(
                    same_file=pl.lit(sha256 == file_sha256)
                )
            )
        if not frames:
            return pl.DataFrame(schema=SEEN_SCHEMA)
        return pl.concat(frames).select(list(SEEN_SCHEMA))

    async def converted_payments(
        self, client_id: str, provider: str, since: datetime
    ) -> pl.DataFrame:
        """The provider's payments since ``since`` that convert: ``payment_id``,
        ``settlement_currency``, ``settlement_minor`` (a partial index keeps it small)."""
        table = table_of(ReconciliationPaymentRow)
        rows = (
            await self._execute(
                sa.select(
                    table.c.payment_event_id,
                    table.c.settlement_currency,
                    table.c.settlement_minor,
                ).where(
                    table.c.client_id == client_id,
                    table.c.provider == provider,
                    table.c.created_at >= since,
                    table.c.settlement_currency.is_not(None),
                )
            )
        ).all()
        return pl.DataFrame([tuple(row) for row in rows], schema=CONVERTED_SCHEMA, orient="row")

    async def refunds_posted(
        self, client_id: str, provider: str, refund_ids: Sequence[str]
    ) -> pl.DataFrame:
        """What the ledger transactions of ``refund_ids`` (``refund_succeeded:<refund
        id>:<order id>``, one per order the refund took from) posted to ``provider``'s
        clearing, per refund and currency
        (:data:`~paymux.core.reconciliation.fx.REFUND_POSTED_SCHEMA`, debit positive). Read
        by exact references (the refund's parts, then the unique transaction references)."""
        part = table_of(RefundPartRow)
        ordered = sorted(set(refund_ids))
        totals: dict[tuple[str, str], int] = {}
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            parts = (
                await self._execute(
                    sa.select(part.c.refund_id, part.c.payment_order_id).where(
                        part.c.refund_id.in_(chunk)
                    )
                )
            ).all()
            references = {
                f"refund_succeeded:{refund}:{order}": str(refund)
                for refund, order in (tuple(row) for row in parts)
            }
            for reference, currency, amount in await self._clearing_postings(
                client_id, provider, list(references)
            ):
                key = (references[reference], currency)
                totals[key] = totals.get(key, 0) + amount
        return pl.DataFrame(
            [(refund, currency, minor) for (refund, currency), minor in totals.items()],
            schema=REFUND_POSTED_SCHEMA,
            orient="row",
        )

    async def converted_chargebacks(
        self, client_id: str, provider: str, payment_ids: Sequence[str]
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The chargebacks of ``payment_ids`` at ``provider``
        (:data:`~paymux.core.reconciliation.fx.CHARGEBACK_SCHEMA`) and what their ledger
        transactions (``chargeback_opened|chargeback_won:<chargeback id>:<order id>``, one per
        order the chargeback took from, and ``...:unallocated``) posted to the provider's
        clearing, per chargeback, settlement line type and currency
        (:data:`~paymux.core.reconciliation.fx.CHARGEBACK_POSTED_SCHEMA`, debit positive).
        Read by exact references (the chargebacks' parts, then the transaction references)."""
        chargeback = table_of(ChargebackRow)
        part = table_of(ChargebackPartRow)
        ordered = sorted(set(payment_ids))
        found: list[tuple[str, str, str, str, int]] = []
        totals: dict[tuple[str, str, str], int] = {}
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            rows = (
                await self._execute(
                    sa.select(
                        chargeback.c.payment_event_id,
                        chargeback.c.id,
                        chargeback.c.dispute_id,
                        chargeback.c.currency,
                        chargeback.c.amount_minor,
                    ).where(
                        chargeback.c.payment_event_id.in_(chunk),
                        chargeback.c.client_id == client_id,
                        chargeback.c.provider == provider,
                    )
                )
            ).all()
            chargebacks = [
                (str(p), str(c), str(d), str(currency), int(amount))
                for p, c, d, currency, amount in (tuple(row) for row in rows)
            ]
            if not chargebacks:
                continue
            found.extend(chargebacks)
            ids = [chargeback[1] for chargeback in chargebacks]
            parts = (
                await self._execute(
                    sa.select(part.c.chargeback_id, part.c.payment_order_id).where(
                        part.c.chargeback_id.in_(ids)
                    )
                )
            ).all()
            targets = [(str(c), str(o)) for c, o in (tuple(row) for row in parts)]
            targets += [(c, "unallocated") for c in ids]
            references = {
                f"{kind}:{chargeback_id}:{target}": (chargeback_id, line_type)
                for chargeback_id, target in targets
                for line_type, kind in CHARGEBACK_TRANSACTIONS.items()
            }
            for reference, currency, amount in await self._clearing_postings(
                client_id, provider, list(references)
            ):
                key = (*references[reference], currency)
                totals[key] = totals.get(key, 0) + amount
        return (
            pl.DataFrame(found, schema=CHARGEBACK_SCHEMA, orient="row"),
            pl.DataFrame(
                [(*key, minor) for key, minor in totals.items()],
                schema=CHARGEBACK_POSTED_SCHEMA,
                orient="row",
            ),
        )

    async def _clearing_postings(
        self, client_id: str, provider: str, references: Sequence[str]
    ) -> list[tuple[str, str, int]]:
        """``(reference, currency, amount)`` of each posting to ``provider``'s clearing of the
        ledger transactions with one of ``references`` (read 500 references at a time)."""
        transaction = table_of(LedgerTransactionRow)
        posting = table_of(LedgerPostingRow)
        account = table_of(LedgerAccountRow)
        postings: list[tuple[str, str, int]] = []
        for start in range(0, len(references), 500):
            rows = (
                await self._execute(
                    sa.select(transaction.c.reference, posting.c.currency, posting.c.amount_minor)
                    .join(posting, posting.c.transaction_id == transaction.c.id)
                    .join(account, account.c.id == posting.c.account_id)
                    .where(
                        transaction.c.reference.in_(list(references[start : start + 500])),
                        account.c.client_id == client_id,
                        account.c.owner_kind == "provider",
                        account.c.owner_id == provider,
                        account.c.purpose == "psp_clearing",
                    )
                )
            ).all()
            postings.extend((str(r), str(c), int(a)) for r, c, a in (tuple(row) for row in rows))
        return postings

    async def settled_earlier(
        self,
        client_id: str,
        provider: str,
        *,
        since: date,
        payment_ids: pl.Series,
        refund_ids: pl.Series,
    ) -> tuple[pl.Series, pl.Series]:
        """Those of ``payment_ids`` that a capture line of an earlier run settled, and those
        of ``refund_ids`` that a refund line of one did (each run's lines read once)."""
        payments: list[pl.Series] = [pl.Series("payment_id", [], dtype=pl.String)]
        refunds: list[pl.Series] = [pl.Series("refund_id", [], dtype=pl.String)]
        if payment_ids.len() == 0 and refund_ids.len() == 0:
            return payments[0], refunds[0]
        documents = await self._earlier_lines(client_id, provider, since)
        payments_wanted = payment_ids.unique().implode()
        refunds_wanted = refund_ids.unique().implode()
        for _sha256, document in documents:
            frame = pl.read_parquet(
                io.BytesIO(document), columns=["type", "payment_id", "refund_id"]
            )
            payments.append(
                frame.filter(
                    (pl.col("type") == "capture") & pl.col("payment_id").is_in(payments_wanted)
                ).get_column("payment_id")
            )
            refunds.append(
                frame.filter(
                    (pl.col("type") == "refund") & pl.col("refund_id").is_in(refunds_wanted)
                ).get_column("refund_id")
            )
        return pl.concat(payments, rechunk=False), pl.concat(refunds, rechunk=False)

    async def open_discrepancies(self, client_id: str, provider: str) -> pl.DataFrame:
        """``id``, ``kind``, ``line_type``, ``subject_id``, ``psp_reference`` of the open ones."""
        rows = (
            await self._execute(
                sa.select(
                    _disc.c.id,
                    _disc.c.kind,
                    _disc.c.key,
                    _disc.c.line_type,
                    _disc.c.subject_id,
                    _disc.c.psp_reference,
                ).where(
                    _disc.c.client_id == client_id,
                    _disc.c.provider == provider,
                    _disc.c.resolved_at.is_(None),
                )
            )
        ).all()
        schema = {
            name: pl.String()
            for name in ("id", "kind", "key", "line_type", "subject_id", "psp_reference")
        }
        return pl.DataFrame([tuple(row) for row in rows], schema=schema, orient="row")

    async def insert_run(self, run: StoredRun, lines: bytes) -> None:
        """Append a run and its lines (Parquet)."""
        await self._execute(
            sa.insert(_run).values(
                id=run.id,
                client_id=run.client_id,
                provider=run.provider,
                format=run.format,
                source=run.source,
                file_name=run.file_name[:255],
                file_sha256=run.file_sha256,
                period_start=run.period_start,
                period_end=run.period_end,
                lines_total=run.lines_total,
                lines_matched=run.lines_matched,
                summary=json.dumps(run.summary, sort_keys=True),
                new_discrepancies=run.new_discrepancies,
                resolved_discrepancies=run.resolved_discrepancies,
                created_at=run.created_at,
                finished_at=run.finished_at,
            )
        )
        await self._execute(
            sa.insert(_lines).values(
                run_id=run.id,
                client_id=run.client_id,
                provider=run.provider,
                file_sha256=run.file_sha256,
                period_end=run.period_end,
                lines=lines,
            )
        )

    async def insert_discrepancies(
        self,
        client_id: str,
        provider: str,
        run_id: str,
        found: pl.DataFrame,
        *,
        now: datetime,
    ) -> list[str]:
        """Open the discrepancies of ``found`` whose key is not open yet; their ids.

        On PostgreSQL the rows are copied into a temporary table and inserted from it in
        one statement (a million take seconds, not minutes)."""
        if found.height == 0:
            return []
        rows = _discrepancy_rows(found, client_id, provider, run_id, now=now)
        if self._dialect == "postgresql":
            return await self._insert_copied(rows)
        insert = sqlite.insert(_disc).on_conflict_do_nothing(
            index_elements=["client_id", "provider", "key"],
            index_where=_disc.c.resolved_at.is_(None),
        )
        statement = insert.returning(_disc.c.id)
        opened: list[str] = []
        for batch in rows.iter_slices(1000):
            result = await self._execute(statement, batch.to_dicts())
            opened.extend(str(value) for value in result.scalars().all())
        return opened

    async def _insert_copied(self, rows: pl.DataFrame) -> list[str]:
        connection = await (await self._session.connection()).get_raw_connection()
        driver = cast(psycopg.AsyncConnection[Any], connection.driver_connection)
        async with driver.cursor() as cursor:
            # in the session's transaction: copied and inserted rows commit with the run
            await cursor.execute(_CREATE_STAGING)
            await cursor.execute(_EMPTY_STAGING)
            async with cursor.copy(_COPY_STAGING) as copy:
                for piece in rows.select(_DISCREPANCY_COLUMNS).iter_slices(50_000):
                    text = io.BytesIO()
                    piece.write_csv(
                        text, include_header=False, datetime_format="%Y-%m-%dT%H:%M:%S%.f%:z"
                    )
                    await copy.write(text.getvalue())
            await cursor.execute(_INSERT_STAGED)
            return [str(row[0]) for row in await cursor.fetchall()]

    async def opened_by_kind(self, run_id: str) -> dict[str, int]:
        """How many discrepancies ``run_id`` opened, per kind (sorted by kind)."""
        rows = await self._execute(
            sa.select(_disc.c.kind, sa.func.count())
            .where(_disc.c.opened_run_id == run_id)
            .group_by(_disc.c.kind)
            .order_by(_disc.c.kind)
        )
        counted = cast(list[tuple[str, int]], rows.all())
        return {str(kind): int(count) for kind, count in counted}

    async def correct_counts(
        self, run_id: str, *, new: int, resolved: int, summary: dict[str, Any]
    ) -> None:
        """Correct a run's counts of new and resolved discrepancies and its summary (a
        concurrent run opened or resolved some of them first)."""
        await self._execute(
            sa.update(_run)
            .where(_run.c.id == run_id)
            .values(
                new_discrepancies=new,
                resolved_discrepancies=resolved,
                summary=json.dumps(summary, sort_keys=True),
            )
        )

    async def resolve(self, ids: Sequence[str], run_id: str, *, now: datetime) -> int:
        """Close the open discrepancies ``ids`` as resolved by ``run_id``; how many this
        closed (a concurrent run may have closed some first)."""
        closed = 0
        for start in range(0, len(ids), 1000):
            result = await self._execute(
                sa.update(_disc)
                .where(_disc.c.id.in_(ids[start : start + 1000]), _disc.c.resolved_at.is_(None))
                .values(resolved_run_id=run_id, resolved_at=now)
            )
            closed += result.rowcount
        return closed

    async def get_run(self, run_id: str, *, client_id: str | None = None) -> StoredRun | None:
        """A run (of ``client_id`` if given)."""
        query = sa.select(_run).where(_run.c.id == run_id)
        if client_id is not None:
            query = query.where(_run.c.client_id == client_id)
        row = (await self._execute(query)).first()
        return None if row is None else _stored_run(row)

    async def list_runs(self, client_id: str, *, limit: int = 50) -> list[StoredRun]:
        """The client's latest runs, newest first."""
        rows = await self._execute(
            sa.select(_run)
            .where(_run.c.client_id == client_id)
            .order_by(_run.c.created_at.desc(), _run.c.id.desc())
            .limit(limit)
        )
        return [_stored_run(row) for row in rows]

    async def run_discrepancies(
        self, run_id: str, *, after: str | None = None, limit: int = 100
    ) -> list[StoredDiscrepancy]:
        """The discrepancies ``run_id`` opened, in id order, after the id ``after``."""
        query = sa.select(_disc).where(_disc.c.opened_run_id == run_id)
        if after is not None:
            query = query.where(_disc.c.id > after)
        rows = await self._execute(query.order_by(_disc.c.id).limit(limit))
        return [_stored_discrepancy(row) for row in rows]


def _discrepancy_rows(
    found: pl.DataFrame, client_id: str, provider: str, run_id: str, *, now: datetime
) -> pl.DataFrame:
    """The rows of ``reconciliation_discrepancy`` for the findings of ``found``."""
    return found.select(
        id=pl.Series(new_ids("rd", found.height), dtype=pl.String),
        client_id=pl.lit(client_id),
        provider=pl.lit(provider),
        kind="kind",
        key=pl.col("key").str.slice(0, 255),
        psp_reference=pl.col("psp_reference").fill_null("").str.slice(0, 255),
        subject_id="subject_id",
        line_type="line_type",
        currency="currency",
        expected_currency="expected_currency",
        expected_minor="expected_minor",
        actual_minor="actual_minor",
        line_number="line_number",
        details=details_text(),
        opened_run_id=pl.lit(run_id),
        opened_at=pl.lit(now.astimezone(UTC), dtype=pl.Datetime("us", "UTC")),
        resolved_run_id=pl.lit(None, dtype=pl.String),
        resolved_at=pl.lit(None, dtype=pl.Datetime("us", "UTC")),
    )


def _stored_run(row: Any) -> StoredRun:
    return StoredRun(
        id=row.id,
        client_id=row.client_id,
        provider=row.provider,
        format=row.format,
        source=row.source,
        file_name=row.file_name,
        file_sha256=row.file_sha256,
        period_start=row.period_start,
        period_end=row.period_end,
        lines_total=int(row.lines_total),
        lines_matched=int(row.lines_matched),
        summary=json.loads(row.summary),
        new_discrepancies=row.new_discrepancies,
        resolved_discrepancies=row.resolved_discrepancies,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


def _stored_discrepancy(row: Any) -> StoredDiscrepancy:
    return StoredDiscrepancy(
        id=row.id,
        provider=row.provider,
        kind=row.kind,
        psp_reference=row.psp_reference,
        subject_id=row.subject_id,
        line_type=row.line_type,
        currency=row.currency,
        expected_currency=row.expected_currency,
        expected_minor=row.expected_minor,
        actual_minor=row.actual_minor,
        line_number=row.line_number,
        details=row.details,
        opened_run_id=row.opened_run_id,
        opened_at=row.opened_at,
        resolved_run_id=row.resolved_run_id,
        resolved_at=row.resolved_at,
    )
