"""The stored snapshot of a provider's payments (PostgreSQL): a run reads it and the rows
written since, and sees exactly what it would have read from the rows, including a payment
written by a transaction that was still open when the snapshot was taken."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
import pytest
from sqlalchemy.engine import make_url

from paymux.core.reconciliation.findings import findings
from paymux.core.reconciliation.lines import LINE_SCHEMA
from paymux.core.reconciliation.matching import MatchResult, Records, match
from paymux.core.services import reconciliation as service_module
from paymux.core.services.reconciliation import ReconciliationService
from paymux.core.storage import reconciliation_snapshot as snapshots
from paymux.core.storage.database import Database
from paymux.core.storage.reconciliation_repository import read_records_postgresql
from paymux.core.storage.reconciliation_snapshot import (
    SnapshotToStore,
    store_snapshot_postgresql,
    worth_refreshing,
)
from paymux.core.storage.unit_of_work import PaymentStore

pytestmark = pytest.mark.postgres

NOW = datetime.now(UTC).replace(microsecond=123456)
SINCE = NOW - timedelta(days=90)


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _insert(
    connection: psycopg.Connection[Any],
    payment_id: str,
    *,
    client: str = "dev",
    provider: str = "adyen",
    created_at: datetime = NOW,
    amount: int = 1000,
    status: str = "succeeded",
) -> None:
    number = int(payment_id[-4:]) if payment_id[-4:].isdigit() else 0
    connection.execute(
        "INSERT INTO payment_event (id, client_id, buyer_id, currency, country,"
        " payment_method, return_url, provider, created_at)"
        " VALUES (%s, %s, 'b', 'EUR', 'NL', 'card', 'https://shop', %s, %s)",
        (payment_id, client, provider, created_at),
    )
    connection.execute(
        "INSERT INTO reconciliation_payment (payment_event_id, client_id, provider, currency,"
        " amount_minor, status, succeeded_at, token, psp_reference, psp_payment_id,"
        " has_chargeback, created_at) VALUES (%s, %s, %s, 'EUR', %s, %s, %s, %s, %s, %s,"
        " false, %s)",
        (
            payment_id,
            client,
            provider,
            amount,
            status,
            None if status != "succeeded" else created_at + timedelta(minutes=1),
            None if number % 3 == 0 else f"{payment_id}_t",
            None if number % 2 == 0 else f"ref {payment_id}",
            f"psp_{payment_id}",
            created_at,
        ),
    )


def _seed(url: str, count: int, **kwargs: Any) -> list[str]:
    ids = [
        f"pe_{kwargs.get('client', 'dev')}_{kwargs.get('provider', 'adyen')}_{i:04d}"
        for i in range(count)
    ]
    with psycopg.connect(_dsn(url), autocommit=True) as connection:
        for number, payment_id in enumerate(ids):
            _insert(connection, payment_id, amount=100 + number, **kwargs)
    return ids


def _execute(url: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(_dsn(url), autocommit=True) as connection:
        cursor = connection.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


async def _from_the_rows(
    url: str, since: datetime, client: str = "dev", provider: str = "adyen"
) -> pl.DataFrame:
    """The payments as the session reads them, row by row (no snapshot involved)."""
    database = Database(url)
    try:
        async with PaymentStore(database).begin() as uow:
            records = await uow.reconciliation.read_records(client, provider, since)
    finally:
        await database.dispose()
    return records.payments.sort("payment_id")


def _read(
    url: str, since: datetime = SINCE, client: str = "dev", provider: str = "adyen"
) -> tuple[pl.DataFrame, SnapshotToStore | None]:
    records, pending = read_records_postgresql(url, client, provider, since)
    if pending is None:  # from the snapshot: in one chunk (matching goes by row)
        assert records.payments.n_chunks("all") == [1] * len(records.payments.columns)
    return records.payments.sort("payment_id"), pending


def _stored_snapshot(url: str, client: str = "dev", provider: str = "adyen") -> str | None:
    rows = _execute(
        url,
        "SELECT snapshot FROM reconciliation_snapshot WHERE client_id = %s AND provider = %s",
        client,
        provider,
    )
    return None if not rows else str(rows[0][0])


async def test_a_snapshot_and_the_rows_written_since_read_as_the_rows_do(
    postgres_url: str,
) -> None:
    ids = _seed(postgres_url, 60)
    first, pending = _read(postgres_url)
    assert pending is not None  # none stored yet: what was read is to become one
    assert pending.payments == 60
    assert store_snapshot_postgresql(postgres_url, "dev", "adyen", pending)
    assert _stored_snapshot(postgres_url) == pending.snapshot
    assert first.equals(await _from_the_rows(postgres_url, SINCE))

    # written since the snapshot: a new payment, a status change, a chargeback
    with psycopg.connect(_dsn(postgres_url), autocommit=True) as connection:
        _insert(connection, "pe_dev_adyen_new0", amount=777)
    _execute(
        postgres_url,
        "UPDATE reconciliation_payment SET status = 'refunded', amount_minor = 5"
        " WHERE payment_event_id = %s",
        ids[1],
    )
    _execute(
        postgres_url,
        "UPDATE reconciliation_payment SET has_chargeback = true WHERE payment_event_id = %s",
        ids[2],
    )
    second, again = _read(postgres_url)
    assert again is None  # read from the snapshot (a small delta: nothing to rebuild)
    assert second.equals(await _from_the_rows(postgres_url, SINCE))
    assert second.height == 61
    changed = second.filter(pl.col("payment_id").is_in([ids[1], ids[2], "pe_dev_adyen_new0"]))
    assert changed.select("status", "amount_minor", "has_chargeback").rows() == [
        ("refunded", 5, False),
        ("succeeded", 102, True),
        ("succeeded", 777, False),
    ]
    assert second.schema == first.schema


async def test_a_write_still_open_when_the_snapshot_is_taken_is_seen_by_the_next_run(
    postgres_url: str,
) -> None:
    ids = _seed(postgres_url, 20)
    with psycopg.connect(_dsn(postgres_url)) as writer:  # one transaction, open across the read
        writer.execute(
            "UPDATE reconciliation_payment SET has_chargeback = true, status = 'refunded'"
            " WHERE payment_event_id = %s",
            (ids[3],),
        )
        _insert(writer, "pe_dev_adyen_late", amount=4242)
        # a later transaction commits first: the snapshot's xmax passes the open writer's
        with psycopg.connect(_dsn(postgres_url), autocommit=True) as quick:
            _insert(quick, "pe_dev_adyen_quick")
        during, pending = _read(postgres_url)
        assert pending is not None
        assert store_snapshot_postgresql(postgres_url, "dev", "adyen", pending)
        assert "pe_dev_adyen_late" not in during["payment_id"].to_list()  # not committed yet
        assert "pe_dev_adyen_quick" in during["payment_id"].to_list()
        writer.commit()
    after, again = _read(postgres_url)
    assert again is None  # the snapshot was read
    assert after.equals(await _from_the_rows(postgres_url, SINCE))
    assert "pe_dev_adyen_late" in after["payment_id"].to_list()
    assert after.filter(pl.col("payment_id") == ids[3]).select(
        "status", "has_chargeback"
    ).rows() == [("refunded", True)]


async def test_the_lookback_applies_to_the_snapshot_and_a_longer_one_reads_the_rows(
    postgres_url: str,
) -> None:
    with psycopg.connect(_dsn(postgres_url), autocommit=True) as connection:
        for day in range(12):
            _insert(connection, f"pe_dev_adyen_d{day:03d}", created_at=NOW - timedelta(days=day))
    ten_days = NOW - timedelta(days=10, hours=1)
    _, pending = _read(postgres_url, ten_days)
    assert pending is not None
    assert pending.payments == 11
    store_snapshot_postgresql(postgres_url, "dev", "adyen", pending)

    three_days = NOW - timedelta(days=3, hours=1)
    later, again = _read(postgres_url, three_days)
    assert again is None  # from the snapshot, which covers the shorter lookback
    assert later.equals(await _from_the_rows(postgres_url, three_days))
    assert later.height == 4

    longer = NOW - timedelta(days=30)
    wider, rebuilt = _read(postgres_url, longer)
    assert rebuilt is not None  # the snapshot lacks older payments: the rows are read
    assert wider.height == 12
    assert wider.equals(await _from_the_rows(postgres_url, longer))


async def test_a_snapshot_serves_only_its_own_client_and_provider(postgres_url: str) -> None:
    _seed(postgres_url, 5)
    _seed(postgres_url, 3, client="other")
    _seed(postgres_url, 4, provider="stripe")
    _, pending = _read(postgres_url)
    assert pending is not None
    store_snapshot_postgresql(postgres_url, "dev", "adyen", pending)
    for client, provider, count in (("other", "adyen", 3), ("dev", "stripe", 4)):
        read, own = _read(postgres_url, client=client, provider=provider)
        assert own is not None  # no snapshot of its own: read from the rows
        assert read.height == count
        assert read.equals(await _from_the_rows(postgres_url, SINCE, client, provider))


def test_an_older_snapshot_never_replaces_a_newer_one(postgres_url: str) -> None:
    _seed(postgres_url, 5)
    _, older = _read(postgres_url)
    with psycopg.connect(_dsn(postgres_url), autocommit=True) as connection:
        _insert(connection, "pe_dev_adyen_more")
    _, newer = _read(postgres_url)
    assert older is not None
    assert newer is not None
    assert older.snapshot != newer.snapshot
    assert store_snapshot_postgresql(postgres_url, "dev", "adyen", newer)
    assert not store_snapshot_postgresql(postgres_url, "dev", "adyen", older)  # a slow run
    assert _stored_snapshot(postgres_url) == newer.snapshot
    assert _execute(postgres_url, "SELECT payments FROM reconciliation_snapshot") == [(6,)]


async def test_a_snapshot_of_another_cluster_is_not_used_and_is_replaced(
    postgres_url: str,
) -> None:
    """A document restored from another cluster (a dump, a promoted logical replica) was
    taken under transaction ids this server has not reached: the rows written here since
    would not be in its delta. It is not read, and the next document replaces it."""
    ids = _seed(postgres_url, 5)
    _, pending = _read(postgres_url)
    assert pending is not None
    assert store_snapshot_postgresql(postgres_url, "dev", "adyen", pending)
    _execute(postgres_url, "UPDATE reconciliation_snapshot SET snapshot = '900000000:900000000:'")
    with psycopg.connect(_dsn(postgres_url), autocommit=True) as connection:
        _insert(connection, "pe_dev_adyen_new1")
        connection.execute(
            "UPDATE reconciliation_payment SET amount_minor = 1 WHERE payment_event_id = %s",
            (ids[0],),
        )
    read, again = _read(postgres_url)
    assert again is not None  # read from the rows, to be stored anew
    assert read.equals(await _from_the_rows(postgres_url, SINCE))
    assert read.height == 6
    assert read.filter(pl.col("payment_id") == ids[0])["amount_minor"].to_list() == [1]
    assert store_snapshot_postgresql(postgres_url, "dev", "adyen", again)
    assert _stored_snapshot(postgres_url) == again.snapshot


def test_a_large_delta_rebuilds_the_snapshot(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not worth_refreshing(1_000_000, 200_000)
    assert worth_refreshing(1_000_000, 200_001)
    assert not worth_refreshing(1_000, 50_000)
    assert worth_refreshing(1_000, 50_001)
    ids = _seed(postgres_url, 20)
    _, pending = _read(postgres_url)
    assert pending is not None
    store_snapshot_postgresql(postgres_url, "dev", "adyen", pending)
    monkeypatch.setattr(snapshots, "REFRESH_ROWS", 3)
    _execute(
        postgres_url,
        "UPDATE reconciliation_payment SET has_chargeback = true WHERE payment_event_id = ANY(%s)",
        ids[:4],
    )  # 4 of 20: over 3 rows but not over 20%
    _, small = _read(postgres_url)
    assert small is None
    _execute(
        postgres_url,
        "UPDATE reconciliation_payment SET has_chargeback = true WHERE payment_event_id = %s",
        ids[4],
    )  # 5 of 20: over 20%
    _, large = _read(postgres_url)
    assert large is not None
    assert store_snapshot_postgresql(postgres_url, "dev", "adyen", large)
    rebuilt, none = _read(postgres_url)
    assert none is None
    assert rebuilt["has_chargeback"].sum() == 5


# -- through the service ---------------------------------------------------------------

HEADER = "id,payment,gross,day"


class TinyParser:
    """Capture lines in EUR: line id, the PSP's payment id, gross (minor units), day."""

    provider = "adyen"
    format = "tiny_csv"
    settlement_delay = timedelta(0)

    def accepts(self, head: bytes) -> bool:
        return head.startswith(HEADER.encode())

    def parse(self, path: Path) -> Iterator[pl.DataFrame]:
        raw = pl.read_csv(path, infer_schema=False).with_row_index("line_number", offset=2)
        gross = pl.col("gross").cast(pl.Int64)
        yield raw.select(
            provider=pl.lit("adyen"),
            line_number=pl.col("line_number").cast(pl.Int64),
            type=pl.lit("capture"),
            psp_reference="payment",
            gross_minor=gross,
            fee_minor=pl.lit(0, dtype=pl.Int64),
            net_minor=gross,
            currency=pl.lit("EUR"),
            booking_date=pl.col("day").str.to_date(),
            settlement_currency=pl.lit(None, dtype=pl.String),
            modification_reference=pl.lit(None, dtype=pl.String),
            merchant_reference=pl.lit(None, dtype=pl.String),
            line_reference="id",
            payout_batch=pl.lit("b1"),
        ).cast(LINE_SCHEMA)  # type: ignore[arg-type]


def _file(tmp_path: Path, name: str, ids: list[str], amounts: dict[str, int]) -> Path:
    day = NOW.date().isoformat()
    rows = [
        f"l_{name}_{i},psp_{p},{amounts.get(p, 100 + int(p[-4:]))},{day}" for i, p in enumerate(ids)
    ]
    path = tmp_path / f"{name}.csv"
    path.write_text("\n".join([HEADER, *rows, f"l_{name}_x,psp_nobody,5,{day}"]) + "\n")
    return path


async def test_a_run_stores_the_snapshot_after_it_committed_and_the_next_run_matches_alike(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _seed(postgres_url, 30)
    seen: list[tuple[Records, MatchResult]] = []

    def spying_match(lines: pl.DataFrame, records: Records, **kwargs: Any) -> MatchResult:
        result = match(lines, records, **kwargs)
        seen.append((records, result))
        return result

    stored_after: list[int] = []

    def checking_store(url: str, client: str, provider: str, pending: SnapshotToStore) -> bool:
        # the run is committed: another connection sees it
        stored_after.append(_execute(url, "SELECT count(*) FROM reconciliation_run")[0][0])
        return store_snapshot_postgresql(url, client, provider, pending)

    monkeypatch.setattr(service_module, "match", spying_match)
    monkeypatch.setattr(service_module, "store_snapshot_postgresql", checking_store)
    database = Database(postgres_url)
    service = ReconciliationService(store=PaymentStore(database), parsers=[TinyParser()])
    try:
        path = _file(tmp_path, "day1", ids[2:], {f"pe_dev_adyen_{5:04d}": 1})
        first = await service.reconcile(path, provider="adyen", client_id="dev")
        assert stored_after == [1]
        assert _stored_snapshot(postgres_url) is not None
        second = await service.reconcile(path, provider="adyen", client_id="dev")
        assert stored_after == [1]  # read from the snapshot: nothing to store
    finally:
        await database.dispose()
    (rows, from_rows), (snapshot, from_snapshot) = seen
    assert snapshot.payments.sort("payment_id").equals(rows.payments.sort("payment_id"))
    assert findings(from_snapshot).sort("key").equals(findings(from_rows).sort("key"))
    assert first.run.summary["discrepancies"] == {
        "amount_mismatch": 1,
        "missing_in_settlement": 2,
        "unknown_reference": 1,
    }
    assert second.run.lines_matched == first.run.lines_matched == 27


async def test_a_snapshot_that_cannot_be_stored_does_not_fail_the_run(
    postgres_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = _seed(postgres_url, 5)

    def failing_store(*_args: object) -> bool:
        raise psycopg.OperationalError("the server went away")

    monkeypatch.setattr(service_module, "store_snapshot_postgresql", failing_store)
    database = Database(postgres_url)
    service = ReconciliationService(store=PaymentStore(database), parsers=[TinyParser()])
    try:
        with caplog.at_level(logging.WARNING, logger=service_module.__name__):
            result = await service.reconcile(
                _file(tmp_path, "day1", ids, {}), provider="adyen", client_id="dev"
            )
    finally:
        await database.dispose()
    assert result.run.lines_matched == 5
    assert _execute(postgres_url, "SELECT count(*) FROM reconciliation_run") == [(1,)]
    assert _stored_snapshot(postgres_url) is None
    assert "reconciliation snapshot of dev/adyen not stored" in caplog.text
