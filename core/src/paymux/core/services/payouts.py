"""Payouts: a seller's available money, sent through a provider, posted to the ledger.

A payout goes through the provider of the seller's payout method, to the account it names
(``PUT /v1/sellers/{id}/payout-method``); a seller without one is paid through the first
enabled provider that pays out. Opening a payout (one database transaction, the seller's
balance rows locked) first recovers what the seller owes (a receivable) from their available
money, then moves the payout amount from available to in transit. The provider is called
outside any transaction. Paid: the money leaves the provider's clearing balance. Failed: the
payout is reversed to available.

A payout in another currency than the money's (the request's ``payout_currency``, else the
payout method's ``currency``) locks a quote before its transaction opens (the rate lookup is
a network call), converts once, and moves the money through the platform's FX position in
each currency; a failure reverses it at the same quote.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from paymux.core.domain.errors import (
    FxRateUnavailableError,
    InvalidPayoutMethodError,
    PaymuxError,
    PayoutMethodNotFoundError,
    PayoutNotAllowedError,
    PayoutNotFoundError,
    PayoutsNotSupportedError,
    ProviderOutcomeUnknownError,
)
from paymux.core.domain.jobs import JobKind, NewJob
from paymux.core.domain.models import OutboxMessage
from paymux.core.domain.payouts import (
    Payout,
    PayoutDestination,
    PayoutStatus,
    SellerPayoutMethod,
)
from paymux.core.fx.quotes import Quote, QuoteExpiredError, Quoter, convert, require_valid
from paymux.core.fx.rates import RateUnavailableError
from paymux.core.identifiers import new_id, utc_now
from paymux.core.jobs.retry import RetryPolicy, policy_for
from paymux.core.ledger.accounts import Purpose, seller_account
from paymux.core.ledger.journal import JournalEntry
from paymux.core.ledger.rules import (
    LedgerEvent,
    PayoutFacts,
    PayoutFailed,
    PayoutInitiated,
    PayoutPaid,
    ReceivableRecovered,
    default_entry,
)
from paymux.core.ports.provider import (
    PaymentProvider,
    PayoutRequest,
    PayoutResult,
)
from paymux.core.providers import ProviderRegistry
from paymux.core.services.idempotency import IdempotentRequest, StoredResponse, claim_or_resume
from paymux.core.services.payments import derive_psp_idempotency_key
from paymux.core.services.provider_calls import OutcomeUnknown, call_provider
from paymux.core.storage.job_repository import INLINE_WORKER
from paymux.core.storage.unit_of_work import PaymentStore, UnitOfWork
from paymux.currencies import Money, get_active_currency

log = logging.getLogger(__name__)


def submit_payout_key(payout_id: str) -> str:
    """The key of a payout's submission job."""
    return f"{JobKind.SUBMIT_PAYOUT.value}:{payout_id}"


@dataclass(slots=True)
class BatchSummary:
    """What a payout batch did."""

    paid: list[Payout] = field(default_factory=list)
    failed: list[Payout] = field(default_factory=list)
    pending: list[Payout] = field(default_factory=list)
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    """``(client_id, seller_id, message)`` for sellers whose payout could not be made."""


class PayoutService:
    """Creates, reads and batches payouts."""

    def __init__(
        self,
        *,
        store: PaymentStore,
        providers: ProviderRegistry,
        lock_seconds: float,
        ledger_entry: Callable[[LedgerEvent], JournalEntry] = default_entry,
        clock: Callable[[], datetime] = utc_now,
        retry_policies: Mapping[str, RetryPolicy] | None = None,
        quoter: Quoter | None = None,
    ) -> None:
        self._store = store
        self._quoter = quoter
        self._providers = providers
        self._lock = timedelta(seconds=lock_seconds)
        self._ledger_entry = ledger_entry
        self._clock = clock
        self._policy = policy_for(JobKind.SUBMIT_PAYOUT, retry_policies or {})

    def _default_payout_provider(self) -> PaymentProvider:
        for name in self._providers.names():
            provider = self._providers.get(name)
            if "payouts" in provider.capabilities().features:
                return provider
        raise PayoutsNotSupportedError("no enabled provider can pay out")

    def _payout_provider(self, name: str) -> PaymentProvider:
        if name not in self._providers:
            raise InvalidPayoutMethodError(f"provider {name!r} is not enabled")
        provider = self._providers.get(name)
        if "payouts" not in provider.capabilities().features:
            raise InvalidPayoutMethodError(
                f"provider {name!r} cannot pay out sellers; choose one whose capabilities "
                "include payouts"
            )
        return provider

    async def _route(
        self, uow: UnitOfWork, client_id: str, seller_id: str
    ) -> tuple[PaymentProvider, PayoutDestination | None, str | None]:
        """The seller's payout method's provider, destination and currency, or the default
        provider."""
        method = await uow.payout_methods.get(client_id, seller_id)
        if method is None:
            return self._default_payout_provider(), None, None
        destination = PayoutDestination(method.account, method.holder_name, method.details)
        return self._payout_provider(method.provider), destination, method.currency

    async def set_payout_method(
        self,
        client_id: str,
        seller_id: str,
        *,
        provider: str,
        account: str,
        holder_name: str | None,
        details: dict[str, str],
        currency: str | None = None,
    ) -> SellerPayoutMethod:
        """Create or replace the seller's payout method (checked: the provider pays out;
        ``currency``, the currency the seller is paid in, is an active ISO 4217 code)."""
        self._payout_provider(provider)
        if currency is not None:
            currency = get_active_currency(currency).code
        now = self._clock()
        async with self._store.begin() as uow:
            existing = await uow.payout_methods.get(client_id, seller_id)
            method = SellerPayoutMethod(
                client_id=client_id,
                seller_id=seller_id,
                provider=provider,
                account=account,
                holder_name=holder_name,
                details=details,
                created_at=now if existing is None else existing.created_at,
                updated_at=now,
                currency=currency,
            )
            await uow.payout_methods.put(method)
        return method

    async def get_payout_method(self, client_id: str, seller_id: str) -> SellerPayoutMethod:
        """The seller's payout method; :class:`PayoutMethodNotFoundError` if none."""
        async with self._store.begin() as uow:
            method = await uow.payout_methods.get(client_id, seller_id)
        if method is None:
            raise PayoutMethodNotFoundError(f"seller {seller_id} has no payout method")
        return method

    async def create_payout(
        self,
        request: IdempotentRequest,
        *,
        seller_id: str,
        currency: str,
        amount: object | None,
        render: Callable[[Payout], str],
        payout_currency: str | None = None,
    ) -> StoredResponse:
        """Pay the seller ``amount`` (default: everything available), once per key.

        ``amount`` is taken from the seller's available money in ``currency``; the seller is
        paid in ``payout_currency`` (default: their payout method's currency, else
        ``currency``), converted at a quote locked before anything is written.

        Raises :class:`PayoutNotAllowedError` (more than available, or nothing),
        :class:`PayoutsNotSupportedError`, :class:`FxRateUnavailableError` or a money error
        with nothing written, and :class:`ProviderOutcomeUnknownError` when the provider's
        answer is unknown (the payout stays pending; the same request with the same key
        resumes it).
        """
        source = get_active_currency(currency).code
        wanted = None if payout_currency is None else get_active_currency(payout_currency).code
        quote = await self._quote_for(request, seller_id, source, wanted)
        now = self._clock()
        payout_id = new_id("payout")

        async def open_payout(uow: UnitOfWork) -> Payout:
            return await self._open(
                uow, request, seller_id, source, amount, payout_id, now,
                payout_currency=wanted, quote=quote,
            )  # fmt: skip

        async def load_payout(uow: UnitOfWork, existing_id: str) -> Payout | None:
            return await uow.get_payout(existing_id)

        claimed = await claim_or_resume(
            self._store, request, resource_id=payout_id, now=now, lock=self._lock,
            open_resource=open_payout, load_resource=load_payout,
        )  # fmt: skip
        if isinstance(claimed, StoredResponse):
            return claimed
        return await self._execute(claimed.resource, claimed.record_id, render)

    async def _quote_for(
        self, request: IdempotentRequest, seller_id: str, source: str, wanted: str | None
    ) -> Quote | None:
        """The quote a new payout converts at, locked outside any database transaction;
        ``None`` when it pays out in ``source`` or its key was used before (the stored
        payout is replayed or resumed, at its own quote)."""
        async with self._store.begin() as uow:
            if await uow.find_idempotency_key(request.client_id, request.key) is not None:
                return None
            method = await uow.payout_methods.get(request.client_id, seller_id)
        target = wanted or (method.currency if method is not None else None) or source
        if target == source:
            return None
        if self._quoter is None:
            raise FxRateUnavailableError(
                f"paying out {source} in {target} needs an exchange rate, and no rate source "
                "is configured (PAYMUX_FX__SOURCE, PAYMUX_FX__FIXED_RATES)"
            )
        try:
            return await self._quoter.lock(source, target)
        except RateUnavailableError as error:
            raise FxRateUnavailableError(
                f"no {source}/{target} rate to pay out with: {error}"
            ) from error

    async def get_payout(self, payout_id: str, *, client_id: str) -> Payout:
        """A payout of ``client_id``."""
        async with self._store.begin() as uow:
            payout = await uow.get_payout(payout_id, client_id=client_id)
        if payout is None:
            raise PayoutNotFoundError(f"no payout {payout_id}")
        return payout

    async def run_batch(
        self,
        *,
        currency: str,
        threshold: Money,
        batch_id: str,
        render: Callable[[Payout], str],
        progress: Callable[[str, str, Payout | None, str | None], None] | None = None,
    ) -> BatchSummary:
        """Pay out every seller (of every client) with at least ``threshold`` available.

        Each seller's payout uses the idempotency key ``<batch_id>:<seller_id>``: running the
        same batch again replays it instead of paying twice. ``progress`` is called after each
        seller with the payout, or with an error message.
        """
        async with self._store.begin() as uow:
            sellers = await uow.ledger.sellers_with_available(currency, at_least=threshold.minor)
        summary = BatchSummary()
        for client_id, seller_id in sellers:
            request = IdempotentRequest(client_id, f"{batch_id}:{seller_id}", f"batch:{currency}")
            try:
                await self.create_payout(
                    request, seller_id=seller_id, currency=currency, amount=None, render=render
                )
                async with self._store.begin() as uow:
                    record = await uow.find_idempotency_key(client_id, request.key)
                    payout = await uow.get_payout(record.resource_id or "") if record else None
            except (PaymuxError, ValueError) as error:
                summary.errors.append((client_id, seller_id, str(error)))
                if progress is not None:
                    progress(client_id, seller_id, None, str(error))
                continue
            assert payout is not None
            {
                PayoutStatus.PAID: summary.paid,
                PayoutStatus.FAILED: summary.failed,
                PayoutStatus.PENDING: summary.pending,
            }[payout.status].append(payout)
            if progress is not None:
                progress(client_id, seller_id, payout, None)
        return summary

    async def _open(
        self,
        uow: UnitOfWork,
        request: IdempotentRequest,
        seller_id: str,
        currency_code: str,
        amount: object | None,
        payout_id: str,
        now: datetime,
        *,
        payout_currency: str | None = None,
        quote: Quote | None = None,
    ) -> Payout:
        currency = get_active_currency(currency_code).code
        client = request.client_id
        provider, destination, method_currency = await self._route(uow, client, seller_id)
        target = payout_currency or method_currency or currency
        if target != currency and (quote is None or quote.quote != target):
            raise PayoutNotAllowedError(
                f"the seller's payout method changed to {target} while the payout was opened; "
                "send the request again"
            )
        available_key = seller_account(client, seller_id, Purpose.SELLER_AVAILABLE, currency)
        receivable_key = seller_account(client, seller_id, Purpose.SELLER_RECEIVABLE, currency)
        balances = await uow.ledger.locked_normal_balances([available_key, receivable_key], now=now)
        available, owed = balances[available_key], balances[receivable_key]
        recovered = min(owed, available) if owed.is_positive else Money.zero(currency)
        wanted = (available - recovered) if amount is None else Money.parse(amount, currency)
        if not wanted.is_positive:
            raise PayoutNotAllowedError(f"nothing to pay out to {seller_id} in {currency}")
        if wanted > available - recovered:
            raise PayoutNotAllowedError(
                f"{wanted} is more than the {available - recovered} available to {seller_id}"
            )
        payout_amount = None
        if target != currency:
            assert quote is not None
            try:
                payout_amount = convert(wanted, require_valid(quote, self._clock()))
            except QuoteExpiredError as error:
                raise FxRateUnavailableError(str(error)) from error
            if not payout_amount.is_positive:
                raise PayoutNotAllowedError(
                    f"{wanted} is {payout_amount} at the {currency}/{target} rate "
                    f"{quote.rate}: nothing to pay out"
                )
        facts = PayoutFacts(client, seller_id, provider.name, payout_id, wanted, payout_amount)
        if recovered.is_positive:
            entry = self._ledger_entry(ReceivableRecovered(facts, recovered))
            await uow.ledger.record(client, entry, now=now)
        payout = Payout(
            id=payout_id,
            client_id=client,
            seller_id=seller_id,
            provider=provider.name,
            amount=wanted,
            status=PayoutStatus.PENDING,
            failure_code=None,
            psp_idempotency_key=derive_psp_idempotency_key(client, f"payout:{request.key}"),
            psp_reference=None,
            created_at=now,
            updated_at=now,
            destination=destination,
            payout_amount=payout_amount,
            fx_quote=None if payout_amount is None else quote,
        )
        await uow.insert_payout(payout)
        await uow.ledger.record(client, self._ledger_entry(PayoutInitiated(facts)), now=now)
        await uow.add_outbox([_payout_message("payout.created", payout)], now=now)
        await uow.jobs.enqueue(
            NewJob(
                kind=JobKind.SUBMIT_PAYOUT,
                key=submit_payout_key(payout.id),
                payload={"payout_id": payout.id},
                provider=payout.provider,
            ),
            now=now,
            client_id=client,
            running_until=now + self._lock,
            worker=INLINE_WORKER,
        )
        return payout

    async def _execute(
        self, payout: Payout, record_id: int, render: Callable[[Payout], str]
    ) -> StoredResponse:
        result = PayoutResult(status=payout.status)
        if payout.status is PayoutStatus.PENDING:
            try:
                result = await self._submit(payout)
            except OutcomeUnknown as unknown:
                await self._release(record_id, payout, unknown.cause)
                raise ProviderOutcomeUnknownError(
                    f"the provider did not confirm payout {payout.id} ({unknown.cause}); it "
                    "stays pending and is sent again with the same PSP key by a worker; the "
                    "same request with the same Idempotency-Key shows the result",
                    payout_id=payout.id,
                ) from unknown.cause
        async with self._store.begin() as uow:
            await self._settle(uow, payout, result)
            await uow.jobs.finish_key(submit_payout_key(payout.id), now=self._clock())
            settled = await uow.get_payout(payout.id)
            assert settled is not None
            body = render(settled)
            await uow.complete_idempotency_key(record_id, status=201, body=body)
        return StoredResponse(201, body)

    async def _submit(self, payout: Payout) -> PayoutResult:
        """Send the payout with its PSP key; a final refusal is a failed result, anything
        else unknown raises :class:`OutcomeUnknown`."""
        provider = self._providers.get(payout.provider)
        return await call_provider(
            lambda: provider.payout(
                PayoutRequest(payout.id, payout.seller_id, payout.sent, payout.destination),
                idempotency_key=payout.psp_idempotency_key,
            ),
            refused=lambda code: PayoutResult(PayoutStatus.FAILED, failure_code=code),
            provider=payout.provider,
        )

    async def _release(self, record_id: int, payout: Payout, error: Exception) -> None:
        log.warning("payout %s has an unknown outcome: %s", payout.id, error)
        async with self._store.begin() as uow:
            await uow.release_idempotency_key(record_id)
            await uow.jobs.hand_to_workers(
                submit_payout_key(payout.id), error=error, policy=self._policy, now=self._clock()
            )

    async def complete_payout(self, payout_id: str) -> Payout:
        """The ``submit_payout`` job: send a payout whose submission's answer was lost again,
        with the same PSP key, and settle what the provider says (an unknown outcome raises
        for the worker to retry). A payout the provider has answered is left as it is."""
        async with self._store.begin() as uow:
            payout = await uow.get_payout(payout_id)
        if payout is None:
            raise PayoutNotFoundError(f"no payout {payout_id}")
        if payout.status is not PayoutStatus.PENDING or payout.psp_reference is not None:
            return payout
        try:
            result = await self._submit(payout)
        except OutcomeUnknown as unknown:
            raise unknown.cause from None
        async with self._store.begin() as uow:
            await self._settle(uow, payout, result)
            settled = await uow.get_payout(payout_id)
        assert settled is not None
        return settled

    async def apply_report_in(self, uow: UnitOfWork, payout_id: str, result: PayoutResult) -> bool:
        """Apply a provider's later report on a payout within ``uow`` (a webhook).

        Monotonic: a settled payout stays as it is. ``True`` if the report changed it.
        """
        payout = await uow.get_payout(payout_id)
        if payout is None:
            raise PayoutNotFoundError(f"no payout {payout_id}")
        return await self._settle(uow, payout, result)

    async def _settle(self, uow: UnitOfWork, payout: Payout, result: PayoutResult) -> bool:
        if result.status is PayoutStatus.PENDING:
            if result.psp_reference is not None:
                await uow.record_payout_reference(payout.id, result.psp_reference)
            return False
        now = self._clock()
        changed = await uow.set_payout_status(
            payout.id, result.status, psp_reference=result.psp_reference,
            failure_code=result.failure_code, now=now,
        )  # fmt: skip
        if not changed:
            return False
        facts = PayoutFacts(
            payout.client_id, payout.seller_id, payout.provider, payout.id, payout.amount,
            payout.payout_amount,
        )  # fmt: skip
        event = PayoutPaid(facts) if result.status is PayoutStatus.PAID else PayoutFailed(facts)
        await uow.ledger.record(payout.client_id, self._ledger_entry(event), now=now)
        settled = await uow.get_payout(payout.id)
        assert settled is not None
        await uow.add_outbox([_payout_message(f"payout.{result.status.value}", settled)], now=now)
        return True


def _payout_message(topic: str, payout: Payout) -> OutboxMessage:
    return OutboxMessage(
        topic=topic,
        key=payout.seller_id,
        payload={
            "payout_id": payout.id,
            "client_id": payout.client_id,
            "seller_id": payout.seller_id,
            "status": payout.status.value,
            "amount_minor": payout.amount.minor,
            "currency": payout.amount.currency,
            "payout_amount_minor": payout.sent.minor,
            "payout_currency": payout.sent.currency,
            "failure_code": payout.failure_code,
        },
    )
