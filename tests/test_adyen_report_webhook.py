"""Adyen announces its Settlement details report by webhook; a worker downloads and
reconciles it.

A signed ``REPORT_AVAILABLE`` notification is posted to ``/v1/webhooks/adyen``: the
announcement is stored as a ``reconcile_announced_report`` job in the webhook's
transaction; a worker (another runtime, as a separate ``paymux worker`` process would be)
downloads the report from the fake Adyen with the report user's credentials and
reconciles it against paymux's records. The same notification again queues nothing; a
failed download is retried; another report type is acknowledged and ignored.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from paymux.app.factory import create_router
from paymux.app.runtime import PaymuxRuntime, create_runtime
from paymux.core.domain.jobs import JobKind, JobState
from paymux.core.plugins import collect_settlement_parsers, create_plugin_manager
from paymux.core.reconciliation.lines import SettlementLine, SettlementLineType, frame_lines
from paymux.core.reconciliation.parsers import check_batch, choose_parser
from paymux.core.settings import Settings
from paymux.core.storage.unit_of_work import PaymentStore
from paymux_adyen.fake_psp import FakeAdyen
from paymux_recon_support import seed_from_lines
from paymux_test_support import API_KEY, OTHER_API_KEY

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "plugins/adyen/tests/fixtures/settlement_detail_report_batch_42.csv"
NAME = FIXTURE.name
JOB_KEY = f"reconcile_announced_report:adyen:{NAME}"


def adyen_settings(database_url: str, fake: FakeAdyen, **overrides: Any) -> Settings:
    """Two API clients (reconciliation for ``dev``) and Adyen pointed at the fake."""
    return Settings(
        database_url=database_url,
        public_url="http://127.0.0.1:9",
        api_keys={API_KEY: "dev", OTHER_API_KEY: "other"},
        reconciliation_client="dev",
        providers={
            "adyen": {
                "api_key": "AQE_fake_test_key",
                "merchant_account": fake.merchant_account,
                "hmac_key": fake.hmac_key,
                "base_url": fake.base_url,
                "request_timeout_seconds": 2.0,
                "report_username": fake.report_username,
                "report_password": fake.report_password,
            }
        },
        job_retry={
            JobKind.RECONCILE_ANNOUNCED_REPORT.value: {
                "max_attempts": 3,
                "base_seconds": 0.05,
                "cap_seconds": 0.05,
            }
        },
        embedded_worker="never",
        **overrides,
    )


def fixture_lines() -> list[SettlementLine]:
    parser = choose_parser(collect_settlement_parsers(create_plugin_manager()), "adyen", FIXTURE)
    return frame_lines(pl.concat([check_batch(b, "adyen") for b in parser.parse(FIXTURE)]))


@asynccontextmanager
async def api(settings: Settings) -> AsyncIterator[tuple[PaymuxRuntime, httpx.AsyncClient]]:
    """paymux's API (its runtime) and a client of it."""
    runtime = create_runtime(settings)
    app = FastAPI()
    app.include_router(create_router(runtime))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://paymux") as client:
            yield runtime, client
    finally:
        await runtime.aclose()


async def work(settings: Settings) -> int:
    """A worker of its own runtime (another process's view) runs every due job."""
    runtime = create_runtime(settings)
    try:
        return await runtime.create_worker(worker_id="report-worker").drain()
    finally:
        await runtime.aclose()


async def post(client: httpx.AsyncClient, fake: FakeAdyen, item: dict[str, Any]) -> Any:
    headers, body = fake.notification_batch(item)
    answer = await client.post("/v1/webhooks/adyen", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def ledger_transactions(runtime: PaymuxRuntime) -> dict[str, int]:
    async with runtime.database.transaction() as session:
        rows = await session.execute(
            sa.text("SELECT kind, count(*) FROM ledger_transaction GROUP BY kind")
        )
        return {str(kind): int(count) for kind, count in rows.all()}


async def job_row(runtime: PaymuxRuntime) -> tuple[str, int, str | None]:
    """The report job's state, failed attempts and last error."""
    query = sa.text("SELECT state, attempts, last_error FROM job WHERE key = :key")
    async with runtime.database.transaction() as session:
        row = (await session.execute(query, {"key": JOB_KEY})).one()
    return str(row[0]), int(row[1]), row[2]


@pytest.fixture
def fake() -> Any:
    with FakeAdyen() as running:
        yield running


async def test_an_announced_report_is_downloaded_and_reconciled_once(
    database_url: str, fake: FakeAdyen
) -> None:
    settings = adyen_settings(database_url, fake)
    lines = fixture_lines()
    capture = next(line for line in lines if line.type is SettlementLineType.CAPTURE)
    async with api(settings) as (runtime, client):
        await seed_from_lines(
            PaymentStore(runtime.database), "adyen", lines, amount_delta={capture.psp_reference: 1}
        )
        item = fake.publish_report(NAME, FIXTURE.read_bytes())

        ack = await post(client, fake, item)

        assert ack == {"received": 1, "applied": 1, "duplicates": 0, "unchanged": 0}
        assert fake.downloads() == []  # the webhook itself downloads nothing
        assert await runtime.reconciliation.list_runs("dev") == []

        assert await work(settings) >= 1

        (download,) = fake.downloads()
        assert download.headers["authorization"].startswith("Basic ")
        (run,) = await runtime.reconciliation.list_runs("dev")
        assert (run.provider, run.source, run.file_name) == ("adyen", "webhook", NAME)
        assert run.lines_total == len(lines)
        found = await runtime.reconciliation.run_discrepancies(run.id, client_id="dev")
        assert [(d.kind, d.psp_reference, d.line_number) for d in found] == [
            ("amount_mismatch", capture.psp_reference, capture.line_number)
        ]
        booked = await ledger_transactions(runtime)
        assert booked.get("psp_fee", 0) >= 1
        assert (await job_row(runtime))[:2] == (JobState.DONE.value, 0)

        # Adyen delivers the same notification again: nothing new anywhere.
        again = await post(client, fake, item)
        assert again == {"received": 1, "applied": 0, "duplicates": 1, "unchanged": 0}
        await work(settings)
        assert len(fake.downloads()) == 1
        assert len(await runtime.reconciliation.list_runs("dev")) == 1
        assert await ledger_transactions(runtime) == booked


async def test_a_failed_download_is_retried_then_reconciled(
    database_url: str, fake: FakeAdyen
) -> None:
    settings = adyen_settings(database_url, fake)
    async with api(settings) as (runtime, client):
        await seed_from_lines(PaymentStore(runtime.database), "adyen", fixture_lines())
        await post(client, fake, fake.publish_report(NAME, FIXTURE.read_bytes()))
        fake.fail_next("unavailable")

        await work(settings)

        assert len(fake.downloads()) == 1
        assert await runtime.reconciliation.list_runs("dev") == []
        state, attempts, error = await job_row(runtime)
        assert (state, attempts) == (JobState.QUEUED.value, 1)
        assert error is not None
        assert "500" in error

        await asyncio.sleep(0.1)  # the back-off
        await work(settings)

        assert len(fake.downloads()) == 2
        (run,) = await runtime.reconciliation.list_runs("dev")
        assert run.new_discrepancies == 0
        assert await runtime.reconciliation.run_discrepancies(run.id, client_id="dev") == []


async def test_other_reports_and_wrong_credentials(database_url: str, fake: FakeAdyen) -> None:
    settings = adyen_settings(database_url, fake)
    async with api(settings) as (runtime, client):
        other = fake.publish_report("received_payments_report_2024_05_02.csv", b"x")
        assert await post(client, fake, other) == {
            "received": 0, "applied": 0, "duplicates": 0, "unchanged": 0,
        }  # fmt: skip
        assert await runtime.jobs.counts() == {state: 0 for state in JobState}

        # A report that cannot be downloaded for good (wrong password) is dead-lettered
        # with its reason, for an operator to replay once the settings are fixed.
        fake.report_password = "rotated"
        await post(client, fake, fake.publish_report(NAME, FIXTURE.read_bytes()))
        await work(settings)
        (dead,) = await runtime.jobs.dead_letters()
        assert dead.kind == JobKind.RECONCILE_ANNOUNCED_REPORT.value
        assert dead.last_error is not None
        assert "report credentials" in dead.last_error
        fake.report_password = settings.providers["adyen"]["report_password"]
        assert await runtime.jobs.replay(dead.id, now=datetime.now(UTC))
        await work(settings)
        (run,) = await runtime.reconciliation.list_runs("dev")
        assert run.file_name == NAME
