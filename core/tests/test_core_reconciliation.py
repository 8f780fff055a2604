"""Reconciliation: lines matched to payments and refunds, each discrepancy once, fees and
payouts booked once per batch and currency, a later file resolving what was missing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from paymux.core.domain.chargebacks import Chargeback, DisputeStatus
from paymux.core.domain.checkout import CheckoutDraft, OrderDraft
from paymux.core.domain.jobs import NewJob
from paymux.core.domain.status import PaymentStatus
from paymux.core.ledger.accounts import OwnerKind, Purpose
from paymux.core.ports.provider import ProviderEvent, SettlementReportAvailable
from paymux.core.providers import ProviderRegistry
from paymux.core.reconciliation.amounts import to_minor
from paymux.core.reconciliation.errors import MalformedSettlementError, WrongFormatError
from paymux.core.reconciliation.lines import LINE_SCHEMA
from paymux.core.services.idempotency import IdempotentRequest
from paymux.core.services.payments import PaymentService
from paymux.core.services.reconciliation import ReconciliationService
from paymux.core.services.refunds import RefundAsk, RefundService
from paymux.core.storage.database import Database
from paymux.core.storage.unit_of_work import PaymentStore
from paymux.currencies import Money
from paymux_fakes import FakeProvider

HEADER = "kind,id,payment,merchant,currency,gross,fee,day,batch"


class CsvParser:
    """A tiny settlement format for these tests: normalized columns, major units."""

    provider = "fake"
    format = "fake_csv"
    settlement_delay = timedelta(0)

    def accepts(self, head: bytes) -> bool:
        return head.startswith(HEADER.encode())

    def parse(self, path: Path) -> Iterator[pl.DataFrame]:
        raw = pl.read_csv(path, infer_schema=False).with_row_index("line_number", offset=2)
        raw = raw.with_columns(pl.col("line_number").cast(pl.Int64))
        gross = to_minor(raw, "gross", "currency")
        fee = to_minor(raw, "fee", "currency")
        yield raw.select(
            provider=pl.lit("fake"),
            line_number="line_number",
            type="kind",
            psp_reference="payment",
            gross_minor=gross,
            fee_minor=fee,
            net_minor=gross - fee,
            currency="currency",
            booking_date=pl.col("day").str.to_date(),
            settlement_currency=pl.lit(None, dtype=pl.String),
            modification_reference=pl.lit(None, dtype=pl.String),
            merchant_reference="merchant",
            line_reference="id",
            payout_batch="batch",
        ).cast(LINE_SCHEMA)  # type: ignore[arg-type]


@dataclass
class World:
    store: PaymentStore
    payments: PaymentService
    refunds: RefundService
    reconciliation: ReconciliationService
    tmp: Path
    steps: int = 0

    def key(self) -> str:
        self.steps += 1
        return f"k{self.steps}"

    async def paid(self, amount: int) -> tuple[str, str]:
        """A succeeded EUR payment: its id and the provider's token."""
        draft = CheckoutDraft(
            "b1", "EUR", "DE", "card", "https://shop",
            (OrderDraft("s1", Money(amount, "EUR"), Money(0, "EUR"), Money(0, "EUR"), "o"),),
        )  # fmt: skip
        created = await self.payments.create_payment(
            IdempotentRequest("c1", self.key(), "f"), draft, lambda p: json.dumps({"id": p.id})
        )
        payment = await self.payments.get_payment(json.loads(created.body)["id"], client_id="c1")
        assert payment.registration is not None
        assert payment.registration.token is not None
        token = payment.registration.token
        await self.payments.apply_provider_events(
            "fake", [ProviderEvent(self.key(), token, PaymentStatus.SUCCEEDED)]
        )
        return payment.id, token

    def file(self, name: str, *rows: str) -> Path:
        path = self.tmp / name
        path.write_text("\n".join([HEADER, *rows]) + "\n")
        return path

    async def run(self, path: Path) -> tuple[dict[str, list[str]], int, int]:
        """Reconcile; the new discrepancies' references per kind, resolved, matched."""
        result = await self.reconciliation.reconcile(path, provider="fake", client_id="c1")
        found = await self.reconciliation.run_discrepancies(result.run.id, client_id="c1")
        kinds: dict[str, list[str]] = {}
        for discrepancy in found:
            kinds.setdefault(discrepancy.kind, []).append(discrepancy.psp_reference)
        return kinds, result.resolved, result.run.lines_matched

    async def platform(self, purpose: Purpose) -> int:
        async with self.store.begin() as uow:
            accounts = await uow.ledger.all_accounts()
        return sum(
            a.normal_balance.minor
            for a in accounts
            if a.key.purpose is purpose and a.key.owner_kind is not OwnerKind.SELLER
        )


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    async with _world(database_url, tmp_path) as made:
        yield made


@pytest.fixture
async def postgres_world(postgres_url: str, tmp_path: Path) -> AsyncIterator[World]:
    async with _world(postgres_url, tmp_path) as made:
        yield made


@asynccontextmanager
async def _world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    database = Database(database_url)
    store = PaymentStore(database)
    registry = ProviderRegistry([FakeProvider()])
    payments = PaymentService(
        store=store, providers=registry, buyer_return_url=lambda p: "https://x", lock_seconds=60
    )
    refunds = RefundService(store=store, providers=registry, lock_seconds=60)
    reconciliation = ReconciliationService(store=store, parsers=[CsvParser()])
    yield World(store, payments, refunds, reconciliation, tmp_path)
    async with store.begin() as uow:
        assert set((await uow.ledger.totals_by_currency()).values()) <= {0}
    await database.dispose()


def today() -> str:
    return datetime.now(UTC).date().isoformat()


async def test_each_discrepancy_is_found_once_and_fees_and_payouts_are_booked_once(
    world: World,
) -> None:
    ok_id, ok = await world.paid(1000)
    _, changed = await world.paid(2000)
    dropped_id, dropped = await world.paid(3000)
    refunded_id, refunded = await world.paid(4000)
    day = today()
    first = world.file(
        "day1.csv",
        f"capture,l1,{ok},,EUR,10.00,0.30,{day},b1",
        f"capture,l2,{changed},,EUR,20.01,0.30,{day},b1",
        f"capture,l3,{refunded},,EUR,40.00,0.30,{day},b1",
        f"refund,l4,{refunded},,EUR,-5.00,0.00,{day},b1",
        f"capture,l5,nobody,,EUR,1.00,0.00,{day},b1",
        f"capture,l1,{ok},,EUR,10.00,0.30,{day},b1",
        f"fee,l6,monthly,,EUR,0.00,1.00,{day},b1",
        f"payout,l7,po_1,,EUR,-68.11,0.00,{day},b1",
    )
    kinds, resolved, matched = await world.run(first)
    assert kinds == {
        "amount_mismatch": [changed],
        "status_mismatch": [refunded],
        "unknown_reference": ["nobody"],
        "duplicate_line": [ok],
        "missing_in_settlement": [dropped],
    }
    assert resolved == 0
    assert matched == 4  # l1, l3, the fee and the payout
    assert await world.platform(Purpose.PSP_FEES) == 30 * 3 + 100  # the duplicate not counted
    assert await world.platform(Purpose.BANK) == 6811

    again = await world.run(first)
    assert again[0] == {}  # the same file again: nothing new
    assert await world.platform(Purpose.PSP_FEES) == 190
    assert await world.platform(Purpose.BANK) == 6811

    # The next day's file brings the dropped payment: its discrepancy closes.
    second = world.file("day2.csv", f"capture,m1,{dropped},,EUR,30.00,0.30,{day},b2")
    kinds, resolved, _ = await world.run(second)
    assert kinds == {}
    assert resolved == 1
    assert await world.platform(Purpose.PSP_FEES) == 220

    # A line of the first file in another file is a duplicate, and books nothing.
    third = world.file("day3.csv", f"capture,l3,{refunded},,EUR,40.00,0.30,{day},b3")
    kinds, resolved, _ = await world.run(third)
    assert (kinds, resolved) == ({"duplicate_line": [refunded]}, 0)
    assert await world.platform(Purpose.PSP_FEES) == 220
    del ok_id, dropped_id, refunded_id


async def test_refund_matches_and_an_unpaid_capture_is_missing_in_the_ledger(
    world: World,
) -> None:
    payment_id, token = await world.paid(1000)
    stored = await world.refunds.create_refund(
        IdempotentRequest("c1", "r1", "f"), payment_id, RefundAsk(None, "2.50", None),
        lambda r: json.dumps({"id": r.id}),
    )  # fmt: skip
    refund_id = json.loads(stored.body)["id"]
    unpaid = await world.payments.create_payment(
        IdempotentRequest("c1", "u1", "f"),
        CheckoutDraft(
            "b1", "EUR", "DE", "card", "https://shop",
            (OrderDraft("s1", Money(500, "EUR"), Money(0, "EUR"), Money(0, "EUR"), "o"),),
        ),
        lambda p: json.dumps({"id": p.id}),
    )  # fmt: skip
    unpaid_id = json.loads(unpaid.body)["id"]
    day = today()
    path = world.file(
        "day.csv",
        f"capture,l1,{token},,EUR,10.00,0.00,{day},b1",
        f"refund,l2,{token},{refund_id},EUR,-2.50,0.00,{day},b1",
        f"capture,l3,{token},,USD,10.00,0.00,{day},b1",
        f"capture,l4,x,{unpaid_id},EUR,5.00,0.00,{day},b1",
    )
    kinds, _, matched = await world.run(path)
    assert matched == 2
    assert kinds == {"currency_mismatch": [token], "missing_in_ledger": ["x"]}


async def test_a_refund_the_provider_never_settled_is_missing_once_until_a_file_lists_it(
    world: World,
) -> None:
    payment_id, token = await world.paid(1000)
    listed_id, listed_token = await world.paid(2000)
    refunds = []
    for key, paid_id, amount in (("r1", payment_id, "2.50"), ("r2", listed_id, "1.00")):
        stored = await world.refunds.create_refund(
            IdempotentRequest("c1", key, "f"), paid_id, RefundAsk(None, amount, None),
            lambda r: json.dumps({"id": r.id}),
        )  # fmt: skip
        refunds.append(json.loads(stored.body)["id"])
    missing_refund, listed_refund = refunds
    day = today()
    old_day = (datetime.now(UTC).date() - timedelta(days=3)).isoformat()

    # A file of three days ago: the refunds succeeded after it, so they are not due in it.
    early = world.file("early.csv", f"capture,e1,{token},,EUR,10.00,0.00,{old_day},b0")
    result = await world.reconciliation.reconcile(early, provider="fake", client_id="c1")
    found = await world.reconciliation.run_discrepancies(result.run.id, client_id="c1")
    assert [(d.kind, d.line_type) for d in found] == []

    first = world.file(
        "day1.csv",
        f"capture,l1,{listed_token},,EUR,20.00,0.00,{day},b1",
        f"refund,l2,{listed_token},{listed_refund},EUR,-1.00,0.00,{day},b1",
    )
    result = await world.reconciliation.reconcile(first, provider="fake", client_id="c1")
    found = await world.reconciliation.run_discrepancies(result.run.id, client_id="c1")
    assert [
        (d.kind, d.line_type, d.subject_id, d.expected_currency, d.expected_minor) for d in found
    ] == [("missing_in_settlement", "refund", missing_refund, "EUR", 250)]
    assert found[0].details == (
        f"refund {missing_refund} succeeded; the provider has not settled it"
    )

    assert (await world.run(first))[0] == {}  # the same file again: nothing new

    # The refund settled by the first file is not missing later; the other one is listed
    # now: its discrepancy closes.
    second = world.file("day2.csv", f"refund,m1,{token},{missing_refund},EUR,-2.50,0.00,{day},b2")
    kinds, resolved, matched = await world.run(second)
    assert (kinds, resolved, matched) == ({}, 1, 1)


@pytest.mark.postgres
async def test_two_runs_of_one_file_at_once_open_each_discrepancy_once_and_count_only_theirs(
    postgres_world: World,
) -> None:
    world = postgres_world
    _, token = await world.paid(1000)
    _, late = await world.paid(500)
    day = today()
    kinds, _, _ = await world.run(
        world.file("day0.csv", f"capture,l0,{token},,EUR,10.00,0.00,{day},b0")
    )
    assert list(kinds) == ["missing_in_settlement"]  # the second payment, open
    path = world.file(
        "day.csv",
        f"capture,l1,{token},,EUR,10.01,0.00,{day},b1",
        f"capture,l2,nobody,,EUR,1.00,0.00,{day},b1",
        f"capture,l3,{late},,EUR,5.00,0.00,{day},b1",
    )
    # Each run commits only once the other has found its discrepancies: both find the
    # same two, and the one that writes second opens none of them.
    found = {"a": asyncio.Event(), "b": asyncio.Event()}

    def reached(name: str) -> Callable[[str, int], None]:
        def progress(stage: str, _lines: int) -> None:
            if stage == "storing":
                found[name].set()

        return progress

    def wait_for(name: str) -> Callable[[object, object], Awaitable[None]]:
        async def before_commit(_uow: object, _run: object) -> None:
            await asyncio.wait_for(found[name].wait(), 30)

        return before_commit

    a, b = await asyncio.gather(
        *(
            world.reconciliation.reconcile(
                path,
                provider="fake",
                client_id="c1",
                progress=reached(me),
                before_commit=wait_for(other),
            )
            for me, other in (("a", "b"), ("b", "a"))
        )
    )
    both = {"amount_mismatch": 1, "unknown_reference": 1}
    counts = sorted(
        [(r.run.new_discrepancies, r.run.summary["discrepancies"], r.resolved) for r in (a, b)],
        key=lambda counted: counted[0],
    )
    assert counts == [(0, {}, 0), (2, both, 1)]  # the late payment's closed once
    for result in (a, b):  # and so they are stored
        stored = await world.reconciliation.get_run(result.run.id, client_id="c1")
        assert (
            stored.new_discrepancies,
            stored.summary["discrepancies"],
            stored.resolved_discrepancies,
        ) == (
            result.run.new_discrepancies,
            result.run.summary["discrepancies"],
            result.resolved,
        )
        listed = await world.reconciliation.run_discrepancies(result.run.id, client_id="c1")
        assert len(listed) == result.run.new_discrepancies


async def test_a_file_of_another_format_or_with_a_bad_amount_is_refused_before_anything_is_written(
    world: World,
) -> None:
    other = world.tmp / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(WrongFormatError):
        await world.reconciliation.reconcile(other, provider="fake", client_id="c1")
    bad = world.file(
        "bad.csv",
        f"capture,l1,x,,EUR,10.00,0.00,{today()},b1",
        f"capture,l2,y,,EUR,1.001,0,{today()},b1",
    )
    with pytest.raises(MalformedSettlementError) as refused:
        await world.reconciliation.reconcile(bad, provider="fake", client_id="c1")
    assert refused.value.line_number == 3
    assert await world.reconciliation.list_runs("c1") == []
    assert await world.platform(Purpose.PSP_FEES) == 0


class FetchingProvider(FakeProvider):
    """The fake provider with a settlement report to fetch (``None``: not there yet)."""

    report: bytes | None = None

    async def fetch_settlement_report(self, day: date) -> bytes | None:
        return self.report


async def test_the_nightly_job_waits_for_the_report_dead_letters_a_bad_one_and_goes_on(
    world: World,
) -> None:
    from paymux.core.domain.jobs import GiveUp, Job, JobState, RunAgainAt
    from paymux.core.jobs.reconciliation_jobs import nightly_job, reconcile_nightly_handler
    from paymux.core.storage.job_repository import JobQueue

    provider = FetchingProvider()
    jobs = JobQueue(world.store.database)
    handler = reconcile_nightly_handler(
        world.reconciliation, ProviderRegistry([provider]), jobs, hour=3
    )
    day = datetime.now(UTC).date()
    queued = nightly_job("fake", day, hour=3, client_id="c1")
    now = datetime.now(UTC)
    job = Job(
        "job_1", queued.kind, queued.key, queued.payload, "fake", JobState.RUNNING, 0, 1,
        now, None, None, None, now, now, None, 0,
    )  # fmt: skip
    waiting = await handler(job)
    assert isinstance(waiting, RunAgainAt)
    later = reconcile_nightly_handler(
        world.reconciliation, ProviderRegistry([provider]), jobs, hour=3,
        now=lambda: now + timedelta(days=8),
    )  # fmt: skip
    assert "no fake report" in str(getattr(await later(job), "note", ""))  # gives up quietly
    provider.report = b"not,a,settlement,file\n"
    refused = await handler(job)
    assert isinstance(refused, GiveUp)
    assert "refused" in refused.reason
    tomorrow = nightly_job("fake", day + timedelta(days=1), hour=3, client_id="c1")
    async with world.store.begin() as uow:
        following = await uow.jobs.get_by_key(tomorrow.key)
    assert following is not None  # the chain goes on after a refused report
    provider.report = f"{HEADER}\ncapture,l1,nobody,,EUR,1.00,0.00,{day},b1\n".encode()
    done = await handler(job)
    assert "1 new discrepancies" in str(getattr(done, "note", ""))
    (run,) = await world.reconciliation.list_runs("c1")
    assert (run.source, run.new_discrepancies) == ("nightly", 1)


class DownloadingProvider(FakeProvider):
    """The fake provider serving announced reports (counts downloads)."""

    report: bytes = b""
    downloads: int = 0

    async def download_settlement_report(
        self, report: SettlementReportAvailable, destination: Path
    ) -> None:
        self.downloads += 1
        await asyncio.to_thread(destination.write_bytes, self.report)


async def test_an_announced_report_is_reconciled_with_its_job_finished_in_the_run(
    world: World,
) -> None:
    from paymux.core.domain.jobs import Done, GiveUp, Job, JobState
    from paymux.core.jobs.reconciliation_jobs import (
        announced_report_job,
        reconcile_announced_handler,
    )

    provider = DownloadingProvider()
    registry = ProviderRegistry([provider])
    event = SettlementReportAvailable("evt_1", "batch_7.csv", "https://psp.example/batch_7.csv")
    queued = announced_report_job("fake", event, client_id=None)
    now = datetime.now(UTC)

    def running(new: NewJob) -> Job:
        return Job(
            "job_1", new.kind, new.key, new.payload, "fake", JobState.RUNNING, 0, 1,
            now, "w1", now + timedelta(minutes=1), None, now, now, None, 0,
        )  # fmt: skip

    def client(found: str | None) -> Callable[[], Awaitable[str | None]]:
        async def resolve() -> str | None:
            return found

        return resolve

    job = running(queued)
    nobody = reconcile_announced_handler(
        world.reconciliation, registry, resolve_client=client(None)
    )
    no_client = await nobody(job)
    assert isinstance(no_client, GiveUp)
    assert "PAYMUX_RECONCILIATION_CLIENT" in no_client.reason
    other = reconcile_announced_handler(
        world.reconciliation, ProviderRegistry([FakeProvider()]), resolve_client=client("c1")
    )
    assert "cannot download" in getattr(await other(job), "reason", "")
    handler = reconcile_announced_handler(
        world.reconciliation, registry, resolve_client=client("c1")
    )
    provider.report = b"not,a,settlement,file\n"
    refused = await handler(job)
    assert isinstance(refused, GiveUp)
    assert "batch_7.csv was refused" in refused.reason

    provider.report = f"{HEADER}\ncapture,l1,nobody,,EUR,1.00,0.00,{today()},b1\n".encode()
    async with world.store.begin() as uow:  # as the webhook queued it
        assert await uow.jobs.enqueue(queued, now=now, client_id="c1")
    done = await handler(job)
    assert isinstance(done, Done)
    assert "1 new discrepancies" in str(done.note)
    (run,) = await world.reconciliation.list_runs("c1")
    assert (run.source, run.file_name, run.new_discrepancies) == ("webhook", "batch_7.csv", 1)
    async with world.store.begin() as uow:
        stored = await uow.jobs.get_by_key(queued.key)
    assert stored is not None
    assert stored.state is JobState.DONE  # in the run's own transaction

    # A worker that lost its lease meanwhile reconciles again: its run is rolled back.
    late = await handler(job)
    assert isinstance(late, Done)
    assert "reconciled meanwhile" in str(late.note)
    assert len(await world.reconciliation.list_runs("c1")) == 1
    assert provider.downloads == 3


@dataclass
class RecordingAlerter:
    """An alerter that fails ``failures`` times before it delivers."""

    name: str
    failures: int = 0
    alerts: list[object] = field(default_factory=list)

    async def alert(self, alert: object) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("channel down")
        self.alerts.append(alert)

    async def aclose(self) -> None:
        return None


async def test_an_alert_is_retried_only_through_the_alerters_that_failed(world: World) -> None:
    from paymux.core.domain.jobs import Done, Job, JobState, Retry
    from paymux.core.jobs.reconciliation_jobs import send_alert_handler
    from paymux.core.reconciliation.alerts import ReconciliationAlert
    from paymux.core.services.reconciliation import alert_job

    path = world.file("day.csv", f"capture,l1,nobody,,EUR,1.00,0.00,{today()},b1")
    run = await world.reconciliation.reconcile(path, provider="fake", client_id="c1")
    steady, flaky = RecordingAlerter("mail"), RecordingAlerter("chat", failures=1)
    handler = send_alert_handler(world.reconciliation, [steady, flaky])
    queued = alert_job(run.run.id)
    now = datetime.now(UTC)

    def job(payload: dict[str, object]) -> Job:
        return Job(
            "job_a", queued.kind, queued.key, payload, None, JobState.RUNNING, 0, 1, now, None,
            None, None, now, now, None, 0,
        )  # fmt: skip

    first = await handler(job(dict(queued.payload)))
    assert isinstance(first, Retry)
    assert "chat" in first.reason
    assert first.payload is not None
    second = await handler(job(dict(first.payload)))
    assert isinstance(second, Done)
    assert (len(steady.alerts), len(flaky.alerts)) == (1, 1)  # nobody alerted twice
    alert = steady.alerts[0]
    assert isinstance(alert, ReconciliationAlert)
    assert (alert.new_discrepancies, alert.by_kind) == (1, {"unknown_reference": 1})
    assert alert.examples[0].psp_reference == "nobody"


_FROM_THE_PAYMENT_TABLES = """
SELECT e.id, e.client_id, COALESCE(r.provider, e.provider), e.currency,
       (SELECT SUM(amount_minor) FROM payment_order o WHERE o.payment_event_id = e.id),
       (SELECT MIN(status) FROM payment_order o WHERE o.payment_event_id = e.id),
       (SELECT MIN(succeeded_at) FROM payment_order o WHERE o.payment_event_id = e.id),
       r.token, r.psp_reference, r.psp_payment_id,
       EXISTS (SELECT 1 FROM chargeback c WHERE c.payment_event_id = e.id)
FROM payment_event e LEFT JOIN psp_registration r ON r.payment_event_id = e.id
ORDER BY e.id
"""
_KEPT_COPY = """
SELECT payment_event_id, client_id, provider, currency, amount_minor, status, succeeded_at,
       token, psp_reference, psp_payment_id, has_chargeback
FROM reconciliation_payment ORDER BY payment_event_id
"""


async def test_the_payment_writes_keep_reconciliations_copy_of_each_payment(
    world: World,
) -> None:
    paid, _token = await world.paid(1000)
    charged, _ = await world.paid(2500)
    draft = CheckoutDraft(
        "b1", "EUR", "DE", "card", "https://shop",
        (OrderDraft("s1", Money(700, "EUR"), Money(0, "EUR"), Money(0, "EUR"), "o"),),
    )  # fmt: skip
    created = await world.payments.create_payment(
        IdempotentRequest("c1", world.key(), "f"), draft, lambda p: json.dumps({"id": p.id})
    )
    pending = json.loads(created.body)["id"]
    now = datetime.now(UTC)
    async with world.store.begin() as uow:
        await uow.record_psp_payment_id(paid, "psp-own-id")
        await uow.chargebacks.insert(
            Chargeback(
                "cb_1", charged, "c1", "fake", "dp_1", Money(2500, "EUR"), Money(0, "EUR"),
                DisputeStatus.OPENED, None, (), now, now,
            )
        )  # fmt: skip
    async with world.store.begin() as uow:
        session = uow._session
        expected = [tuple(r) for r in (await session.execute(sa.text(_FROM_THE_PAYMENT_TABLES)))]
        kept = [tuple(r) for r in (await session.execute(sa.text(_KEPT_COPY)))]
    assert len(kept) == 3
    assert [tuple(str(v) for v in row) for row in kept] == [
        tuple(str(v) for v in row) for row in expected
    ]
    by_id = {row[0]: row for row in kept}
    assert by_id[paid][9] == "psp-own-id"
    assert by_id[paid][5] == "succeeded"
    assert by_id[paid][6] is not None  # when it succeeded
    assert bool(by_id[charged][10])  # charged back
    assert by_id[pending][5] != "succeeded"
    assert by_id[pending][6] is None


def test_lines_find_their_payment_by_psp_id_the_first_of_two_and_never_by_a_null() -> None:
    from paymux.core.reconciliation.matching import _rows_by_psp_id

    references = pl.Series(["a", "b", "c", "a", "zz"])
    psp_ids = pl.Series(["c", None, "a", "b", "a"])
    rows = _rows_by_psp_id(references, psp_ids)
    assert rows.to_list() == [2, 3, 0, 2, None]
    assert _rows_by_psp_id(pl.Series(["x"]), pl.Series([None], dtype=pl.String)).to_list() == [None]


async def test_a_file_sent_again_under_other_bytes_opens_a_duplicate_per_line(
    world: World,
) -> None:
    """Thousands of discrepancies in one run (a report sent again, re-generated: every line
    is a duplicate of the first file's), each stored once with its text."""
    day = today()
    rows = [f"capture,l{i},nobody{i},,EUR,1.00,0.00,{day},b1" for i in range(3000)]
    first = await world.reconciliation.reconcile(
        world.file("first.csv", *rows), provider="fake", client_id="c1"
    )
    assert first.run.new_discrepancies == len(first.opened) == 3000
    again = await world.reconciliation.reconcile(
        world.file("again.csv", *reversed(rows)), provider="fake", client_id="c1"
    )
    assert again.run.new_discrepancies == len(set(again.opened)) == 3000
    stored = await world.reconciliation.run_discrepancies(again.run.id, client_id="c1", limit=5000)
    assert {d.kind for d in stored} == {"duplicate_line"}
    assert {d.id for d in stored} == set(again.opened)
    by_reference = {d.psp_reference: d for d in stored}
    assert len(by_reference) == 3000
    last = by_reference["nobody0"]  # the first row of the first file, last of this one
    assert (last.line_number, last.line_type, last.subject_id) == (3001, "capture", None)
    assert last.details == "line 3001: capture nobody0 appears more than once"
    unknown = await world.reconciliation.run_discrepancies(first.run.id, client_id="c1", limit=5000)
    assert {d.details for d in unknown if d.psp_reference == "nobody7"} == {
        "line 9: no payment, refund or payout of paymux has reference nobody7"
    }
    third = await world.reconciliation.reconcile(
        world.file("third.csv", *rows[:10]), provider="fake", client_id="c1"
    )
    assert third.opened == []  # every key already open: nothing opened twice
