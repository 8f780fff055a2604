"""A ``paymux worker`` killed (SIGKILL) right after it reconciled an announced Adyen report
books nothing twice: the job was finished in the run's own transaction, so the restarted
worker finds nothing left to do (no second download, no second run, no second booking).

Runs on PostgreSQL with a real ``paymux worker`` process; the fake Adyen runs in this test
process, so it keeps its state (and counts downloads) while the worker dies.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from paymux.app.runtime import create_runtime
from paymux.core import crashpoints
from paymux.core.settings import Settings
from paymux.core.storage.database import sync_url
from paymux.core.storage.unit_of_work import PaymentStore
from paymux_adyen.fake_psp import FakeAdyen
from paymux_recon_support import seed_from_lines
from test_adyen_report_webhook import FIXTURE, JOB_KEY, NAME, fixture_lines

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(180)]

PAYMUX = str(Path(sys.executable).with_name("paymux"))
LEASE_SECONDS = 2.0


def adyen_config(fake: FakeAdyen) -> dict[str, Any]:
    return {
        "api_key": "AQE_fake_test_key",
        "merchant_account": fake.merchant_account,
        "hmac_key": fake.hmac_key,
        "base_url": fake.base_url,
        "request_timeout_seconds": 2.0,
        "report_username": fake.report_username,
        "report_password": fake.report_password,
    }


@pytest.fixture
def fake() -> Iterator[FakeAdyen]:
    with FakeAdyen() as running:
        yield running


def start_worker(database_url: str, fake: FakeAdyen, log: Path, crash_at: str | None) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMUX_")}
    env.update(
        PYTHONUNBUFFERED="1",
        PAYMUX_DATABASE_URL=database_url,
        PAYMUX_PROVIDERS=json.dumps({"adyen": adyen_config(fake)}),
        PAYMUX_WORKER_LEASE_SECONDS=str(LEASE_SECONDS),
        PAYMUX_WORKER_IDLE_SECONDS="0.1",
    )
    if crash_at is not None:
        env[crashpoints.ENVIRONMENT_VARIABLE] = crash_at
    with log.open("wb") as output:
        return subprocess.Popen(  # noqa: S603 - our own CLI
            [PAYMUX, "worker"], env=env, stdout=output, stderr=subprocess.STDOUT
        )


def wait_for(what: str, probe: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


async def announce(settings: Settings, fake: FakeAdyen) -> None:
    """Seed records that agree with the report, then receive its REPORT_AVAILABLE."""
    runtime = create_runtime(settings)
    try:
        await seed_from_lines(PaymentStore(runtime.database), "adyen", fixture_lines())
        item = fake.publish_report(NAME, FIXTURE.read_bytes())
        events = runtime.providers.get("adyen").parse_webhook(*fake.notification_batch(item))
        outcome = await runtime.webhooks.apply("adyen", events)
        assert outcome.applied == 1
    finally:
        await runtime.aclose()


def facts(database_url: str) -> dict[str, Any]:
    """Runs, ledger transactions per kind, and the report job's state and runs."""
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            runs = connection.execute(
                sa.text("SELECT count(*) FROM reconciliation_run")
            ).scalar_one()
            ledger = {
                str(kind): int(count)
                for kind, count in connection.execute(
                    sa.text("SELECT kind, count(*) FROM ledger_transaction GROUP BY kind")
                ).all()
            }
            job = connection.execute(
                sa.text("SELECT state, runs FROM job WHERE key = :key"), {"key": JOB_KEY}
            ).one()
    finally:
        engine.dispose()
    return {"runs": runs, "ledger": ledger, "job": tuple(job)}


def test_a_worker_killed_after_the_run_committed_books_nothing_twice(
    postgres_url: str, fake: FakeAdyen, tmp_path: Path
) -> None:
    settings = Settings(database_url=postgres_url, providers={"adyen": adyen_config(fake)})
    asyncio.run(announce(settings, fake))

    first = start_worker(
        postgres_url, fake, tmp_path / "worker-1.log", crashpoints.REPORT_RECONCILED
    )
    try:
        first.wait(timeout=90)
    except subprocess.TimeoutExpired:
        first.kill()
        raise AssertionError((tmp_path / "worker-1.log").read_text()) from None
    output = (tmp_path / "worker-1.log").read_text(errors="replace")
    assert first.returncode == -signal.SIGKILL, output
    assert f"crash point {crashpoints.REPORT_RECONCILED} reached" in output
    after_crash = facts(postgres_url)
    assert after_crash["runs"] == 1
    assert after_crash["job"] == ("done", 1)  # finished with the run, before the crash
    assert after_crash["ledger"].get("psp_fee", 0) >= 1
    assert len(fake.downloads()) == 1

    second_log = tmp_path / "worker-2.log"
    second = start_worker(postgres_url, fake, second_log, None)
    try:
        wait_for(
            "the worker to start",
            lambda: "running (Ctrl-C stops)" in second_log.read_text(errors="replace"),
        )
        time.sleep(LEASE_SECONDS + 1.5)  # a lost run would be claimed again by now
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)

    assert facts(postgres_url) == after_crash
    assert len(fake.downloads()) == 1
