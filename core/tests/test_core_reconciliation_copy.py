"""Reading paymux's records for reconciliation with ``COPY`` on PostgreSQL: the rows read
straight from libpq are the rows the session reads, whatever the text holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import psycopg
import pytest
from sqlalchemy.engine import make_url

from paymux.core.reconciliation.matching import Records
from paymux.core.storage import reconciliation_repository as repository
from paymux.core.storage.database import Database
from paymux.core.storage.unit_of_work import PaymentStore

pytestmark = pytest.mark.postgres

AWKWARD = ["a,b", 'say "hi"', "two\nlines", "", "back\\slash", "ünï", "\r", '"', None]


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _seed(url: str, count: int, now: datetime) -> None:
    with psycopg.connect(_dsn(url), autocommit=True) as connection:
        for i in range(count):
            payment = f"pe_copy{i:05d}"
            odd = AWKWARD[i % len(AWKWARD)]
            connection.execute(
                "INSERT INTO payment_event (id, client_id, buyer_id, currency, country,"
                " payment_method, return_url, provider, created_at)"
                " VALUES (%s, 'dev', 'b', 'EUR', 'NL', 'card', 'https://shop', 'adyen', %s)",
                (payment, now),
            )
            connection.execute(
                "INSERT INTO reconciliation_payment (payment_event_id, client_id, provider,"
                " currency, amount_minor, status, succeeded_at, token, psp_reference,"
                " psp_payment_id, has_chargeback, created_at)"
                " VALUES (%s, 'dev', 'adyen', %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    payment,
                    "JPY" if i % 3 else "EUR",
                    -(2**62) if i == 7 else i * 101,
                    "succeeded" if i % 2 else "pending",
                    None if i % 5 == 0 else now - timedelta(microseconds=i * 1234567),
                    odd,
                    None if odd is None else f"ref {odd} {i}",
                    f"psp{i}" if i % 4 else odd,
                    i % 6 == 0,
                    now - timedelta(seconds=i),
                ),
            )


async def _through_the_session(url: str, since: datetime) -> Records:
    database = Database(url)
    try:
        store = PaymentStore(database)
        async with store.begin() as uow:
            return await uow.reconciliation.read_records("dev", "adyen", since)
    finally:
        await database.dispose()


async def test_copy_reads_what_the_session_reads(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime(2026, 11, 24, 18, 0, 0, 123456, tzinfo=UTC)
    _seed(postgres_url, 300, now)
    monkeypatch.setattr(repository, "_CHUNK_BYTES", 1000)  # many pieces, cut between rows
    since = now - timedelta(days=1)
    copied, snapshot = repository.read_records_postgresql(postgres_url, "dev", "adyen", since)
    expected = await _through_the_session(postgres_url, since)
    assert copied.payments.height == 300
    ordered = copied.payments.sort("payment_id")
    assert ordered.equals(expected.payments.sort("payment_id"))
    assert set(ordered["token"].to_list()) == set(AWKWARD)  # every odd text, exactly
    assert ordered.filter(pl.col("payment_id") == "pe_copy00007")["amount_minor"][0] == -(2**62)
    assert copied.refunds.height == copied.payouts.height == 0
    assert snapshot is not None  # no snapshot was stored: what was read can become one
    assert snapshot.payments == 300


def test_a_failing_copy_raises_and_closes_its_connection(postgres_url: str) -> None:
    with psycopg.connect(_dsn(postgres_url)) as connection:
        with pytest.raises(psycopg.errors.UndefinedTable):
            list(repository._copy_out(connection, "COPY (SELECT * FROM nowhere) TO STDOUT"))
        assert connection.closed
