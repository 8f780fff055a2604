"""paymux's provider conformance suite: the tests every provider plugin runs against itself.

A plugin's test module subclasses :class:`ProviderConformance` and defines an async
``provider_harness`` fixture yielding its :class:`~paymux.testing.harness.ProviderHarness`::

    from paymux.testing.conformance import ProviderConformance

    class TestConformance(ProviderConformance):
        pass

pytest collects the inherited tests. Every test gets a fresh harness. The tests are marked
``pytest.mark.asyncio`` explicitly, so they run in pytest-asyncio's strict and auto modes
alike, and ``paymux_conformance`` (registered by :mod:`paymux.testing.pytest_plugin`).
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import re
import uuid
from collections.abc import Mapping
from typing import ClassVar

import pytest

from paymux.core.domain.payouts import PayoutStatus
from paymux.core.domain.refunds import RefundStatus
from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import (
    CheckoutRegistration,
    CheckoutRequest,
    PaymentProvider,
    PayoutDestination,
    PayoutRequest,
    ProviderCapabilities,
    ProviderError,
    ProviderEvent,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RefundRequest,
    WebhookVerificationError,
)
from paymux.currencies import Money, get_currency, is_active_currency
from paymux.testing.harness import Fault, Forgery, ProviderHarness, WebhookForger

if importlib.util.find_spec("pytest_asyncio") is None:  # pragma: no cover - a set-up error
    raise ImportError(
        "paymux's conformance suite runs async tests: add pytest-asyncio to your test dependencies"
    )

Webhook = tuple[Mapping[str, str], bytes]

SAMPLE_MINOR = 123457
"""Minor units of every test amount: every digit differs, so a wrong scale shows."""

AMOUNTS_MINOR = (1, SAMPLE_MINOR, 98765432)
"""The amounts charged in every claimed currency: the smallest, a typical, a large one."""

MAX_COARSENING = 10**4
"""How much coarser than ISO 4217's minor unit a PSP's unit may be (ISO's largest exponent
is 4): an amount still refused at that precision is a problem."""

_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_SLUG = re.compile(r"[a-z0-9]+(?:[_.:-][a-z0-9]+)*")
_COUNTRY = re.compile(r"[A-Z]{2}")
_LONG_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{16,}")
_PLAIN_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "connection",
        "content-encoding",
        "content-length",
        "content-type",
        "date",
        "host",
        "user-agent",
    }
)
_OUTCOMES = [PaymentStatus.SUCCEEDED, PaymentStatus.FAILED]
_REPORTED_AS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.SUCCEEDED: frozenset({PaymentStatus.SUCCEEDED}),
    PaymentStatus.FAILED: frozenset(
        {PaymentStatus.FAILED, PaymentStatus.EXPIRED, PaymentStatus.CANCELED}
    ),
}
"""What a provider may report for each outcome: not paid, for good, is ``failed`` or, at a
PSP without a failed state, ``expired`` or ``canceled``."""
_LOST_ANSWERS: list[Fault] = ["timeout", "reset"]
_FAULTS: list[Fault] = ["timeout", "unavailable", "rejected", "reset"]
_FORGERIES: list[Forgery] = ["body_tampered", "signature_tampered", "signature_missing"]


def new_key() -> str:
    """A fresh idempotency key."""
    return f"conformance-{uuid.uuid4().hex}"


def _changed(char: str) -> str:
    """Another character of the same kind (a hex digit stays one, a letter keeps its case)."""
    if char.isdigit():
        return str((int(char) + 1) % 10)
    if char.islower():
        return "b" if char == "a" else "a"
    if char.isupper():
        return "B" if char == "A" else "A"
    return "0"


def _change_middle(text: str, start: int, end: int) -> str:
    middle = (start + end) // 2
    return text[:middle] + _changed(text[middle]) + text[middle + 1 :]


def _change_long_tokens(text: str) -> str:
    """``text`` with the middle character of every run of 16+ token characters changed."""
    for match in _LONG_TOKEN.finditer(text):
        text = _change_middle(text, match.start(), match.end())
    return text


def _signature_headers(headers: Mapping[str, str]) -> list[str]:
    return [name for name in headers if name.lower() not in _PLAIN_HEADERS]


def _tamper_body(body: bytes, token: str) -> bytes:
    """The body with the registration's token changed, as if redirected to another payment
    (or, when the token is not in it, its last long token changed)."""
    text = body.decode("latin-1")
    at = text.find(token)
    if at >= 0:
        return _change_middle(text, at, at + len(token)).encode("latin-1")
    matches = list(_LONG_TOKEN.finditer(text))
    if matches:
        last = matches[-1]
        return _change_middle(text, last.start(), last.end()).encode("latin-1")
    return body + b" "


def _error_flags(error: BaseException) -> str:
    retryable = getattr(error, "retryable", None)
    unknown = getattr(error, "outcome_unknown", None)
    return f"{type(error).__name__}(retryable={retryable}, outcome_unknown={unknown}): {error}"


def assert_outcome_unknown(error: ProviderError) -> None:
    """A lost answer: retryable, and the PSP may have acted."""
    assert error.retryable, _error_flags(error)
    assert error.outcome_unknown, _error_flags(error)


def assert_final(error: ProviderError) -> None:
    """A refusal for good: not retryable, and the PSP did not act."""
    assert not error.retryable, _error_flags(error)
    assert not error.outcome_unknown, _error_flags(error)


class ProviderConformance:
    """The conformance tests; subclass it in a plugin's tests as ``TestConformance``.

    Checkouts use the capabilities' ``card`` method (or the first method), ``EUR`` (or the
    first currency claimed) and ``DE`` (or the first country); set the class attributes
    ``conformance_method``, ``conformance_currency`` or ``conformance_country`` to choose.
    """

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.paymux_conformance]

    conformance_method: str | None = None
    conformance_currency: str | None = None
    conformance_country: str | None = None

    # -- helpers ----------------------------------------------------------------------------

    def sample_currency(self, capabilities: ProviderCapabilities) -> str:
        """The currency of the suite's checkouts."""
        if self.conformance_currency is not None:
            return self.conformance_currency
        if capabilities.currencies is None or "EUR" in capabilities.currencies:
            return "EUR"
        return min(capabilities.currencies)

    def checkout_request(
        self, harness: ProviderHarness, amount: Money | None = None
    ) -> CheckoutRequest:
        """A new payment the provider serves, of ``amount`` (default 123457 minor units)."""
        capabilities = harness.provider.capabilities()
        method = self.conformance_method or (
            "card" if "card" in capabilities.methods else min(capabilities.methods)
        )
        country = self.conformance_country or (
            "DE"
            if capabilities.countries is None or "DE" in capabilities.countries
            else min(capabilities.countries)
        )
        payment_id = f"pay_{uuid.uuid4().hex[:20]}"
        return CheckoutRequest(
            payment_id=payment_id,
            amount=amount or Money(SAMPLE_MINOR, self.sample_currency(capabilities)),
            country=country,
            payment_method=method,
            buyer_id="buyer_conformance",
            order_references=(f"ord_{payment_id[4:16]}",),
            return_url=f"https://paymux.example/checkout/{payment_id}",
        )

    async def register(
        self, harness: ProviderHarness, amount: Money | None = None
    ) -> CheckoutRegistration:
        """Register a new checkout with a fresh idempotency key."""
        request = self.checkout_request(harness, amount)
        return await harness.provider.register_checkout(request, idempotency_key=new_key())

    async def paid_checkout(self, harness: ProviderHarness) -> CheckoutRegistration:
        """A registered checkout the buyer paid."""
        registration = await self.register(harness)
        await harness.complete_checkout(registration, PaymentStatus.SUCCEEDED)
        return registration

    def forged_webhook(
        self,
        harness: ProviderHarness,
        registration: CheckoutRegistration,
        outcome: PaymentStatus,
        forgery: Forgery,
    ) -> Webhook:
        """The harness's forgery if it makes one, else the suite's own (or a skip)."""
        if isinstance(harness, WebhookForger):
            own = harness.forged_webhook(registration, outcome, forgery)
            if own is not None:
                return own
        headers, body = harness.signed_webhook(registration, outcome)
        forged = dict(headers)
        signature_headers = _signature_headers(headers)
        if forgery == "body_tampered":
            return forged, _tamper_body(body, registration.token)
        if not signature_headers:
            pytest.skip(
                "the webhook carries no signature header to change or drop; "
                "implement forged_webhook() on the harness (paymux.testing.harness.WebhookForger)"
            )
        if forgery == "signature_missing":
            return {k: v for k, v in forged.items() if k not in signature_headers}, body
        for name in signature_headers:
            forged[name] = _change_long_tokens(forged[name])
        if forged == dict(headers):
            pytest.skip(
                "no signature-like value (16+ token characters) in the webhook's headers; "
                "implement forged_webhook() on the harness"
            )
        return forged, body

    @staticmethod
    def outcome_events(
        provider: PaymentProvider, webhook: Webhook, token: str
    ) -> list[ProviderEvent]:
        """The payment events ``provider`` reads from ``webhook`` for ``token``."""
        headers, body = webhook
        assert all(name == name.lower() for name in headers), (
            f"the harness must give lower-case header names, got {sorted(headers)}"
        )
        events = provider.parse_webhook(headers, body)
        return [e for e in events if isinstance(e, ProviderEvent) and e.token == token]

    # -- the provider object ----------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_is_a_payment_provider(self, provider_harness: ProviderHarness) -> None:
        """A PaymentProvider: a valid, stable name; async I/O methods; sync pure ones."""
        provider = provider_harness.provider
        assert isinstance(provider, PaymentProvider)
        assert _NAME.fullmatch(provider.name), f"invalid provider name {provider.name!r}"
        for method in ("register_checkout", "fetch_status", "refund", "payout", "aclose"):
            assert inspect.iscoroutinefunction(getattr(provider, method)), f"{method} is not async"
        for method in ("capabilities", "parse_webhook"):
            assert not inspect.iscoroutinefunction(getattr(provider, method)), f"{method} is async"
        assert provider_harness.registrations() == 0, "a fresh harness holds no checkout"

    @pytest.mark.asyncio
    async def test_capabilities_are_well_formed(self, provider_harness: ProviderHarness) -> None:
        """Methods claimed; countries ISO 3166 alpha-2; currencies listed explicitly, as
        active ISO 4217 codes."""
        capabilities = provider_harness.provider.capabilities()
        assert isinstance(capabilities, ProviderCapabilities)
        assert capabilities.methods, "no payment method claimed"
        assert all(isinstance(feature, str) for feature in capabilities.features)
        if capabilities.countries is not None:
            bad = sorted(c for c in capabilities.countries if not _COUNTRY.fullmatch(c))
            assert capabilities.countries, "an empty set of countries serves nobody"
            assert not bad, f"bad countries: {bad}"
        assert capabilities.currencies is not None, (
            "list the currencies explicitly (paymux refuses None when it builds the provider)"
        )
        bad = sorted(c for c in capabilities.currencies if not is_active_currency(c))
        assert capabilities.currencies, "an empty set of currencies serves nobody"
        assert not bad, f"not active ISO 4217 currencies: {bad}"
        request = self.checkout_request(provider_harness)
        assert capabilities.serves(
            country=request.country, currency=request.amount.currency, method=request.payment_method
        ), "the suite's sample checkout is not served: set conformance_country/currency/method"

    @pytest.mark.asyncio
    async def test_capabilities_are_cheap_and_stable(
        self, provider_harness: ProviderHarness
    ) -> None:
        """Equal on every call, before and after work, and without a request to the PSP."""
        provider = provider_harness.provider
        first = provider.capabilities()
        provider_harness.fail_next("unavailable")
        for _ in range(1000):
            assert provider.capabilities() == first, "capabilities changed between calls"
        # The scripted fault is still armed: capabilities() sent nothing to the PSP.
        with pytest.raises(ProviderUnavailableError):
            await self.register(provider_harness)
        await self.register(provider_harness)
        assert provider.capabilities() == first, "capabilities changed after a registration"

    # -- registration and status ------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_register_checkout(self, provider_harness: ProviderHarness) -> None:
        """A registration gives a token and a hosted page URL within paymux's column limits."""
        registration = await self.register(provider_harness)
        assert isinstance(registration, CheckoutRegistration)
        assert 0 < len(registration.token) <= 255
        assert registration.redirect_url.startswith(("https://", "http://"))
        assert len(registration.redirect_url) <= 2048
        assert registration.psp_reference is None or 0 < len(registration.psp_reference) <= 255
        assert provider_harness.registrations() == 1

    @pytest.mark.asyncio
    async def test_concurrent_registrations_stay_apart(
        self, provider_harness: ProviderHarness
    ) -> None:
        """Five registrations at once, with five keys, give five checkouts."""
        registrations = await asyncio.gather(*(self.register(provider_harness) for _ in range(5)))
        assert len({r.token for r in registrations}) == 5
        assert provider_harness.registrations() == 5

    @pytest.mark.asyncio
    async def test_new_checkout_is_pending(self, provider_harness: ProviderHarness) -> None:
        """A checkout nobody paid yet is ``pending``; asking changes nothing at the PSP."""
        registration = await self.register(provider_harness)
        for _ in range(2):
            state = await provider_harness.provider.fetch_status(registration.token)
            assert state.token == registration.token
            assert state.status is PaymentStatus.PENDING
        assert provider_harness.registrations() == 1

    @pytest.mark.asyncio
    @pytest.mark.parametrize("outcome", _OUTCOMES, ids=str)
    async def test_status_reports_the_outcome(
        self, provider_harness: ProviderHarness, outcome: PaymentStatus
    ) -> None:
        """After the buyer paid (or failed), ``fetch_status`` reports it (a PSP with no
        failed state, such as a payment link that stays open, may report the payment
        ``expired`` or ``canceled`` instead: unpaid for good)."""
        registration = await self.register(provider_harness)
        await provider_harness.complete_checkout(registration, outcome)
        state = await provider_harness.provider.fetch_status(registration.token)
        assert state.token == registration.token
        assert state.status in _REPORTED_AS[outcome], state
        assert state.failure_code is None or len(state.failure_code) <= 64

    # -- idempotency and errors -------------------------------------------------------------

    @pytest.mark.asyncio
    @pytest.mark.parametrize("fault", _LOST_ANSWERS)
    async def test_retry_after_a_lost_answer_is_idempotent(
        self, provider_harness: ProviderHarness, fault: Fault
    ) -> None:
        """The same key after a lost answer gives the same registration, never a second one;
        another key gives a new one."""
        provider = provider_harness.provider
        request = self.checkout_request(provider_harness)
        key = new_key()
        provider_harness.fail_next(fault)
        with pytest.raises(ProviderError) as lost:
            await provider.register_checkout(request, idempotency_key=key)
        assert_outcome_unknown(lost.value)
        registration = await provider.register_checkout(request, idempotency_key=key)
        assert provider_harness.registrations() == 1
        provider_harness.fail_next(fault)
        with pytest.raises(ProviderError):
            await provider.register_checkout(request, idempotency_key=key)
        again = await provider.register_checkout(request, idempotency_key=key)
        assert again.token == registration.token
        assert provider_harness.registrations() == 1
        # paymux never registers one payment under two keys: another key is another payment
        other_request = self.checkout_request(provider_harness)
        other = await provider.register_checkout(other_request, idempotency_key=new_key())
        assert other.token != registration.token
        assert provider_harness.registrations() == 2

    @pytest.mark.asyncio
    @pytest.mark.parametrize("operation", ["register_checkout", "fetch_status"])
    @pytest.mark.parametrize("fault", _FAULTS)
    async def test_faults_are_classified(
        self, provider_harness: ProviderHarness, fault: Fault, operation: str
    ) -> None:
        """timeout/reset: outcome unknown, retryable; 5xx: ProviderUnavailableError; a final
        refusal: ProviderRejectedError with a slug code. The next call works again."""
        provider = provider_harness.provider
        registration = await self.register(provider_harness)
        provider_harness.fail_next(fault)
        call = (
            self.register(provider_harness)
            if operation == "register_checkout"
            else provider.fetch_status(registration.token)
        )
        with pytest.raises(ProviderError) as raised:
            await call
        error = raised.value
        if fault == "rejected":
            assert isinstance(error, ProviderRejectedError), _error_flags(error)
            assert_final(error)
            assert len(error.code) <= 64, f"the code {error.code!r} is longer than 64"
            assert _SLUG.fullmatch(error.code), f"the code {error.code!r} is not a slug"
        else:
            expected: tuple[type[ProviderError], ...] = (ProviderUnavailableError,)
            if fault != "unavailable":
                expected = (ProviderTimeoutError, ProviderUnavailableError)
            assert isinstance(error, expected), _error_flags(error)
            assert_outcome_unknown(error)
        state = await provider.fetch_status(registration.token)
        assert state.status is PaymentStatus.PENDING

    # -- webhooks ---------------------------------------------------------------------------

    @pytest.mark.asyncio
    @pytest.mark.parametrize("outcome", _OUTCOMES, ids=str)
    async def test_webhook_reports_the_outcome(
        self, provider_harness: ProviderHarness, outcome: PaymentStatus
    ) -> None:
        """A genuine webhook verifies and reaches a ProviderEvent with the registration's
        token and the outcome."""
        registration = await self.register(provider_harness)
        await provider_harness.complete_checkout(registration, outcome)
        webhook = provider_harness.signed_webhook(registration, outcome)
        events = self.outcome_events(provider_harness.provider, webhook, registration.token)
        assert events, "no payment event for the registration's token"
        assert {event.status for event in events} <= _REPORTED_AS[outcome], events
        for event in events:
            assert 0 < len(event.event_id) <= 255
            assert event.failure_code is None or len(event.failure_code) <= 64

    @pytest.mark.asyncio
    @pytest.mark.parametrize("forgery", _FORGERIES)
    async def test_forged_webhook_is_refused(
        self, provider_harness: ProviderHarness, forgery: Forgery
    ) -> None:
        """A tampered body, a tampered signature or none: WebhookVerificationError.

        A scheme that signs only part of the body (Adyen's HMAC leaves ``additionalData``,
        where the payment link is, out) may accept a body whose unsigned token was changed;
        then every event must carry ``payment_id`` from a signed field, naming the original
        payment, so that paymux refuses the mismatch with the token's payment."""
        request = self.checkout_request(provider_harness)
        provider = provider_harness.provider
        registration = await provider.register_checkout(request, idempotency_key=new_key())
        await provider_harness.complete_checkout(registration, PaymentStatus.SUCCEEDED)
        genuine = provider_harness.signed_webhook(registration, PaymentStatus.SUCCEEDED)
        assert self.outcome_events(provider_harness.provider, genuine, registration.token)
        headers, body = self.forged_webhook(
            provider_harness, registration, PaymentStatus.SUCCEEDED, forgery
        )
        try:
            events = provider.parse_webhook(headers, body)
        except WebhookVerificationError:
            return
        assert forgery == "body_tampered", f"a webhook with its signature {forgery} was accepted"
        assert events, "a tampered body was accepted"
        for event in events:
            assert isinstance(event, ProviderEvent), event
            assert event.payment_id == request.payment_id, (
                f"a tampered body was accepted and {event} carries no signed payment id"
            )

    @pytest.mark.asyncio
    async def test_replayed_webhook_keeps_its_event_ids(
        self, provider_harness: ProviderHarness
    ) -> None:
        """The same webhook parsed twice gives the same event ids (paymux applies each once)."""
        registration = await self.paid_checkout(provider_harness)
        headers, body = provider_harness.signed_webhook(registration, PaymentStatus.SUCCEEDED)
        first = provider_harness.provider.parse_webhook(headers, body)
        again = provider_harness.provider.parse_webhook(headers, body)
        assert first, "the genuine webhook gave no event"
        assert [e.event_id for e in first] == [e.event_id for e in again]

    @pytest.mark.asyncio
    async def test_stale_webhook_is_refused(self, provider_harness: ProviderHarness) -> None:
        """A correctly signed webhook with a timestamp outside the tolerance is refused."""
        registration = await self.paid_checkout(provider_harness)
        stale = provider_harness.stale_webhook(registration, PaymentStatus.SUCCEEDED)
        if stale is None:
            pytest.skip("the PSP signs no timestamp: replays are stopped by event ids")
        with pytest.raises(WebhookVerificationError):
            provider_harness.provider.parse_webhook(*stale)

    # -- refunds and payouts ----------------------------------------------------------------

    def refund_request(self, registration: CheckoutRegistration, amount: Money) -> RefundRequest:
        """A refund of ``amount`` of the payment registered as ``registration``."""
        return RefundRequest(
            refund_id=f"ref_{uuid.uuid4().hex[:20]}", token=registration.token, amount=amount
        )

    def payout_request(self, harness: ProviderHarness) -> PayoutRequest:
        """A payout of 10 units of the sample currency to the harness's destination (only
        asked of harnesses whose provider claims payouts)."""
        currency = self.sample_currency(harness.provider.capabilities())
        seller_id = f"seller_{uuid.uuid4().hex[:12]}"
        claimed = "payouts" in harness.provider.capabilities().features
        return PayoutRequest(
            payout_id=f"po_{uuid.uuid4().hex[:20]}",
            seller_id=seller_id,
            amount=Money(10 * 10 ** get_currency(currency).exponent, currency),
            destination=(
                harness.payout_destination(seller_id)
                if claimed
                else PayoutDestination("conformance-account")
            ),
        )

    def require_feature(self, harness: ProviderHarness, feature: str) -> None:
        """Skip unless the capabilities claim ``feature``."""
        if feature not in harness.provider.capabilities().features:
            pytest.skip(f"the capabilities do not claim {feature!r}")

    @pytest.mark.asyncio
    async def test_refund_is_idempotent(self, provider_harness: ProviderHarness) -> None:
        """A refund succeeds (or is pending); the same key again gives the same refund."""
        self.require_feature(provider_harness, "refunds")
        registration = await self.paid_checkout(provider_harness)
        currency = self.sample_currency(provider_harness.provider.capabilities())
        part = Money(SAMPLE_MINOR // 2, currency)
        request, key = self.refund_request(registration, part), new_key()
        result = await provider_harness.provider.refund(request, idempotency_key=key)
        assert result.status in {RefundStatus.SUCCEEDED, RefundStatus.PENDING}, result
        again = await provider_harness.provider.refund(request, idempotency_key=key)
        assert again.psp_reference == result.psp_reference
        assert again.status in {RefundStatus.SUCCEEDED, RefundStatus.PENDING}, again

    @pytest.mark.asyncio
    @pytest.mark.parametrize("fault", _LOST_ANSWERS)
    async def test_refund_retry_after_a_lost_answer(
        self, provider_harness: ProviderHarness, fault: Fault
    ) -> None:
        """A full refund whose answer was lost, retried with its key, is not refunded twice."""
        self.require_feature(provider_harness, "refunds")
        registration = await self.paid_checkout(provider_harness)
        request = self.refund_request(registration, provider_harness.charged_amount(registration))
        key = new_key()
        provider_harness.fail_next(fault)
        with pytest.raises(ProviderError) as lost:
            await provider_harness.provider.refund(request, idempotency_key=key)
        assert_outcome_unknown(lost.value)
        result = await provider_harness.provider.refund(request, idempotency_key=key)
        assert result.status in {RefundStatus.SUCCEEDED, RefundStatus.PENDING}, result

    @pytest.mark.asyncio
    async def test_unclaimed_refunds_are_refused(self, provider_harness: ProviderHarness) -> None:
        """Without the ``refunds`` feature, ``refund`` refuses for good instead of acting."""
        if "refunds" in provider_harness.provider.capabilities().features:
            pytest.skip("the capabilities claim 'refunds'")
        registration = await self.paid_checkout(provider_harness)
        request = self.refund_request(registration, provider_harness.charged_amount(registration))
        with pytest.raises(ProviderError) as raised:
            await provider_harness.provider.refund(request, idempotency_key=new_key())
        assert_final(raised.value)

    @pytest.mark.asyncio
    async def test_payout_is_idempotent(self, provider_harness: ProviderHarness) -> None:
        """A payout is paid (or pending); the same key again gives the same payout."""
        self.require_feature(provider_harness, "payouts")
        request, key = self.payout_request(provider_harness), new_key()
        result = await provider_harness.provider.payout(request, idempotency_key=key)
        assert result.status in {PayoutStatus.PAID, PayoutStatus.PENDING}, result
        again = await provider_harness.provider.payout(request, idempotency_key=key)
        assert again.psp_reference == result.psp_reference
        assert again.status in {PayoutStatus.PAID, PayoutStatus.PENDING}, again

    @pytest.mark.asyncio
    @pytest.mark.parametrize("fault", _LOST_ANSWERS)
    async def test_payout_retry_after_a_lost_answer(
        self, provider_harness: ProviderHarness, fault: Fault
    ) -> None:
        """A payout whose answer was lost, retried with its key, goes through once."""
        self.require_feature(provider_harness, "payouts")
        request, key = self.payout_request(provider_harness), new_key()
        provider_harness.fail_next(fault)
        with pytest.raises(ProviderError) as lost:
            await provider_harness.provider.payout(request, idempotency_key=key)
        assert_outcome_unknown(lost.value)
        result = await provider_harness.provider.payout(request, idempotency_key=key)
        assert result.status in {PayoutStatus.PAID, PayoutStatus.PENDING}, result

    @pytest.mark.asyncio
    async def test_unclaimed_payouts_are_refused(self, provider_harness: ProviderHarness) -> None:
        """Without the ``payouts`` feature, ``payout`` refuses for good instead of acting."""
        if "payouts" in provider_harness.provider.capabilities().features:
            pytest.skip("the capabilities claim 'payouts'")
        with pytest.raises(ProviderError) as raised:
            await provider_harness.provider.payout(
                self.payout_request(provider_harness), idempotency_key=new_key()
            )
        assert_final(raised.value)

    # -- amounts ----------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_amounts_are_encoded_exactly(self, provider_harness: ProviderHarness) -> None:
        """For every currency claimed, the PSP charges exactly the amount, by the currency's
        full ISO 4217 exponent: one minor unit, a typical amount (123457 minor units) and a
        large one (98765432 minor units).

        A PSP that takes a currency at a coarser precision than ISO's (Stripe's three-decimal
        currencies end in 0, Stripe's MGA and Adyen's IDR are whole units) may refuse an
        amount it cannot represent, before any request, with a final
        ``ProviderRejectedError`` of code ``amount-not-encodable`` (never by rounding it
        silently); the same amount at the next coarser precision (at least one unit of it)
        must then be charged exactly."""
        capabilities = provider_harness.provider.capabilities()
        assert capabilities.currencies is not None, "list the currencies explicitly"
        problems: list[str] = []
        for code in sorted(capabilities.currencies):
            for minor in AMOUNTS_MINOR:
                problem = await self._charged_exactly(provider_harness, Money(minor, code))
                if problem is not None:
                    problems.append(problem)
        assert not problems, (
            "amounts not encoded exactly (exclude a currency the plugin cannot encode from "
            "its capabilities):\n" + "\n".join(problems)
        )

    async def _charged_exactly(self, harness: ProviderHarness, amount: Money) -> str | None:
        """Register ``amount`` (coarser when refused as not encodable): what went wrong."""
        step, minor = 1, amount.minor
        while True:
            try:
                registration = await self.register(harness, amount)
            except ProviderRejectedError as error:
                step *= 10  # the amount at the next coarser precision, at least one unit
                coarser = max(minor // step * step, step)
                if error.code != "amount-not-encodable" or step > MAX_COARSENING:
                    return f"{amount}: not registered: {_error_flags(error)}"
                amount = Money(coarser, amount.currency)
                continue
            except ProviderError as error:
                return f"{amount}: not registered: {_error_flags(error)}"
            charged = harness.charged_amount(registration)
            return None if charged == amount else f"{amount}: the PSP charges {charged}"

    # -- shutdown ---------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_aclose(self, provider_harness: ProviderHarness) -> None:
        """``aclose`` releases the provider's connections without error after it worked."""
        await self.register(provider_harness)
        await provider_harness.provider.aclose()
