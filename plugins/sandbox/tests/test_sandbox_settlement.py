"""The sandbox PSP's settlement files: bookings, fees, the closing payouts, faults, the parser."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import polars as pl
import pytest

from paymux.core.ports.provider import CheckoutRequest, PayoutRequest, RefundRequest
from paymux.core.reconciliation.errors import MalformedSettlementError, WrongFormatError
from paymux.core.reconciliation.lines import SettlementLine, SettlementLineType, frame_lines
from paymux.core.reconciliation.parsers import (
    SettlementReportFetcher,
    check_batch,
    choose_parser,
)
from paymux.currencies import Money
from paymux_sandbox import plugin
from paymux_sandbox.bookings import capture_fee
from paymux_sandbox.config import SandboxConfig
from paymux_sandbox.provider import SandboxProvider
from paymux_sandbox.settlement import COLUMNS, SandboxSettlementParser
from paymux_sandbox.settlement_faults import SettlementFaultIn
from paymux_sandbox.simulator import PAYOUT_FAIL_SELLER, DisputeIn, SandboxPsp

BASE = "http://psp.test"
SUCCESS = "4242 4242 4242 4242"
DECLINE = "4000 0000 0000 0002"
DAY = date(2026, 5, 12)
NEXT_DAY = DAY + timedelta(days=1)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 5, 12, 8, 0, tzinfo=UTC)

    def at(self, hour: int, minute: int = 0, day: date = DAY) -> None:
        self.now = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


@dataclass
class Sandbox:
    psp: SandboxPsp
    provider: SandboxProvider
    admin: httpx.AsyncClient
    clock: Clock

    async def pay(
        self, payment_id: str, minor: int, currency: str = "EUR", card: str = SUCCESS
    ) -> str:
        """A checkout of ``payment_id`` paid on the hosted page; its token."""
        registration = await self.provider.register_checkout(
            CheckoutRequest(
                payment_id=payment_id,
                amount=Money(minor, currency),
                country="DE",
                payment_method="card",
                buyer_id="b1",
                order_references=("o1",),
                return_url=f"https://paymux.example/checkout/{payment_id}",
            ),
            idempotency_key=f"k-{payment_id}",
        )
        self.psp.pay(registration.token, card)
        await self.psp.idle()
        return registration.token

    async def refund(self, refund_id: str, token: str, minor: int) -> str:
        result = await self.provider.refund(
            RefundRequest(refund_id, token, Money(minor, "EUR")), idempotency_key=refund_id
        )
        assert result.psp_reference is not None
        return result.psp_reference

    async def payout(self, payout_id: str, seller_id: str, minor: int) -> str:
        result = await self.provider.payout(
            PayoutRequest(payout_id, seller_id, Money(minor, "EUR")), idempotency_key=payout_id
        )
        assert result.psp_reference is not None
        return result.psp_reference

    def reference(self, token: str) -> str:
        return str(self.psp.status(token)["reference"])

    def rows(self, day: date = DAY) -> list[dict[str, str]]:
        return rows(self.psp.settlement_file(day))

    async def add_faults(self, *faults: dict[str, object]) -> dict[str, object]:
        answer = await self.admin.post("/_admin/settlement-faults", json={"faults": list(faults)})
        assert answer.status_code == 200, answer.text
        described: dict[str, object] = answer.json()
        return described


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    clock = Clock()
    config = SandboxConfig(request_timeout_seconds=1.0, webhook_attempts=1)
    psp = SandboxPsp(
        config,
        public_base=BASE,
        webhook_transport=httpx.MockTransport(lambda _: httpx.Response(200)),
        clock=lambda: clock.now,
    )
    provider = SandboxProvider(
        config, base_url=BASE, webhook_url="http://paymux.test/wh", transport=psp.transport()
    )
    admin = httpx.AsyncClient(transport=psp.transport(), base_url=BASE)
    yield Sandbox(psp, provider, admin, clock)
    await admin.aclose()
    await provider.aclose()
    await psp.aclose()


def rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def essentials(row: dict[str, str]) -> tuple[str, ...]:
    """A row without its random line id and batch, and only the hour of its booking."""
    kept = tuple(row[column] for column in COLUMNS if column not in ("line_id", "batch"))
    return (*kept[:-1], row["booked_at"][11:16])


def nets_by_currency(lines: list[dict[str, str]]) -> dict[str, int]:
    """The sum of the nets, per currency, in cents (EUR) or yen (JPY)."""
    totals: dict[str, int] = {}
    for row in lines:
        exponent = 0 if row["currency"] == "JPY" else 2
        minor = int(row["net"].replace(".", "")) if exponent else int(row["net"])
        totals[row["currency"]] = totals.get(row["currency"], 0) + minor
    return totals


def parse(data: bytes, tmp_path: Path) -> list[SettlementLine]:
    path = tmp_path / "settlement.csv"
    path.write_bytes(data)
    parser = choose_parser([SandboxSettlementParser()], "sandbox", path)
    return [
        line for frame in parser.parse(path) for line in frame_lines(check_batch(frame, "sandbox"))
    ]


def parse_checked(path: Path) -> list[pl.DataFrame]:
    return [check_batch(frame, "sandbox") for frame in SandboxSettlementParser().parse(path)]


# -- fees ----------------------------------------------------------------------------------


def test_capture_fees_are_1_4_percent_rounded_half_up_plus_25() -> None:
    assert capture_fee(1000) == 14 + 25
    assert capture_fee(36) == 1 + 25  # 0.504 rounds up
    assert capture_fee(250) == 4 + 25  # 3.5 rounds half up
    assert capture_fee(35) == 0 + 25  # 0.49 rounds down
    assert capture_fee(1) == 25
    with pytest.raises(ValueError, match="positive"):
        capture_fee(0)


# -- the file of a day ---------------------------------------------------------------------


@dataclass
class Day:
    first: str
    second: str
    yen: str
    refund: str
    payout: str
    dispute: str


async def a_busy_day(sandbox: Sandbox) -> Day:
    """Captures in two currencies, a decline, a refund, a paid and a failed payout, a
    dispute opened and won, and a capture the next day."""
    sandbox.clock.at(9)
    first = await sandbox.pay("pay_1", 1000)
    sandbox.clock.at(10)
    second = await sandbox.pay("pay_2", 2550)
    sandbox.clock.at(11)
    yen = await sandbox.pay("pay_3", 1500, "JPY")
    await sandbox.pay("pay_4", 700, card=DECLINE)
    sandbox.clock.at(12)
    refund = await sandbox.refund("re_1", first, 300)
    sandbox.clock.at(13)
    payout = await sandbox.payout("po_1", "seller-a", 500)
    await sandbox.payout("po_2", PAYOUT_FAIL_SELLER, 800)
    sandbox.clock.at(14)
    dispute = sandbox.psp.open_dispute(DisputeIn(token=second))
    sandbox.clock.at(15)
    sandbox.psp.resolve_dispute(dispute.id, "won")
    sandbox.clock.at(9, day=NEXT_DAY)
    await sandbox.pay("pay_5", 4000)
    sandbox.clock.at(18)
    await sandbox.psp.idle()
    return Day(first, second, yen, refund, payout, dispute.id)


async def test_the_file_of_a_day_lists_exactly_what_was_processed(sandbox: Sandbox) -> None:
    day = await a_busy_day(sandbox)
    first, second, yen = (sandbox.reference(t) for t in (day.first, day.second, day.yen))
    lines = sandbox.rows()
    eur, jpy = "sbx_payout_20260512_EUR", "sbx_payout_20260512_JPY"
    assert [essentials(row) for row in lines] == [
        ("capture", first, "", "pay_1", "EUR", "10.00", "0.39", "9.61", "09:00"),
        ("capture", second, "", "pay_2", "EUR", "25.50", "0.61", "24.89", "10:00"),
        ("capture", yen, "", "pay_3", "JPY", "1500", "46", "1454", "11:00"),
        ("refund", first, day.refund, "re_1", "EUR", "-3.00", "0.00", "-3.00", "12:00"),
        ("payout", day.payout, day.payout, "po_1", "EUR", "-5.00", "0.00", "-5.00", "13:00"),
        ("chargeback", second, day.dispute, "pay_2", "EUR", "-25.50", "0.00", "-25.50", "14:00"),
        ("chargeback_reversal", second, day.dispute, "pay_2", "EUR", "25.50", "0.00", "25.50",
         "15:00"),
        ("payout", eur, "", "", "EUR", "-26.50", "0.00", "-26.50", "23:59"),
        ("payout", jpy, "", "", "JPY", "-1454", "0", "-1454", "23:59"),
    ]  # fmt: skip
    assert {row["batch"] for row in lines} == {"sandbox-20260512"}
    assert {row["booked_at"][:11] for row in lines} == {"2026-05-12T"}
    assert {row["booked_at"][16:] for row in lines} == {":00Z", ":59Z"}
    assert [row["line_id"] for row in lines[:7]] == [b.line_id for b in sandbox.psp.bookings[:7]]
    assert len({row["line_id"] for row in lines}) == len(lines)
    header = sandbox.psp.settlement_file(DAY).decode().splitlines()[0]
    assert header == ",".join(COLUMNS)
    assert nets_by_currency(lines) == {"EUR": 0, "JPY": 0}
    next_day = sandbox.rows(NEXT_DAY)
    assert [(row["type"], row["merchant_reference"], row["gross"]) for row in next_day] == [
        ("capture", "pay_5", "40.00"),
        ("payout", "", "-39.19"),  # 40.00 - (0.56 + 0.25)
    ]
    assert sandbox.rows(DAY - timedelta(days=1)) == []  # a quiet day: the header only
    assert sandbox.psp.stats()["bookings"] == 8


async def test_the_simulator_serves_the_file_of_a_day(sandbox: Sandbox) -> None:
    await a_busy_day(sandbox)
    answer = await sandbox.admin.get(f"/_admin/settlements/{DAY}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.content == sandbox.psp.settlement_file(DAY)
    assert 'filename="sandbox-settlement-2026-05-12.csv"' in answer.headers["content-disposition"]
    future = await sandbox.admin.get(f"/_admin/settlements/{NEXT_DAY + timedelta(days=1)}")
    assert future.status_code == 404
    assert (await sandbox.admin.get("/_admin/settlements/yesterday")).status_code == 422


async def test_the_provider_fetches_the_file(sandbox: Sandbox) -> None:
    await a_busy_day(sandbox)
    assert isinstance(sandbox.provider, SettlementReportFetcher)
    assert await sandbox.provider.fetch_settlement_report(DAY) == sandbox.psp.settlement_file(DAY)
    assert await sandbox.provider.fetch_settlement_report(NEXT_DAY + timedelta(days=1)) is None


# -- the parser ----------------------------------------------------------------------------


async def test_the_parser_reads_the_file_back(sandbox: Sandbox, tmp_path: Path) -> None:
    day = await a_busy_day(sandbox)
    first = sandbox.reference(day.first)
    lines = parse(sandbox.psp.settlement_file(DAY), tmp_path)
    bookings = sandbox.psp.bookings
    assert lines[0] == SettlementLine(
        provider="sandbox",
        line_number=2,
        type=SettlementLineType.CAPTURE,
        psp_reference=first,
        gross_minor=1000,
        fee_minor=39,
        net_minor=961,
        currency="EUR",
        booking_date=DAY,
        merchant_reference="pay_1",
        line_reference=bookings[0].line_id,
        payout_batch="sandbox-20260512",
    )
    assert lines[3] == SettlementLine(
        provider="sandbox",
        line_number=5,
        type=SettlementLineType.REFUND,
        psp_reference=first,
        gross_minor=-300,
        fee_minor=0,
        net_minor=-300,
        currency="EUR",
        booking_date=DAY,
        modification_reference=day.refund,
        merchant_reference="re_1",
        line_reference=bookings[3].line_id,
        payout_batch="sandbox-20260512",
    )
    assert [(line.type.value, line.gross_minor, line.currency) for line in lines] == [
        ("capture", 1000, "EUR"),
        ("capture", 2550, "EUR"),
        ("capture", 1500, "JPY"),
        ("refund", -300, "EUR"),
        ("payout", -500, "EUR"),
        ("chargeback", -2550, "EUR"),
        ("chargeback_reversal", 2550, "EUR"),
        ("payout", -2650, "EUR"),
        ("payout", -1454, "JPY"),
    ]
    assert [line.line_number for line in lines] == list(range(2, 11))
    assert lines[-1].psp_reference == "sbx_payout_20260512_JPY"
    assert lines[-1].line_reference == "sbxln_payout_20260512_JPY"
    assert lines[4].psp_reference == day.payout
    assert lines[4].merchant_reference == "po_1"


def test_an_empty_day_parses_to_no_lines(tmp_path: Path) -> None:
    psp = SandboxPsp(SandboxConfig(), public_base=BASE)
    assert parse(psp.settlement_file(DAY), tmp_path) == []


def test_the_parser_is_offered_by_the_plugin() -> None:
    parsers = list(plugin.paymux_add_settlement_parsers())
    assert [(p.provider, p.format, p.settlement_delay) for p in parsers] == [
        ("sandbox", "sandbox_settlement_v1", timedelta(0))
    ]


HEADER = ",".join(COLUMNS)
GOOD = "sbxln_1,capture,sbxref_1,,pay_1,EUR,10.00,0.39,9.61,2026-05-12T09:00:00Z,sandbox-20260512"


def test_columns_are_found_by_name(tmp_path: Path) -> None:
    reordered = [*reversed(COLUMNS), "extra"]
    values = dict(zip(COLUMNS, GOOD.split(","), strict=True)) | {"extra": "x"}
    path = tmp_path / "reordered.csv"
    path.write_text(",".join(reordered) + "\n" + ",".join(values[c] for c in reordered) + "\n")
    parser = SandboxSettlementParser()
    assert parser.accepts(path.read_bytes())
    [frame] = list(parser.parse(path))
    [line] = frame_lines(check_batch(frame, "sandbox"))
    assert (line.psp_reference, line.gross_minor, line.fee_minor, line.net_minor) == (
        "sbxref_1", 1000, 39, 961,
    )  # fmt: skip
    assert line.booking_date == DAY


def test_other_formats_are_refused(tmp_path: Path) -> None:
    parser = SandboxSettlementParser()
    stripe = b"balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category\n"
    assert not parser.accepts(stripe)
    assert not parser.accepts(b"\xff\xfe\x00garbage")
    assert not parser.accepts(b"")
    assert not parser.accepts(HEADER.replace("payment_reference", "psp_reference").encode())
    assert parser.accepts(f"{HEADER}\n{GOOD}\n".encode())
    path = tmp_path / "stripe.csv"
    path.write_bytes(stripe)
    with pytest.raises(WrongFormatError):
        choose_parser([parser], "sandbox", path)


@pytest.mark.parametrize(
    ("content", "line", "reason"),
    [
        (HEADER.replace(",batch", "") + "\n", 1, "columns missing: batch"),
        (HEADER + ",fee\n", 1, "columns repeated: fee"),
        ("", 1, "empty"),
        (f"{HEADER}\n{GOOD}\n{GOOD.replace('capture', 'sale')}\n", 3, "type 'sale'"),
        (f"{HEADER}\n{GOOD}\n{GOOD.replace('10.00', '10.001')}\n", 3, "gross '10.001'"),
        (f"{HEADER}\n{GOOD.replace('EUR', 'EURO')}\n", 2, "currency 'EURO'"),
        (f"{HEADER}\n{GOOD}\n{GOOD.replace('09:00:00Z', '09:00:00')}\n", 3, "booked_at"),
        (f"{HEADER}\n{GOOD.replace('sbxln_1', '')}\n", 2, "line_id is empty"),
        (f"{HEADER}\n{GOOD.replace('sbxref_1', '')}\n", 2, "payment_reference is empty"),
        (f"{HEADER}\n{GOOD}\n{GOOD}\n{GOOD},surplus\n", 4, "cannot be read"),
    ],
)
def test_malformed_files_name_the_line(
    tmp_path: Path, content: str, line: int, reason: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(MalformedSettlementError) as raised:
        parse_checked(path)
    assert raised.value.line_number == line
    assert reason in raised.value.reason


def test_a_line_whose_net_is_not_gross_minus_fee_fails_the_batch_check(tmp_path: Path) -> None:
    path = tmp_path / "net.csv"
    path.write_text(f"{HEADER}\n{GOOD}\n{GOOD.replace('9.61', '9.62')}\n")
    [frame] = list(SandboxSettlementParser().parse(path))
    with pytest.raises(MalformedSettlementError) as raised:
        check_batch(frame, "sandbox")
    assert raised.value.line_number == 3


def test_large_files_come_in_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("paymux_sandbox.settlement.BATCH_ROWS", 2)
    path = tmp_path / "five.csv"
    path.write_text(
        HEADER + "\n" + "".join(f"{GOOD.replace('sbxln_1', f'l{i}')}\n" for i in range(5))
    )
    frames = list(SandboxSettlementParser().parse(path))
    assert [frame.height for frame in frames] == [2, 2, 1]
    assert pl.concat(frames)["line_number"].to_list() == [2, 3, 4, 5, 6]
    assert pl.concat(frames)["line_reference"].to_list() == ["l0", "l1", "l2", "l3", "l4"]


# -- faults --------------------------------------------------------------------------------


async def two_payments(sandbox: Sandbox) -> tuple[str, str]:
    sandbox.clock.at(9)
    first = await sandbox.pay("pay_1", 1000)
    sandbox.clock.at(10)
    second = await sandbox.pay("pay_2", 2000)
    sandbox.clock.at(11)
    await sandbox.refund("re_1", first, 300)
    sandbox.clock.at(20)
    return first, second


def summary(lines: list[dict[str, str]]) -> list[tuple[str, str, str]]:
    return [(row["type"], row["merchant_reference"], row["gross"]) for row in lines]


async def test_without_faults_both_payments_and_the_refund_are_there(sandbox: Sandbox) -> None:
    await two_payments(sandbox)
    assert summary(sandbox.rows()) == [
        ("capture", "pay_1", "10.00"),
        ("capture", "pay_2", "20.00"),
        ("refund", "re_1", "-3.00"),
        ("payout", "", "-26.08"),  # 9.61 + 19.47 - 3.00
    ]


async def test_drop_leaves_the_payments_lines_out(sandbox: Sandbox) -> None:
    await two_payments(sandbox)
    await sandbox.add_faults({"fault": "drop", "reference": "pay_1"})
    lines = sandbox.rows()
    assert summary(lines) == [("capture", "pay_2", "20.00"), ("payout", "", "-19.47")]
    assert nets_by_currency(lines) == {"EUR": 0}


async def test_drop_aimed_at_one_type_by_the_sandbox_reference(sandbox: Sandbox) -> None:
    first, _ = await two_payments(sandbox)
    await sandbox.add_faults(
        {"fault": "drop", "reference": sandbox.reference(first), "type": "refund"}
    )
    assert summary(sandbox.rows()) == [
        ("capture", "pay_1", "10.00"),
        ("capture", "pay_2", "20.00"),
        ("payout", "", "-29.08"),
    ]


async def test_change_amount_adds_one_minor_unit_or_a_given_delta(sandbox: Sandbox) -> None:
    first, second = await two_payments(sandbox)
    await sandbox.add_faults(
        {"fault": "change_amount", "reference": first, "type": "capture"},
        {"fault": "change_amount", "reference": "re_1", "delta_minor": -250},
    )
    lines = sandbox.rows()
    assert [essentials(row)[:8] for row in lines[:3]] == [
        ("capture", sandbox.reference(first), "", "pay_1", "EUR", "10.01", "0.39", "9.62"),
        ("capture", sandbox.reference(second), "", "pay_2", "EUR", "20.00", "0.53", "19.47"),
        ("refund", sandbox.reference(first), lines[2]["modification_reference"], "re_1",
         "EUR", "-5.50", "0.00", "-5.50"),
    ]  # fmt: skip
    assert nets_by_currency(lines) == {"EUR": 0}


async def test_duplicate_repeats_the_line_with_its_id(sandbox: Sandbox, tmp_path: Path) -> None:
    _, second = await two_payments(sandbox)
    await sandbox.add_faults({"fault": "duplicate", "reference": second})
    lines = sandbox.rows()
    assert summary(lines) == [
        ("capture", "pay_1", "10.00"),
        ("capture", "pay_2", "20.00"),
        ("capture", "pay_2", "20.00"),
        ("refund", "re_1", "-3.00"),
        ("payout", "", "-45.55"),
    ]
    assert lines[1] == lines[2]
    parsed = parse(sandbox.psp.settlement_file(DAY), tmp_path)  # check_batch passes
    assert parsed[1].line_reference == parsed[2].line_reference
    assert (parsed[1].line_number, parsed[2].line_number) == (3, 4)


async def test_late_moves_the_line_to_the_next_days_file(sandbox: Sandbox, tmp_path: Path) -> None:
    first, _ = await two_payments(sandbox)
    await sandbox.add_faults({"fault": "late", "reference": first, "type": "capture"})
    assert summary(sandbox.rows()) == [
        ("capture", "pay_2", "20.00"),
        ("refund", "re_1", "-3.00"),
        ("payout", "", "-16.47"),
    ]
    sandbox.clock.at(9, day=NEXT_DAY)
    await sandbox.pay("pay_3", 500)
    late = sandbox.rows(NEXT_DAY)
    assert [(row["merchant_reference"], row["booked_at"], row["batch"]) for row in late] == [
        ("pay_1", "2026-05-13T09:00:00Z", "sandbox-20260513"),  # one day late, before pay_3
        ("pay_3", "2026-05-13T09:00:00Z", "sandbox-20260513"),
        ("", "2026-05-13T23:59:59Z", "sandbox-20260513"),
    ]
    assert late[0]["line_id"] == sandbox.psp.bookings[0].line_id
    assert late[2]["gross"] == "-14.29"  # 9.61 + 4.68
    parsed = parse(sandbox.psp.settlement_file(NEXT_DAY), tmp_path)
    assert parsed[0].booking_date == NEXT_DAY
    assert parsed[0].merchant_reference == "pay_1"


async def test_a_fault_without_a_reference_hits_the_next_file_and_stays(sandbox: Sandbox) -> None:
    await two_payments(sandbox)
    described = await sandbox.add_faults({"fault": "drop", "type": "capture"})
    assert described["faults"] == [
        {"fault": "drop", "reference": None, "type": "capture", "delta_minor": 1, "lines": 1,
         "line_ids": None},
    ]  # fmt: skip
    dropped = summary(sandbox.rows())
    assert dropped == [
        ("capture", "pay_2", "20.00"),
        ("refund", "re_1", "-3.00"),
        ("payout", "", "-16.47"),
    ]
    assert summary(sandbox.rows()) == dropped  # the same file again: the same fault
    taken = (await sandbox.admin.get("/_admin/settlement-faults")).json()["faults"]
    assert taken[0]["line_ids"] == [sandbox.psp.bookings[0].line_id]
    sandbox.clock.at(9, day=NEXT_DAY)
    await sandbox.pay("pay_3", 500)
    assert [row["merchant_reference"] for row in sandbox.rows(NEXT_DAY)] == ["pay_3", ""]


async def test_faults_without_a_reference_take_different_lines(sandbox: Sandbox) -> None:
    await two_payments(sandbox)
    sandbox.psp.settlement_faults.add(SettlementFaultIn(fault="duplicate"))
    sandbox.psp.settlement_faults.add(SettlementFaultIn(fault="change_amount", lines=2))
    assert summary(sandbox.rows()) == [
        ("capture", "pay_1", "10.00"),
        ("capture", "pay_1", "10.00"),
        ("capture", "pay_2", "20.01"),
        ("refund", "re_1", "-2.99"),
        ("payout", "", "-35.71"),
    ]


async def test_a_fault_without_a_reference_waits_for_a_file_with_lines(sandbox: Sandbox) -> None:
    await sandbox.add_faults({"fault": "late"})
    assert sandbox.rows(DAY - timedelta(days=1)) == []  # nothing to hit: it waits
    await two_payments(sandbox)
    assert summary(sandbox.rows()) == [
        ("capture", "pay_2", "20.00"),
        ("refund", "re_1", "-3.00"),
        ("payout", "", "-16.47"),
    ]
    assert summary(sandbox.rows(NEXT_DAY)) == [
        ("capture", "pay_1", "10.00"),
        ("payout", "", "-9.61"),
    ]


async def test_a_reset_writes_the_true_files_again(sandbox: Sandbox) -> None:
    await two_payments(sandbox)
    truth = sandbox.rows()
    await sandbox.add_faults({"fault": "drop"}, {"fault": "late", "reference": "pay_2"})
    assert sandbox.rows() != truth
    assert (await sandbox.admin.delete("/_admin/settlement-faults")).status_code == 204
    assert sandbox.rows() == truth
    assert (await sandbox.admin.get("/_admin/settlement-faults")).json() == {"faults": []}


@pytest.mark.parametrize(
    "fault",
    [
        {"fault": "explode"},
        {"fault": "change_amount", "delta_minor": 0},
        {"fault": "drop", "delta_minor": 5},
        {"fault": "drop", "reference": "pay_1", "lines": 2},
        {"fault": "drop", "type": "sale"},
        {"fault": "drop", "reference": ""},
    ],
)
async def test_bad_faults_are_refused(sandbox: Sandbox, fault: dict[str, object]) -> None:
    answer = await sandbox.admin.post("/_admin/settlement-faults", json={"faults": [fault]})
    assert answer.status_code == 422
    assert (await sandbox.admin.get("/_admin/settlement-faults")).json() == {"faults": []}


async def test_refunds_and_payouts_carry_paymuxs_ids_to_the_sandbox(sandbox: Sandbox) -> None:
    token = await sandbox.pay("pay_1", 1000)
    refund = await sandbox.refund("re_9", token, 100)
    payout = await sandbox.payout("po_9", "seller-a", 200)
    refund_line, payout_line = sandbox.psp.bookings[1:]
    assert (refund_line.modification_reference, refund_line.merchant_reference) == (refund, "re_9")
    assert (payout_line.payment_reference, payout_line.merchant_reference) == (payout, "po_9")
    body = json.dumps({"faults": [{"fault": "drop", "reference": "po_9"}]})
    await sandbox.admin.post(
        "/_admin/settlement-faults", content=body, headers={"content-type": "application/json"}
    )
    assert [row["type"] for row in sandbox.rows(sandbox.clock.now.date())] == [
        "capture",
        "refund",
        "payout",
    ]  # the seller payout is dropped, the closing payout stays
