"""Storing a run's discrepancies (on PostgreSQL copied through a staging table): every text
kept as it was, NULL kept apart from the empty string, and nothing kept of a run that
rolls back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import polars as pl
import pytest

from paymux.core.storage.database import Database
from paymux.core.storage.reconciliation_repository import StoredRun
from paymux.core.storage.unit_of_work import PaymentStore

NOW = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
AWKWARD = ['a,"b"', "line\nbreak", "back\\slash", "\\N", "\\.", "tab\there", "é ü 漢字"]


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PaymentStore]:
    database = Database(database_url)
    yield PaymentStore(database)
    await database.dispose()


def run(run_id: str) -> StoredRun:
    return StoredRun(
        id=run_id, client_id="c1", provider="fake", format="csv", source="cli",
        file_name="f.csv", file_sha256="0" * 64, period_start=None, period_end=None,
        lines_total=0, lines_matched=0, summary={}, new_discrepancies=0,
        resolved_discrepancies=0, created_at=NOW, finished_at=NOW,
    )  # fmt: skip


def found(prefix: str) -> pl.DataFrame:
    references = [*AWKWARD, ""]
    count = len(references)
    return pl.DataFrame(
        {
            "kind": ["amount_mismatch"] * count,
            "key": [f"{prefix}:{i}:{text}" for i, text in enumerate(references)],
            "psp_reference": references,
            "subject_id": [None, "", *[f"pe_{i}" for i in range(count - 2)]],
            "line_type": ["capture"] * count,
            "currency": ["EUR", None, *["JPY"] * (count - 2)],
            "expected_currency": ["EUR"] * count,
            "expected_minor": [None, 0, *[-(2**62) + i for i in range(count - 2)]],
            "actual_minor": [2**62, *[i for i in range(count - 1)]],
            "line_number": [None, *range(2, count + 1)],
        },
        schema_overrides={"subject_id": pl.String, "currency": pl.String,
                          "expected_minor": pl.Int64, "line_number": pl.Int64},
    )  # fmt: skip


async def test_every_text_and_number_is_kept_as_it_was(store: PaymentStore) -> None:
    rows = found("k")
    paris = timezone(timedelta(hours=1))  # a clock in another zone: stored in UTC
    async with store.begin() as uow:
        await uow.reconciliation.insert_run(run("rr_1"), b"")
        opened = await uow.reconciliation.insert_discrepancies(
            "c1", "fake", "rr_1", rows, now=NOW.astimezone(paris)
        )
    assert len(opened) == rows.height
    async with store.begin() as uow:
        stored = await uow.reconciliation.run_discrepancies("rr_1", limit=100)
    wanted = {row["psp_reference"]: row for row in rows.to_dicts()}  # references differ
    assert sorted(d.psp_reference for d in stored) == sorted(wanted)
    for discrepancy in stored:
        expected = wanted[discrepancy.psp_reference]
        assert discrepancy.kind == "amount_mismatch"
        assert discrepancy.subject_id == expected["subject_id"]  # None stays None, "" stays ""
        assert discrepancy.currency == expected["currency"]
        assert discrepancy.expected_minor == expected["expected_minor"]
        assert discrepancy.actual_minor == expected["actual_minor"]
        assert discrepancy.line_number == expected["line_number"]
        assert discrepancy.opened_at == NOW
        assert discrepancy.resolved_at is None


async def test_a_run_that_rolls_back_keeps_no_discrepancy(store: PaymentStore) -> None:
    opened: list[str] = []

    async def failing_run() -> None:
        async with store.begin() as uow:
            await uow.reconciliation.insert_run(run("rr_gone"), b"")
            opened.extend(
                await uow.reconciliation.insert_discrepancies(
                    "c1", "fake", "rr_gone", found("k"), now=NOW
                )
            )
            raise RuntimeError("the run fails before its commit")

    with pytest.raises(RuntimeError):
        await failing_run()
    assert len(opened) == len(AWKWARD) + 1  # inserted in the transaction, then rolled back
    async with store.begin() as uow:
        assert await uow.reconciliation.run_discrepancies("rr_gone", limit=100) == []
        await uow.reconciliation.insert_run(run("rr_2"), b"")
        again = await uow.reconciliation.insert_discrepancies(
            "c1", "fake", "rr_2", found("k"), now=NOW
        )
    assert len(again) == len(AWKWARD) + 1  # the keys were never taken
    async with store.begin() as uow:  # the same keys again: open already, none opened
        await uow.reconciliation.insert_run(run("rr_3"), b"")
        assert (
            await uow.reconciliation.insert_discrepancies("c1", "fake", "rr_3", found("k"), now=NOW)
            == []
        )
