"""The Stripe provider fetches its nightly balance report through report runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import (
    CheckoutRequest,
    PayoutDestination,
    PayoutRequest,
    ProviderRejectedError,
    ProviderUnavailableError,
    RefundRequest,
)
from paymux.core.reconciliation.parsers import SettlementReportFetcher, check_batch
from paymux.currencies import Money
from paymux_stripe.fake_reports import major
from paymux_stripe.fake_stripe import Reply
from paymux_stripe.harness import StripeHarness, find_specs_dir
from paymux_stripe.provider import StripeProvider
from paymux_stripe.report_runs import REPORT_COLUMNS, day_interval
from paymux_stripe.settlement import BALANCE_REPORT
from paymux_stripe.spec_validation import as_lists

SPECS = find_specs_dir(Path(__file__).parent)
RUNS = "/v1/reporting/report_runs"


@pytest.fixture
async def harness() -> AsyncIterator[StripeHarness]:
    started = StripeHarness.start(specs_dir=SPECS, require_spec=True)
    yield started
    assert started.fake.validation_errors() == []
    await started.aclose()


def today() -> date:
    return datetime.now(UTC).date()


def fetcher(harness: StripeHarness) -> SettlementReportFetcher:
    provider = harness.provider
    assert isinstance(provider, SettlementReportFetcher)
    return provider


async def process_a_day(harness: StripeHarness) -> str:
    """A paid 25.00 EUR payment, a 5.00 refund of it and a 15.00 payout; the intent id."""
    provider = harness.provider
    registration = await provider.register_checkout(
        CheckoutRequest(
            payment_id="pe_001",
            amount=Money(2500, "EUR"),
            country="DE",
            payment_method="card",
            buyer_id="buyer-7",
            order_references=("order-1",),
            return_url="https://paymux.example/status/pe_001",
        ),
        idempotency_key="checkout-1",
    )
    await harness.complete_checkout(registration, PaymentStatus.SUCCEEDED)
    await provider.refund(
        RefundRequest(
            refund_id="rf_1", token=registration.token, amount=Money(500, "EUR"), reason=None
        ),
        idempotency_key="refund-1",
    )
    await provider.payout(
        PayoutRequest(
            payout_id="po_1",
            seller_id="seller-1",
            amount=Money(1500, "EUR"),
            destination=PayoutDestination(account="acct_seller1"),
        ),
        idempotency_key="payout-1",
    )
    (intent_id,) = harness.fake.intents
    return intent_id


async def test_none_while_the_run_is_pending_then_the_csv(harness: StripeHarness) -> None:
    await process_a_day(harness)
    harness.fake.report_polls_to_finish = 1

    first = await fetcher(harness).fetch_settlement_report(today())
    second = await fetcher(harness).fetch_settlement_report(today())

    assert first is None
    assert second is not None
    assert second.decode().splitlines()[0].split(",")[:3] == list(REPORT_COLUMNS[:3])
    (created,) = harness.fake.api_requests("POST", RUNS)
    start, end = day_interval(today())
    assert end - start == 86400
    assert datetime.fromtimestamp(start, UTC).date() == today()
    assert as_lists(created.form) == {
        "report_type": "balance_change_from_activity.itemized.3",
        "parameters": {
            "interval_start": str(start),
            "interval_end": str(end),
            "timezone": "Etc/UTC",
            "columns": list(REPORT_COLUMNS),
        },
    }
    assert "payment_intent_id" in REPORT_COLUMNS
    assert "payment_metadata[paymux_payment_id]" in REPORT_COLUMNS
    assert "transfer_metadata[paymux_payout_id]" in REPORT_COLUMNS
    assert created.headers["idempotency-key"].startswith(
        f"paymux-report-balance_change_from_activity.itemized.3-{today().isoformat()}-"
    )
    (run_id,) = harness.fake.report_runs
    assert len(harness.fake.api_requests("GET", f"{RUNS}/{run_id}")) == 1
    (file_id,) = harness.fake.files
    (download,) = harness.fake.api_requests("GET", f"/v1/files/{file_id}/contents")
    assert download.headers["authorization"] == f"Bearer {harness.config.api_key}"


async def test_the_csv_parses_into_lines_of_the_fakes_payments(
    harness: StripeHarness, tmp_path: Path
) -> None:
    intent_id = await process_a_day(harness)

    content = await fetcher(harness).fetch_settlement_report(today())

    assert content is not None
    assert BALANCE_REPORT.accepts(content)
    report = tmp_path / "report.csv"
    report.write_bytes(content)
    frame = pl.concat([check_batch(b, "stripe") for b in BALANCE_REPORT.parse(report)])
    rows = {
        row["type"]: row
        for row in frame.select(
            "type",
            "psp_reference",
            "merchant_reference",
            "gross_minor",
            "fee_minor",
            "net_minor",
            "currency",
            "booking_date",
        ).iter_rows(named=True)
    }
    charge_fee = 2500 * 15 // 1000
    assert rows == {
        "capture": {
            "type": "capture",
            "psp_reference": intent_id,
            "merchant_reference": "pe_001",
            "gross_minor": 2500,
            "fee_minor": charge_fee,
            "net_minor": 2500 - charge_fee,
            "currency": "EUR",
            "booking_date": today(),
        },
        "refund": {
            "type": "refund",
            "psp_reference": intent_id,
            "merchant_reference": "pe_001",
            "gross_minor": -500,
            "fee_minor": 0,
            "net_minor": -500,
            "currency": "EUR",
            "booking_date": today(),
        },
        "payout": {
            "type": "payout",
            "psp_reference": next(iter(harness.fake.transfers)),
            "merchant_reference": "po_1",
            "gross_minor": -1500,
            "fee_minor": 0,
            "net_minor": -1500,
            "currency": "EUR",
            "booking_date": today(),
        },
    }
    (refund_id,) = harness.fake.refunds
    assert frame.filter(pl.col("type") == "refund")["modification_reference"].to_list() == [
        refund_id
    ]


async def test_another_day_holds_only_its_own_activity(harness: StripeHarness) -> None:
    await process_a_day(harness)

    content = await fetcher(harness).fetch_settlement_report(today() - timedelta(days=1))

    assert content is not None
    assert content.decode().splitlines() == [",".join(REPORT_COLUMNS)]


async def test_a_second_provider_finds_the_same_run_by_its_key(harness: StripeHarness) -> None:
    harness.fake.report_polls_to_finish = 5
    assert await fetcher(harness).fetch_settlement_report(today()) is None
    restarted = StripeProvider(harness.config)  # a new process: nothing in memory
    try:
        assert await restarted.fetch_settlement_report(today()) is None
    finally:
        await restarted.aclose()

    assert len(harness.fake.report_runs) == 1
    first, second = harness.fake.api_requests("POST", RUNS)
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]


async def test_a_failed_run_raises_and_the_next_call_starts_a_new_run(
    harness: StripeHarness,
) -> None:
    await process_a_day(harness)
    harness.fake.report_run_error = "internal report error (fake)"

    with pytest.raises(ProviderUnavailableError, match="internal report error"):
        await fetcher(harness).fetch_settlement_report(today())
    harness.fake.report_run_error = None
    content = await fetcher(harness).fetch_settlement_report(today())

    assert content is not None
    assert len(content.decode().splitlines()) == 4  # header, charge, refund, transfer
    assert len(harness.fake.report_runs) == 2


async def test_no_run_before_stripe_has_the_whole_day(harness: StripeHarness) -> None:
    harness.fake.report_data_available_end = day_interval(today())[1] - 1

    assert await fetcher(harness).fetch_settlement_report(today()) is None
    assert harness.fake.api_requests("POST", RUNS) == []


async def test_a_stripe_outage_raises_a_retryable_error(harness: StripeHarness) -> None:
    harness.fake.fail_next("unavailable")

    with pytest.raises(ProviderUnavailableError):
        await fetcher(harness).fetch_settlement_report(today())


@pytest.mark.parametrize(
    ("status", "error"), [(503, ProviderUnavailableError), (404, ProviderRejectedError)]
)
async def test_a_failed_download_raises(
    harness: StripeHarness,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    error: type[Exception],
) -> None:
    def failing(*_args: object) -> Reply:
        return Reply(status, b"files host trouble (fake)", {"Content-Type": "text/plain"})

    monkeypatch.setattr(harness.fake, "_file_contents", failing)

    with pytest.raises(error, match=str(status)):
        await fetcher(harness).fetch_settlement_report(today())


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [(2500, "eur", "25.00"), (-5, "eur", "-0.05"), (1000, "jpy", "1000"), (12340, "kwd", "12.340")],
)
def test_report_amounts_are_major_units_of_stripes_unit(
    amount: int, currency: str, text: str
) -> None:
    assert major(amount, currency) == text
