"""Payments settled in another currency: the settlement amounts, the posting rules, and the
payment service locking and storing the quote (``docs/concepts/fx.md``)."""

from __future__ import annotations

import json
import tomllib
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from paymux.core.domain.checkout import CheckoutDraft, OrderDraft
from paymux.core.domain.errors import FxRateUnavailableError
from paymux.core.domain.models import PaymentEvent, PaymentOrder
from paymux.core.domain.status import PaymentStatus
from paymux.core.fx.fixed_rates import FixedRateSource
from paymux.core.fx.quotes import Quote, Quoter, convert
from paymux.core.fx.rates import Rate
from paymux.core.fx.settlement import settlement_amounts, settlement_share
from paymux.core.ledger.accounts import Purpose
from paymux.core.ledger.journal import JournalEntry
from paymux.core.ledger.rules import (
    ChargebackLost,
    ChargebackOpened,
    ChargebackWon,
    FxSettled,
    OrderFacts,
    PaymentSucceeded,
    RefundSucceeded,
    default_entry,
)
from paymux.core.markets_config import MarketsConfigError, parse_markets, resolve_provider_configs
from paymux.core.ports.provider import ProviderEvent
from paymux.core.providers import ProviderRegistry, settlement_currencies
from paymux.core.services.idempotency import IdempotentRequest
from paymux.core.services.payments import PaymentService, late_provider_side
from paymux.core.storage.database import Database, sync_url
from paymux.core.storage.unit_of_work import PaymentStore
from paymux.currencies import Money
from paymux_fakes import FakeProvider
from paymux_fx_support import postings as ledger_rows
from paymux_test_support import count_rows

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def jpy(minor: int) -> Money:
    return Money(minor, "JPY")


def usd(minor: int) -> Money:
    return Money(minor, "USD")


def quote(rate: str = "0.0066") -> Quote:
    return Quote("JPY", "USD", Decimal(rate), "fixed", NOW.date(), NOW, NOW.replace(hour=13))


def by_currency(entry: JournalEntry) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for posting in entry.postings:
        totals[posting.amount.currency] += posting.amount.minor
    return dict(totals)


def postings(entry: JournalEntry) -> set[tuple[str, str, str, int]]:
    """``(purpose, owner, currency, signed minor)`` per posting."""
    return {
        (p.account.purpose.value, p.account.owner_id, p.amount.currency, p.amount.minor)
        for p in entry.postings
    }


# -- settlement amounts ------------------------------------------------------------------


def test_the_total_is_converted_once_and_shared_out_to_the_orders() -> None:
    total, shares = settlement_amounts([jpy(1000), jpy(2333)], quote())
    # 3333 JPY * 0.0066 = 21.9978 USD -> 22.00 (one rounding step)
    assert total == convert(jpy(3333), quote()) == usd(2200)
    # 2200 * 1000/3333 = 660.07, 2200 * 2333/3333 = 1539.93: largest remainder
    assert shares == (usd(660), usd(1540))
    assert sum(share.minor for share in shares) == total.minor
    # converting each order on its own would give 6.60 + 15.40 here, but not in general:
    three = settlement_amounts([jpy(1), jpy(1), jpy(1)], quote("0.005"))
    assert three == (usd(2), (usd(1), usd(1), usd(0)))  # 0.015 USD -> 0.02, shared out


def test_a_share_of_an_order_is_proportional_and_the_whole_order_is_exact() -> None:
    assert settlement_share(jpy(1000), jpy(1000), usd(660)) == usd(660)
    assert settlement_share(jpy(500), jpy(1000), usd(660)) == usd(330)
    assert settlement_share(jpy(1), jpy(3), usd(5)) == usd(2)  # 1.666.. -> 2
    assert settlement_share(jpy(1), jpy(4), usd(2)) == usd(0)  # 0.5 -> 0 (half to even)
    assert settlement_share(jpy(3), jpy(4), usd(2)) == usd(2)  # 1.5 -> 2 (half to even)


# -- posting rules ---------------------------------------------------------------------


SETTLED = Money(660, "USD")


def facts(settlement: Money | None = SETTLED) -> OrderFacts:
    return OrderFacts(
        "c1", "pay1", "po1", "s1", "sandbox", jpy(1000), jpy(100), jpy(50), settlement
    )


def test_a_converted_payment_posts_both_currencies_through_fx_conversion() -> None:
    entry = default_entry(PaymentSucceeded(facts()))
    assert postings(entry) == {
        ("psp_clearing", "sandbox", "USD", 660),
        ("fx_conversion", "platform", "USD", -660),
        ("fx_conversion", "platform", "JPY", 1000),
        ("seller_pending", "s1", "JPY", -1000),
    }
    assert by_currency(entry) == {"USD": 0, "JPY": 0}


def test_an_unconverted_payment_posts_as_before() -> None:
    entry = default_entry(PaymentSucceeded(facts(None)))
    assert postings(entry) == {
        ("psp_clearing", "sandbox", "JPY", 1000),
        ("seller_pending", "s1", "JPY", -1000),
    }


@pytest.mark.parametrize(
    ("amount", "given"), [(1000, 660), (500, 330), (333, 220)], ids=["full", "half", "third"]
)
def test_a_refund_before_release_gives_back_its_share_in_the_settlement_currency(
    amount: int, given: int
) -> None:
    entry = default_entry(RefundSucceeded(facts(), "rf1", jpy(amount), False, jpy(0)))
    assert postings(entry) == {
        ("seller_pending", "s1", "JPY", amount),
        ("psp_clearing", "sandbox", "USD", -given),
        ("fx_conversion", "platform", "USD", given),
        ("fx_conversion", "platform", "JPY", -amount),
    }
    assert by_currency(entry) == {"USD": 0, "JPY": 0}


def test_a_refund_after_release_takes_the_seller_side_in_the_presentment_currency() -> None:
    entry = default_entry(RefundSucceeded(facts(), "rf1", jpy(1000), True, jpy(400)))
    assert postings(entry) == {
        ("seller_available", "s1", "JPY", 400),
        ("seller_receivable", "s1", "JPY", 450),
        ("commission", "platform", "JPY", 100),
        ("logistics_fees", "platform", "JPY", 50),
        ("psp_clearing", "sandbox", "USD", -660),
        ("fx_conversion", "platform", "USD", 660),
        ("fx_conversion", "platform", "JPY", -1000),
    }
    assert by_currency(entry) == {"USD": 0, "JPY": 0}


def test_a_chargeback_moves_the_provider_side_in_the_settlement_currency() -> None:
    opened = default_entry(ChargebackOpened(facts(), "cb1", jpy(500), False, jpy(0)))
    assert postings(opened) == {
        ("seller_pending", "s1", "JPY", 500),
        ("seller_disputed", "s1", "JPY", -500),
        ("psp_disputed", "sandbox", "USD", 330),
        ("psp_clearing", "sandbox", "USD", -330),
    }
    won = default_entry(ChargebackWon(facts(), "cb1", jpy(500), False))
    assert postings(won) == {
        ("psp_clearing", "sandbox", "USD", 330),
        ("psp_disputed", "sandbox", "USD", -330),
        ("seller_disputed", "s1", "JPY", 500),
        ("seller_pending", "s1", "JPY", -500),
    }
    lost = default_entry(ChargebackLost(facts(), "cb1", jpy(500)))
    assert postings(lost) == {
        ("seller_disputed", "s1", "JPY", 500),
        ("psp_disputed", "sandbox", "USD", -330),
        ("fx_conversion", "platform", "USD", 330),
        ("fx_conversion", "platform", "JPY", -500),
    }
    for entry in (opened, won, lost):
        assert set(by_currency(entry).values()) == {0}


@pytest.mark.parametrize(("difference", "clearing"), [(-22, -22), (15, 15)], ids=["loss", "gain"])
def test_the_settlement_difference_goes_to_fx_gain_loss(difference: int, clearing: int) -> None:
    entry = default_entry(FxSettled("c1", "sandbox", "pay1", usd(difference), "capture:pay1:USD"))
    assert entry.reference == "fx_settled:sandbox:capture:pay1:USD"
    assert postings(entry) == {
        ("psp_clearing", "sandbox", "USD", clearing),
        ("fx_gain_loss", "platform", "USD", -clearing),
    }


# -- the payment service ---------------------------------------------------------------


class CountingSource:
    """Fixed rates that count how often they are asked."""

    def __init__(self, rates: dict[str, str], as_of: date | None = None) -> None:
        self.fixed = FixedRateSource(rates, as_of=as_of)
        self.asked = 0

    @property
    def name(self) -> str:
        return "fixed"

    async def rate(self, base: str, quote: str) -> Rate:
        self.asked += 1
        return await self.fixed.rate(base, quote)


@dataclass
class Harness:
    service: PaymentService
    source: CountingSource
    database: Database


def make_service(
    database: Database, source: CountingSource | None, provider: FakeProvider
) -> PaymentService:
    return PaymentService(
        store=PaymentStore(database),
        providers=ProviderRegistry([provider]),
        buyer_return_url=lambda payment: f"https://paymux.example/checkout/{payment.id}",
        lock_seconds=60,
        clock=lambda: NOW,
        quoter=None if source is None else Quoter(source, clock=lambda: NOW),
        settlement_currencies=settlement_currencies({"fake": {"settlement_currency": "USD"}}),
    )


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    database = Database(database_url)
    source = CountingSource({"JPY/USD": "0.0066"})
    provider = FakeProvider(currencies=frozenset({"JPY", "USD"}))
    yield Harness(make_service(database, source, provider), source, database)
    await database.dispose()


def yen_draft(currency: str = "JPY") -> CheckoutDraft:
    def money(minor: int) -> Money:
        return Money(minor, currency)

    return CheckoutDraft(
        buyer_id="b1",
        currency=currency,
        country="JP",
        payment_method="card",
        return_url="https://shop.example/back",
        orders=(
            OrderDraft("s1", money(1000), money(100), money(50), "o1"),
            OrderDraft("s2", money(2333), money(0), money(0), "o2"),
        ),
    )


def render(payment: PaymentEvent) -> str:
    return json.dumps(
        {
            "id": payment.id,
            "quote": None if payment.fx_quote is None else payment.fx_quote.as_dict(),
        }
    )


def request(key: str = "k1") -> IdempotentRequest:
    return IdempotentRequest(client_id="c1", key=key, fingerprint="f1")


def outbox_payloads(database_url: str, topic: str) -> list[dict[str, object]]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT payload FROM outbox_event WHERE topic = :topic"), {"topic": topic}
            ).all()
    finally:
        engine.dispose()
    return [json.loads(row[0]) for row in rows]


async def test_a_converted_payment_stores_its_quote_and_settlement_amounts(
    harness: Harness, database_url: str
) -> None:
    stored = await harness.service.create_payment(request(), yen_draft(), render)
    assert harness.source.asked == 1
    payment_id = json.loads(stored.body)["id"]
    payment = await harness.service.get_payment(payment_id, client_id="c1")
    assert payment.currency == "JPY"
    assert payment.settles_in == "USD"
    assert payment.fx_quote is not None
    assert payment.fx_quote.as_dict() == json.loads(stored.body)["quote"]
    assert (payment.fx_quote.rate, payment.fx_quote.source) == (Decimal("0.0066"), "fixed")
    assert payment.settlement_total == usd(2200)
    assert [o.settlement_amount for o in payment.orders] == [usd(660), usd(1540)]

    created = outbox_payloads(database_url, "payment.created")
    assert [(p["currency"], p["amount_minor"]) for p in created] == [("JPY", 3333)]
    assert (created[0]["settlement_currency"], created[0]["settlement_amount_minor"]) == (
        "USD",
        2200,
    )

    replay = await harness.service.create_payment(request(), yen_draft(), render)
    assert replay.replayed
    assert replay.body == stored.body
    assert harness.source.asked == 1  # a replay locks no new quote

    await harness.service.apply_provider_events(
        "fake", [ProviderEvent(event_id="e1", token="tok_0", status=PaymentStatus.SUCCEEDED)]
    )
    rows = ledger_rows(database_url)
    first = sorted(r[1:] for r in rows if r[0] == f"payment_succeeded:{payment.orders[0].id}")
    assert first == sorted(
        [
            ("psp_clearing", "fake", "USD", 660),
            ("fx_conversion", "platform", "USD", -660),
            ("fx_conversion", "platform", "JPY", 1000),
            ("seller_pending", "s1", "JPY", -1000),
        ]
    )
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for reference, _purpose, _owner, currency, minor in rows:
        totals[(reference, currency)] += minor
    assert set(totals.values()) == {0}  # every transaction balances per currency
    clearing = sum(r[4] for r in rows if r[1] == "psp_clearing")
    assert clearing == 2200  # in USD: the settlement amount, to the minor unit


async def test_a_payment_in_the_settlement_currency_needs_no_quote(harness: Harness) -> None:
    stored = await harness.service.create_payment(request(), yen_draft("USD"), render)
    assert harness.source.asked == 0
    payment = await harness.service.get_payment(json.loads(stored.body)["id"], client_id="c1")
    assert (payment.settles_in, payment.fx_quote, payment.settlement_total) == ("USD", None, None)
    assert {o.settlement_amount for o in payment.orders} == {None}


async def test_without_a_rate_source_nothing_is_written(database_url: str) -> None:
    database = Database(database_url)
    provider = FakeProvider(currencies=frozenset({"JPY"}))
    try:
        service = make_service(database, None, provider)
        with pytest.raises(FxRateUnavailableError, match="no rate source"):
            await service.create_payment(request(), yen_draft(), render)
    finally:
        await database.dispose()
    counts = count_rows(database_url)
    assert (counts["payment_event"], counts["idempotency_key"], counts["outbox_event"]) == (0, 0, 0)
    assert provider.calls == []


@pytest.mark.parametrize(
    ("rates", "as_of"),
    [({"EUR/USD": "1.08"}, None), ({"JPY/USD": "0.0066"}, date(2026, 11, 10))],
    ids=["no rate for the pair", "stale rate"],
)
async def test_no_fresh_rate_refuses_the_payment(
    database_url: str, rates: dict[str, str], as_of: date | None
) -> None:
    database = Database(database_url)
    provider = FakeProvider(currencies=frozenset({"JPY"}))
    try:
        service = make_service(database, CountingSource(rates, as_of), provider)
        with pytest.raises(FxRateUnavailableError):
            await service.create_payment(request(), yen_draft(), render)
    finally:
        await database.dispose()
    assert count_rows(database_url)["payment_event"] == 0
    assert provider.calls == []


def test_the_settlement_currency_must_be_a_currency() -> None:
    assert settlement_currencies({"a": {}, "b": {"settlement_currency": "USD"}}) == {"b": "USD"}
    with pytest.raises(ValueError, match=r"providers\.b\.settlement_currency"):
        settlement_currencies({"b": {"settlement_currency": "XYZ"}})
    assert Purpose.FX_GAIN_LOSS.value == "fx_gain_loss"


def test_late_money_of_a_converted_payment_is_held_in_the_settlement_currency() -> None:
    def order(order_id: str, amount: int, settled: int, status: PaymentStatus) -> PaymentOrder:
        return PaymentOrder(
            order_id, "pay1", "s1", jpy(amount), jpy(0), jpy(0), order_id, status, None,
            NOW, NOW, settlement_amount=usd(settled),
        )  # fmt: skip

    payment = PaymentEvent(
        id="pay1", client_id="c1", buyer_id="b1", currency="JPY", country="JP",
        payment_method="card", return_url="https://shop.example", provider="fake",
        created_at=NOW, registration=None, settlement_currency="USD", fx_quote=quote(),
        orders=(
            order("o1", 1000, 660, PaymentStatus.EXPIRED),
            order("o2", 2333, 1540, PaymentStatus.EXPIRED),
        ),
    )  # fmt: skip
    assert late_provider_side(payment, jpy(3333)) == usd(2200)  # the stored amounts
    assert late_provider_side(payment, jpy(1000)) == usd(660)  # converted at the quote
    unconverted = replace(payment, fx_quote=None, settlement_currency=None)
    assert late_provider_side(unconverted, jpy(3333)) == jpy(3333)


MARKETS = """
version = 1
[providers.sandbox]
settlement_currency = "{code}"
config = {{ fx_spread = "0.01" }}
[markets.jp]
countries = ["JP"]
[markets.jp.currencies.JPY]
methods = {{ card = ["sandbox"] }}
"""


def test_the_markets_file_names_a_providers_settlement_currency() -> None:
    config = parse_markets(tomllib.loads(MARKETS.format(code="USD")))
    assert config.providers["sandbox"].settlement_currency == "USD"
    assert resolve_provider_configs(config, {}) == {
        "sandbox": {"fx_spread": "0.01", "settlement_currency": "USD"}
    }
    with pytest.raises(MarketsConfigError) as raised:
        parse_markets(tomllib.loads(MARKETS.format(code="XYZ")))
    assert raised.value.errors[0].startswith("providers.sandbox.settlement_currency: ")


def test_partial_settlement_shares_are_allocated_cumulatively() -> None:
    order, settled = Money(1000, "JPY"), Money(660, "USD")
    shares = []
    prior = Money(0, "JPY")
    for minor in (5, 5, 990):
        shares.append(settlement_share(Money(minor, "JPY"), order, settled, prior=prior).minor)
        prior += Money(minor, "JPY")
    assert shares == [3, 4, 653]
    # without a prior, a part is its own rounded share; the whole order is exactly S
    assert settlement_share(Money(5, "JPY"), order, settled).minor == 3
    assert settlement_share(order, order, settled) == settled


@given(st.lists(st.integers(1, 50), min_size=1, max_size=20), st.integers(1, 10**6))
def test_any_sequence_of_parts_sums_to_the_settlement_amount(
    weights: list[int], settlement_minor: int
) -> None:
    order = Money(sum(weights), "JPY")
    settled = Money(settlement_minor, "USD")
    prior, total = Money(0, "JPY"), 0
    for weight in weights:
        part = Money(weight, "JPY")
        total += settlement_share(part, order, settled, prior=prior).minor
        prior += part
    assert total == settlement_minor
