"""Chargebacks reported by the provider: split over orders, frozen, won or lost, exactly."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from paymux.core.domain.chargebacks import DisputeStatus
from paymux.core.domain.checkout import CheckoutDraft, OrderDraft
from paymux.core.domain.errors import (
    DisputeNotApplicableError,
    RefundNotAllowedError,
    WebhookPaymentMismatchError,
)
from paymux.core.domain.status import PaymentStatus
from paymux.core.ledger.accounts import OwnerKind, Purpose
from paymux.core.ports.provider import DisputeEvent, ProviderEvent
from paymux.core.providers import ProviderRegistry
from paymux.core.services.chargebacks import ChargebackService
from paymux.core.services.idempotency import IdempotentRequest
from paymux.core.services.ledger import LedgerService
from paymux.core.services.payments import PaymentNotRegisteredYetError, PaymentService
from paymux.core.services.payouts import PayoutService
from paymux.core.services.refunds import RefundAsk, RefundService
from paymux.core.services.shipments import ShipmentService
from paymux.core.services.webhooks import WebhookService
from paymux.core.storage.database import Database
from paymux.core.storage.unit_of_work import PaymentStore
from paymux.currencies import Money
from paymux_fakes import FakeProvider


def eur(minor: int) -> Money:
    return Money(minor, "EUR")


@dataclass
class World:
    store: PaymentStore
    payments: PaymentService
    shipments: ShipmentService
    refunds: RefundService
    chargebacks: ChargebackService
    webhooks: WebhookService
    ledger: LedgerService
    steps: int = 0

    def key(self) -> str:
        self.steps += 1
        return f"k{self.steps}"

    async def paid(self, *orders: tuple[str, int]) -> tuple[str, list[str]]:
        """A succeeded payment (10% commission, no logistics fee); its id and order ids."""
        draft = CheckoutDraft(
            "b1", "EUR", "DE", "card", "https://shop",
            tuple(OrderDraft(seller, eur(amount), eur(amount // 10), eur(0), f"o{i}")
                  for i, (seller, amount) in enumerate(orders)),
        )  # fmt: skip
        created = await self.payments.create_payment(
            IdempotentRequest("c1", self.key(), "f"), draft, lambda p: json.dumps({"id": p.id})
        )
        payment = await self.payments.get_payment(json.loads(created.body)["id"], client_id="c1")
        assert payment.registration is not None
        assert payment.registration.token is not None
        await self.payments.apply_provider_events(
            "fake",
            [ProviderEvent(self.key(), payment.registration.token, PaymentStatus.SUCCEEDED)],
        )
        return payment.id, [order.id for order in payment.orders]

    async def dispute(self, payment_id: str, dispute_id: str, status: DisputeStatus,
                      amount: Money) -> int:  # fmt: skip
        payment = await self.payments.get_payment(payment_id, client_id="c1")
        assert payment.registration is not None
        assert payment.registration.token is not None
        event = DisputeEvent(self.key(), payment.registration.token, dispute_id, status, amount)
        return (await self.webhooks.apply("fake", [event])).applied

    async def ship(self, order_id: str) -> str | None:
        stored = await self.shipments.confirm_shipment(
            IdempotentRequest("c1", self.key(), "f"),
            order_id,
            lambda s: json.dumps([s.released.minor, s.ledger_transaction_id]),
        )
        released, transaction = json.loads(stored.body)
        assert isinstance(released, int)
        return None if transaction is None else str(transaction)

    async def balances(self, seller: str) -> dict[str, int]:
        (wallet,) = await self.ledger.wallet("c1", seller)
        return {
            "pending": wallet.pending.minor,
            "available": wallet.available.minor,
            "disputed": wallet.disputed.minor,
            "receivable": wallet.receivable.minor,
        }

    async def platform(self, purpose: Purpose) -> int:
        async with self.store.begin() as uow:
            accounts = await uow.ledger.all_accounts()
        return sum(
            a.normal_balance.minor
            for a in accounts
            if a.key.purpose is purpose and a.key.owner_kind is not OwnerKind.SELLER
        )


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    database = Database(database_url)
    store = PaymentStore(database)
    registry = ProviderRegistry([FakeProvider()])
    payments = PaymentService(
        store=store, providers=registry, buyer_return_url=lambda p: "https://x", lock_seconds=60
    )
    refunds = RefundService(store=store, providers=registry, lock_seconds=60)
    chargebacks = ChargebackService(store=store)
    webhooks = WebhookService(
        store=store, payments=payments, refunds=refunds, chargebacks=chargebacks,
        payouts=PayoutService(store=store, providers=registry, lock_seconds=60),
    )  # fmt: skip
    yield World(store, payments, ShipmentService(store=store), refunds, chargebacks, webhooks,
                LedgerService(store=store))  # fmt: skip
    async with store.begin() as uow:
        assert set((await uow.ledger.totals_by_currency()).values()) <= {0}
    await database.dispose()


async def test_a_chargeback_is_split_over_the_orders_and_lost(world: World) -> None:
    payment_id, (first, second) = await world.paid(("s1", 1000), ("s2", 3000))
    assert await world.dispute(payment_id, "dp1", DisputeStatus.OPENED, eur(2000)) == 1
    (chargeback,) = await world.chargebacks.chargebacks_of(payment_id, client_id="c1")
    assert [(p.payment_order_id, p.amount.minor, p.released) for p in chargeback.parts] == [
        (first, 500, False),
        (second, 1500, False),
    ]
    assert await world.balances("s1") == {"pending": 500, "available": 0, "disputed": 500,
                                          "receivable": 0}  # fmt: skip
    assert await world.platform(Purpose.PSP_DISPUTED) == 2000
    with pytest.raises(RefundNotAllowedError):  # only 500 + 1500 are left to refund
        await world.refunds.create_refund(
            IdempotentRequest("c1", "r", "f"), payment_id, RefundAsk(None, "20.01", None),
            lambda r: "{}",
        )  # fmt: skip
    assert await world.dispute(payment_id, "dp1", DisputeStatus.LOST, eur(2000)) == 1
    assert await world.dispute(payment_id, "dp1", DisputeStatus.WON, eur(2000)) == 0
    assert await world.balances("s1") == {"pending": 500, "available": 0, "disputed": 0,
                                          "receivable": 0}  # fmt: skip
    assert await world.platform(Purpose.PSP_DISPUTED) == 0
    await world.ship(first)  # releases the 500 left: 450 to the seller, 50 commission
    assert (await world.balances("s1"))["available"] == 450
    cleared = await world.platform(Purpose.PSP_CLEARING)
    assert cleared == 2000  # 4000 paid, 2000 lost to the buyer


async def test_a_chargeback_after_release_is_taken_like_a_refund_and_won_back(
    world: World,
) -> None:
    payment_id, (order,) = await world.paid(("s1", 1000))
    await world.ship(order)
    assert (await world.balances("s1"))["available"] == 900
    assert await world.platform(Purpose.COMMISSION) == 100
    await world.dispute(payment_id, "dp2", DisputeStatus.OPENED, eur(1000))
    assert await world.balances("s1") == {"pending": 0, "available": 0, "disputed": 1000,
                                          "receivable": 0}  # fmt: skip
    assert await world.platform(Purpose.COMMISSION) == 0
    await world.dispute(payment_id, "dp2", DisputeStatus.WON, eur(1000))
    assert await world.balances("s1") == {"pending": 0, "available": 900, "disputed": 0,
                                          "receivable": 0}  # fmt: skip
    assert await world.platform(Purpose.COMMISSION) == 100


async def test_an_order_held_whole_by_a_chargeback_ships_and_a_win_releases_it(
    world: World,
) -> None:
    payment_id, (order,) = await world.paid(("s1", 1000))
    await world.dispute(payment_id, "dp3", DisputeStatus.OPENED, eur(1000))
    assert await world.ship(order) is None  # nothing to release while it is disputed
    await world.dispute(payment_id, "dp3", DisputeStatus.WON, eur(1000))
    assert await world.balances("s1") == {"pending": 0, "available": 900, "disputed": 0,
                                          "receivable": 0}  # fmt: skip


async def test_a_dispute_of_refunded_money_is_the_platforms(world: World) -> None:
    payment_id, (_order,) = await world.paid(("s1", 1000))
    await world.refunds.create_refund(
        IdempotentRequest("c1", "r", "f"), payment_id, RefundAsk(None, None, None),
        lambda r: "{}",
    )  # fmt: skip
    # the first report is already the decision: the dispute is opened and lost at once
    assert await world.dispute(payment_id, "dp4", DisputeStatus.LOST, eur(700)) == 1
    (chargeback,) = await world.chargebacks.chargebacks_of(payment_id, client_id="c1")
    assert (chargeback.status, chargeback.parts, chargeback.unallocated) == (
        DisputeStatus.LOST,
        (),
        eur(700),
    )
    assert await world.platform(Purpose.CHARGEBACK_LOSSES) == 700
    assert await world.balances("s1") == {"pending": 0, "available": 0, "disputed": 0,
                                          "receivable": 0}  # fmt: skip


async def test_disputes_that_cannot_apply_change_nothing(world: World) -> None:
    payment_id, _orders = await world.paid(("s1", 1000))
    with pytest.raises(DisputeNotApplicableError):
        await world.dispute(payment_id, "dp5", DisputeStatus.OPENED, Money(1000, "USD"))
    unknown = DisputeEvent("e", "tok_unknown", "dp6", DisputeStatus.OPENED, eur(1))
    with pytest.raises(PaymentNotRegisteredYetError):
        await world.webhooks.apply("fake", [unknown])
    assert await world.chargebacks.chargebacks_of(payment_id, client_id="c1") == []
    assert (await world.balances("s1"))["pending"] == 1000


async def test_a_dispute_naming_the_psps_own_payment_id_finds_the_payment(world: World) -> None:
    payment_id, _orders = await world.paid(("s1", 1000))
    payment = await world.payments.get_payment(payment_id, client_id="c1")
    assert payment.registration is not None
    assert payment.registration.token is not None
    # a status report names the PSP's own id of the payment beside the token
    report = ProviderEvent(
        "e-pi", payment.registration.token, PaymentStatus.SUCCEEDED, psp_payment_id="pi_123"
    )
    await world.webhooks.apply("fake", [report])
    dispute = DisputeEvent("e-dp", "pi_123", "dp7", DisputeStatus.OPENED, eur(300))
    assert (await world.webhooks.apply("fake", [dispute])).applied == 1
    (chargeback,) = await world.chargebacks.chargebacks_of(payment_id, client_id="c1")
    assert chargeback.amount == eur(300)


async def test_an_event_signed_for_another_payment_is_refused(world: World) -> None:
    payment_id, _orders = await world.paid(("s1", 1000))
    payment = await world.payments.get_payment(payment_id, client_id="c1")
    assert payment.registration is not None
    assert payment.registration.token is not None
    # an unsigned token moved onto this payment, with the signed id of another one
    moved = ProviderEvent(
        "e-moved", payment.registration.token, PaymentStatus.FAILED, payment_id="pay_other"
    )
    with pytest.raises(WebhookPaymentMismatchError):
        await world.webhooks.apply("fake", [moved])
    same = ProviderEvent(
        "e-same", payment.registration.token, PaymentStatus.SUCCEEDED, payment_id=payment_id
    )
    assert (await world.webhooks.apply("fake", [same])).unchanged == 1
