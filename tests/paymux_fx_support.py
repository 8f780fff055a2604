"""Helpers of the FX tests: the ledger's postings read back, per-currency balance checks, and
the worker's nightly reconciliation run in a runtime of its own."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import create_engine, text

from paymux.app.runtime import create_runtime
from paymux.core.jobs.reconciliation_jobs import nightly_job
from paymux.core.storage.database import sync_url
from paymux_test_support import make_settings

Posting = tuple[str, str, str, str, int]
"""``(transaction reference, account purpose, owner, currency, minor)``; debits positive."""


def postings(database_url: str) -> list[Posting]:
    """Every posting of the ledger."""
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT t.reference, a.purpose, a.owner_id, p.currency, p.amount_minor "
                    "FROM ledger_posting p JOIN ledger_transaction t ON t.id = p.transaction_id "
                    "JOIN ledger_account a ON a.id = p.account_id"
                )
            ).all()
    finally:
        engine.dispose()
    return [(str(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4])) for r in rows]


def balance(rows: list[Posting], purpose: str, currency: str) -> int:
    """The summed postings of every account of ``purpose`` in ``currency`` (debit positive)."""
    return sum(r[4] for r in rows if r[1] == purpose and r[3] == currency)


def assert_balanced_per_currency(rows: list[Posting]) -> None:
    """Every transaction's postings sum to zero in each currency."""
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for reference, _purpose, _owner, currency, minor in rows:
        totals[(reference, currency)] += minor
    unbalanced = {key: total for key, total in totals.items() if total}
    assert unbalanced == {}


def run_nightly(
    database_url: str,
    service_url: str,
    day: datetime,
    *,
    settings: Mapping[str, Any],
    **sandbox: Any,
) -> int:
    """Run the worker's nightly reconciliation of the sandbox's ``day`` now, in a runtime of
    its own (``settings`` and ``sandbox`` as for :func:`make_settings`); the jobs it ran."""

    async def run() -> int:
        configured = make_settings(
            database_url,
            service_url,
            settings={**settings, "embedded_worker": "never"},
            **sandbox,
        )
        runtime = create_runtime(configured)
        try:
            job = nightly_job("sandbox", day.date(), hour=3, client_id="dev")
            await runtime.jobs.enqueue(replace(job, run_at=None), client_id="dev")
            return await runtime.create_worker(worker_id="nightly-fx").drain()
        finally:
            await runtime.aclose()

    return asyncio.run(run())
