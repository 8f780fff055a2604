"""The Square provider fetches a day's payouts and entries from (the fake) Square."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import (
    CheckoutRegistration,
    CheckoutRequest,
    ProviderUnavailableError,
    RefundRequest,
)
from paymux.core.reconciliation.lines import SettlementLine, SettlementLineType, frame_lines
from paymux.core.reconciliation.parsers import SettlementReportFetcher, check_batch
from paymux.currencies import Money
from paymux_square.fake_payouts import processing_fee
from paymux_square.harness import LOCATION_ID, SquareHarness
from paymux_square.settlement import SETTLEMENT_PARSER
from paymux_square.spec_validation import schema_errors

T = SettlementLineType


@pytest.fixture
async def harness() -> AsyncIterator[SquareHarness]:
    async with SquareHarness() as harness:
        yield harness
        assert harness.invalid_requests() == []


async def paid(harness: SquareHarness, payment_id: str, amount: Money) -> CheckoutRegistration:
    request = CheckoutRequest(
        payment_id=payment_id,
        amount=amount,
        country="US",
        payment_method="card",
        buyer_id="buyer-1",
        order_references=("order-1",),
        return_url=f"https://paymux.test/checkout/{payment_id}",
    )
    registration = await harness.provider.register_checkout(
        request, idempotency_key=f"key-{payment_id}"
    )
    await harness.complete_checkout(registration, PaymentStatus.SUCCEEDED)
    return registration


def square_payment_id(harness: SquareHarness, registration: CheckoutRegistration) -> str:
    [payment] = [p for p in harness.fake.payments.values() if p["order_id"] == registration.token]
    return str(payment["id"])


def activity_day(harness: SquareHarness) -> date:
    first = min(p["created_at"] for p in harness.fake.payments.values())
    return datetime.fromisoformat(first).date()


def parse(tmp_path: Path, report: bytes) -> list[SettlementLine]:
    path = tmp_path / "square.json"
    path.write_bytes(report)
    assert SETTLEMENT_PARSER.accepts(report)
    batches = [check_batch(batch, "square") for batch in SETTLEMENT_PARSER.parse(path)]
    return [line for batch in batches for line in frame_lines(batch)]


async def test_the_report_of_the_payout_day_parses_into_the_fakes_payments(
    harness: SquareHarness, tmp_path: Path
) -> None:
    provider = harness.provider
    assert isinstance(provider, SettlementReportFetcher)
    first = await paid(harness, "pe_first", Money(2500, "USD"))
    second = await paid(harness, "pe_second", Money(1000, "USD"))
    declined = await harness.provider.register_checkout(
        CheckoutRequest(
            payment_id="pe_declined",
            amount=Money(700, "USD"),
            country="US",
            payment_method="card",
            buyer_id="buyer-1",
            order_references=("order-3",),
            return_url="https://paymux.test/checkout/pe_declined",
        ),
        idempotency_key="key-declined",
    )
    await harness.complete_checkout(declined, PaymentStatus.FAILED)
    refund = await provider.refund(
        RefundRequest(refund_id="re_1", token=first.token, amount=Money(400, "USD")),
        idempotency_key="key-refund",
    )
    harness.fake.settle_refund(str(refund.psp_reference), "COMPLETED")
    pay_1, pay_2 = square_payment_id(harness, first), square_payment_id(harness, second)
    day = activity_day(harness)

    # Square sends the day's payout the next morning: nothing was created on the day itself.
    assert await provider.fetch_settlement_report(day) is None
    report = await provider.fetch_settlement_report(day + timedelta(days=1))

    assert report is not None
    document = json.loads(report)
    for payout in document["payouts"]:
        assert schema_errors("Payout", payout) == []
    for entry in document["payout_entries"]:
        assert schema_errors("PayoutEntry", entry) == []
    lines = parse(tmp_path, report)
    [payout] = [line for line in lines if line.type is T.PAYOUT]
    net = 2500 + 1000 - processing_fee(2500) - processing_fee(1000) - 400
    assert (payout.gross_minor, payout.net_minor, payout.currency) == (-net, -net, "USD")
    assert payout.booking_date == day + timedelta(days=1)
    entries = sorted(
        (line.type, line.psp_reference, line.gross_minor, line.fee_minor, line.net_minor)
        for line in lines
        if line.type is not T.PAYOUT
    )
    assert entries == sorted(
        [
            (T.CAPTURE, pay_1, 2500, 0, 2500),
            (T.FEE, pay_1, 0, processing_fee(2500), -processing_fee(2500)),
            (T.CAPTURE, pay_2, 1000, 0, 1000),
            (T.FEE, pay_2, 0, processing_fee(1000), -processing_fee(1000)),
            (T.REFUND, pay_1, -400, 0, -400),
        ]
    )
    assert {line.payout_batch for line in lines} == {payout.psp_reference}
    assert {line.booking_date for line in lines if line.type is not T.PAYOUT} == {day}
    [refund_line] = [line for line in lines if line.type is T.REFUND]
    assert refund_line.modification_reference == refund.psp_reference

    listing = [r for r in harness.fake.requests if r.path == "/v2/payouts"]
    assert listing[-1].query["location_id"] == LOCATION_ID
    next_day = (day + timedelta(days=1)).isoformat()
    assert listing[-1].query["begin_time"] == f"{next_day}T00:00:00Z"
    assert listing[-1].query["end_time"] == f"{(day + timedelta(days=2)).isoformat()}T00:00:00Z"


async def test_every_page_of_payouts_and_entries_is_followed(harness: SquareHarness) -> None:
    await paid(harness, "pe_usd", Money(2500, "USD"))
    await paid(harness, "pe_cad", Money(1800, "CAD"))  # another currency, another payout
    harness.fake.page_size = 1
    day = activity_day(harness) + timedelta(days=1)

    report = await harness.provider.fetch_settlement_report(day)

    assert report is not None
    document = json.loads(report)
    assert sorted(p["amount_money"]["currency"] for p in document["payouts"]) == ["CAD", "USD"]
    assert len(document["payout_entries"]) == 4  # a charge and its fee per payout
    assert len({entry["id"] for entry in document["payout_entries"]}) == 4
    paths = [(r.path, r.query.get("cursor")) for r in harness.fake.requests if "payout" in r.path]
    assert paths.count(("/v2/payouts", None)) == 1
    assert paths.count(("/v2/payouts", "1")) == 1
    for payout in document["payouts"]:
        entries_path = f"/v2/payouts/{payout['id']}/payout-entries"
        assert [cursor for path, cursor in paths if path == entries_path] == [None, "1"]


async def test_a_day_without_payouts_gives_none(harness: SquareHarness) -> None:
    assert await harness.provider.fetch_settlement_report(date(2025, 3, 3)) is None
    await paid(harness, "pe_1", Money(2500, "USD"))
    # Another day, and another location's payouts, are not this report.
    assert await harness.provider.fetch_settlement_report(date(2025, 3, 3)) is None
    harness.fake.payments[next(iter(harness.fake.payments))]["location_id"] = "OTHER"
    day = activity_day(harness) + timedelta(days=1)
    assert await harness.provider.fetch_settlement_report(day) is None
    assert [r.path for r in harness.fake.requests if "payout" in r.path] == ["/v2/payouts"] * 3


@pytest.mark.parametrize("failing", ["/v2/payouts", "/v2/payouts/"])
async def test_a_server_error_raises_so_the_job_retries(
    harness: SquareHarness, failing: str
) -> None:
    await paid(harness, "pe_1", Money(2500, "USD"))
    # "/v2/payouts/": the payout's entries fail, after the listing succeeded.
    harness.fake.fail_next("server_error", path_prefix=failing)
    with pytest.raises(ProviderUnavailableError, match="503"):
        await harness.provider.fetch_settlement_report(activity_day(harness) + timedelta(days=1))
