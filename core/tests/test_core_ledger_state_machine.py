"""A Hypothesis state machine over pay, ship, refund, chargeback and payout against a model.

After every step: every journal transaction balances per currency, the whole ledger sums to
zero, each seller's wallet equals the in-memory model, and no guarded balance is negative
(a seller's shortfall is a recorded receivable).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from paymux.core.domain.chargebacks import DisputeStatus
from paymux.core.domain.checkout import CheckoutDraft, OrderDraft
from paymux.core.domain.status import PaymentStatus
from paymux.core.ledger.accounts import OwnerKind, Purpose
from paymux.core.ledger.rules import OrderFacts, release_shares
from paymux.core.ports.provider import DisputeEvent, ProviderEvent
from paymux.core.providers import ProviderRegistry
from paymux.core.services.chargebacks import ChargebackService
from paymux.core.services.idempotency import IdempotentRequest
from paymux.core.services.ledger import LedgerService
from paymux.core.services.payments import PaymentService
from paymux.core.services.payouts import PayoutService
from paymux.core.services.refunds import RefundAsk, RefundService
from paymux.core.services.shipments import ShipmentService
from paymux.core.services.webhooks import WebhookService
from paymux.core.storage.database import Database
from paymux.core.storage.migrate import upgrade
from paymux.core.storage.unit_of_work import PaymentStore
from paymux.currencies import Money
from paymux_fakes import FakeProvider

SELLERS = ("s1", "s2", "s3")


@cache
def migrated_template() -> Path:
    path = Path(tempfile.mkdtemp(prefix="paymux-sm-")) / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@dataclass
class ModelDispute:
    dispute_id: str
    amount: int
    allocated: int
    released: bool
    status: str = "opened"


@dataclass
class ModelOrder:
    order_id: str
    seller: str
    amount: int
    commission: int
    fee: int
    shipped: bool = False
    refunded: int = 0
    token: str = ""
    disputes: list[ModelDispute] = field(default_factory=list)

    @property
    def held(self) -> int:
        """Out of the order by open or lost chargebacks."""
        return sum(d.allocated for d in self.disputes if d.status != "won")

    @property
    def held_before_release(self) -> int:
        return sum(d.allocated for d in self.disputes if d.status != "won" and not d.released)

    @property
    def left(self) -> int:
        """What a refund or a new chargeback can still take from the order."""
        return self.amount - self.refunded - self.held

    def facts(self) -> OrderFacts:
        def eur(minor: int) -> Money:
            return Money(minor, "EUR")

        return OrderFacts("c1", "p", self.order_id, self.seller, "fake",
                          eur(self.amount), eur(self.commission), eur(self.fee))  # fmt: skip


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.directory = Path(tempfile.mkdtemp(prefix="paymux-sm-run-"))
        shutil.copy(migrated_template(), self.directory / "ledger.db")
        self.database = Database(f"sqlite+aiosqlite:///{self.directory / 'ledger.db'}")
        store = PaymentStore(self.database)
        self.provider = FakeProvider()
        registry = ProviderRegistry([self.provider])
        self.payments = PaymentService(
            store=store, providers=registry, buyer_return_url=lambda p: "https://x", lock_seconds=60
        )
        self.shipments = ShipmentService(store=store)
        self.refunds = RefundService(store=store, providers=registry, lock_seconds=60)
        self.ledger = LedgerService(store=store)
        self.payouts = PayoutService(store=store, providers=registry, lock_seconds=60)
        self.webhooks = WebhookService(
            store=store, payments=self.payments, refunds=self.refunds, payouts=self.payouts,
            chargebacks=ChargebackService(store=store),
        )  # fmt: skip
        self.disputed = dict.fromkeys(SELLERS, 0)
        self.paid_out = dict.fromkeys(SELLERS, 0)
        self.store = store
        self.orders: list[ModelOrder] = []
        self.pending = dict.fromkeys(SELLERS, 0)
        self.available = dict.fromkeys(SELLERS, 0)
        self.receivable = dict.fromkeys(SELLERS, 0)
        self.steps = 0

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def key(self) -> str:
        self.steps += 1
        return f"k{self.steps}"

    def teardown(self) -> None:
        self.run(self.database.dispose())
        self.loop.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    @rule(
        seller=st.sampled_from(SELLERS),
        amount=st.integers(min_value=1, max_value=100_000),
        commission_pct=st.integers(min_value=0, max_value=30),
        fee_pct=st.integers(min_value=0, max_value=30),
    )
    def pay(self, seller: str, amount: int, commission_pct: int, fee_pct: int) -> None:
        commission, fee = amount * commission_pct // 100, amount * fee_pct // 100
        draft = CheckoutDraft(
            "buyer", "EUR", "DE", "card", "https://shop",
            (OrderDraft(seller, Money(amount, "EUR"), Money(commission, "EUR"),
                        Money(fee, "EUR"), "ref"),),
        )  # fmt: skip
        stored = self.run(
            self.payments.create_payment(
                IdempotentRequest("c1", self.key(), "f"), draft, lambda p: json.dumps({"id": p.id})
            )
        )
        payment = self.run(self.payments.get_payment(json.loads(stored.body)["id"], client_id="c1"))
        token = payment.registration.token
        self.run(
            self.payments.apply_provider_events(
                "fake", [ProviderEvent(f"evt-{self.key()}", token, PaymentStatus.SUCCEEDED)]
            )
        )
        self.orders.append(
            ModelOrder(payment.orders[0].id, seller, amount, commission, fee, token=token)
        )
        self.pending[seller] += amount

    @precondition(lambda self: any(not o.shipped and o.refunded < o.amount for o in self.orders))
    @rule(data=st.data())
    def ship(self, data: st.DataObject) -> None:
        candidates = [o for o in self.orders if not o.shipped and o.refunded < o.amount]
        order = data.draw(st.sampled_from(candidates))
        self.run(
            self.shipments.confirm_shipment(
                IdempotentRequest("c1", self.key(), "f"), order.order_id, lambda s: "{}"
            )
        )
        net = Money(order.amount - order.refunded - order.held_before_release, "EUR")
        seller_share, _commission, _fee = release_shares(order.facts(), net)
        order.shipped = True
        self.pending[order.seller] -= net.minor
        self.available[order.seller] += seller_share.minor

    @precondition(lambda self: any(o.left > 0 for o in self.orders))
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        candidates = [o for o in self.orders if o.left > 0]
        order = data.draw(st.sampled_from(candidates))
        amount = data.draw(st.integers(min_value=1, max_value=order.left))
        text = Money(amount, "EUR").amount_str
        stored = self.run(
            self.refunds.create_refund(
                IdempotentRequest("c1", self.key(), "f"),
                self.run(self.payment_of(order.order_id)),
                RefundAsk(order.order_id, text, None),
                lambda r: json.dumps({"status": r.status.value}),
            )
        )
        assert json.loads(stored.body)["status"] == "succeeded"
        order.refunded += amount
        if not order.shipped:
            self.pending[order.seller] -= amount
            return
        seller_share, _commission, _fee = release_shares(order.facts(), Money(amount, "EUR"))
        from_available = min(seller_share.minor, self.available[order.seller])
        self.available[order.seller] -= from_available
        self.receivable[order.seller] += seller_share.minor - from_available

    @precondition(lambda self: bool(self.orders))
    @rule(data=st.data())
    def open_chargeback(self, data: st.DataObject) -> None:
        """The buyer's bank disputes (part of) a payment, sometimes more than it still holds."""
        order = data.draw(st.sampled_from(self.orders))
        amount = data.draw(st.integers(min_value=1, max_value=order.amount + 500))
        dispute = ModelDispute(f"dp{self.key()}", amount, min(amount, max(order.left, 0)),
                               released=order.shipped)  # fmt: skip
        self.report(order, dispute, DisputeStatus.OPENED)
        order.disputes.append(dispute)
        if dispute.allocated == 0:
            return
        self.disputed[order.seller] += dispute.allocated
        if not order.shipped:
            self.pending[order.seller] -= dispute.allocated
            return
        share, _c, _f = release_shares(order.facts(), Money(dispute.allocated, "EUR"))
        from_available = min(share.minor, self.available[order.seller])
        self.available[order.seller] -= from_available
        self.receivable[order.seller] += share.minor - from_available

    @precondition(lambda self: any(d.status == "opened" for o in self.orders for d in o.disputes))
    @rule(data=st.data(), won=st.booleans())
    def resolve_chargeback(self, data: st.DataObject, won: bool) -> None:
        """The dispute is decided; the provider reports it twice (the second changes nothing)."""
        order, dispute = data.draw(
            st.sampled_from(
                [(o, d) for o in self.orders for d in o.disputes if d.status == "opened"]
            )
        )
        status = DisputeStatus.WON if won else DisputeStatus.LOST
        self.report(order, dispute, status)
        self.report(order, dispute, status, event_id="again")
        dispute.status = status.value
        self.disputed[order.seller] -= dispute.allocated
        if not won or dispute.allocated == 0:
            return
        if not order.shipped:
            self.pending[order.seller] += dispute.allocated
            return
        share, _c, _f = release_shares(order.facts(), Money(dispute.allocated, "EUR"))
        self.available[order.seller] += share.minor

    def report(
        self, order: ModelOrder, dispute: ModelDispute, status: DisputeStatus, event_id: str = ""
    ) -> None:
        event = DisputeEvent(
            event_id=f"{dispute.dispute_id}:{status.value}{event_id}",
            token=order.token,
            dispute_id=dispute.dispute_id,
            status=status,
            amount=Money(dispute.amount, "EUR"),
        )
        self.run(self.webhooks.apply("fake", [event]))

    @precondition(lambda self: any(v > 0 for v in self.available.values()))
    @rule(data=st.data())
    def payout(self, data: st.DataObject) -> None:
        seller = data.draw(st.sampled_from([s for s in SELLERS if self.available[s] > 0]))
        recovered = min(self.receivable[seller], self.available[seller])
        amount = self.available[seller] - recovered
        stored = self.run(
            self.payouts.create_payout(
                IdempotentRequest("c1", self.key(), "f"),
                seller_id=seller,
                currency="EUR",
                amount=None,
                render=lambda p: json.dumps({"status": p.status.value, "amount": p.amount.minor}),
            )
        ) if amount > 0 else None  # fmt: skip
        if stored is None:
            return
        assert json.loads(stored.body) == {"status": "paid", "amount": amount}
        self.receivable[seller] -= recovered
        self.available[seller] = 0
        self.paid_out[seller] += amount

    async def payment_of(self, order_id: str) -> str:
        async with self.store.begin() as uow:
            found = await uow.find_payment_id_by_order(order_id, client_id="c1")
        assert found is not None
        return found

    @invariant()
    def ledger_is_sound(self) -> None:
        async def check() -> None:
            async with self.store.begin() as uow:
                assert set((await uow.ledger.totals_by_currency()).values()) <= {0}
                accounts = await uow.ledger.all_accounts()
            async with self.database.transaction() as session:
                unbalanced = (
                    await session.execute(
                        sa.text(
                            "SELECT transaction_id FROM ledger_posting GROUP BY transaction_id, "
                            "currency HAVING SUM(amount_minor) <> 0"
                        )
                    )
                ).all()
            assert unbalanced == []
            for account in accounts:
                if account.key.non_negative:
                    assert not account.normal_balance.is_negative, account
            for seller in SELLERS:
                sellers = [a for a in accounts if a.key.owner_kind is OwnerKind.SELLER
                           and a.key.owner_id == seller]  # fmt: skip
                balances = {a.key.purpose: a.normal_balance.minor for a in sellers}
                assert balances.get(Purpose.SELLER_PENDING, 0) == self.pending[seller]
                assert balances.get(Purpose.SELLER_AVAILABLE, 0) == self.available[seller]
                assert balances.get(Purpose.SELLER_RECEIVABLE, 0) == self.receivable[seller]
                assert balances.get(Purpose.SELLER_DISPUTED, 0) == self.disputed[seller]
            wallets = {seller: await self.ledger.wallet("c1", seller) for seller in SELLERS}
            for seller, balances_list in wallets.items():
                for wallet in balances_list:
                    assert wallet.pending.minor == self.pending[seller]
                    assert wallet.available.minor == self.available[seller]
                    assert wallet.paid_out.minor == self.paid_out[seller]
                    assert wallet.disputed.minor == self.disputed[seller]
                    assert wallet.receivable.minor == self.receivable[seller]

        self.run(check())


LedgerMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=25, deadline=None)
test_ledger_state_machine = LedgerMachine.TestCase
