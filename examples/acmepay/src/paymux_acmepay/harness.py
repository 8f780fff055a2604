"""The AcmePay plugin's harness for paymux's conformance suite."""

from __future__ import annotations

from collections.abc import Mapping

from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import CheckoutRegistration, PayoutDestination
from paymux.currencies import Money
from paymux.testing.harness import Fault
from paymux_acmepay.fake_psp import FakeAcmePay
from paymux_acmepay.provider import AcmePayProvider

WEBHOOK_SECRET = "whsec_acmepay_tests"  # noqa: S105 - the fake's secret


class AcmePayHarness:
    """A fresh fake AcmePay and the provider wired to it (implements ProviderHarness)."""

    def __init__(self) -> None:
        self.fake = FakeAcmePay(webhook_secret=WEBHOOK_SECRET, stall_seconds=1.0)
        self._provider = AcmePayProvider(
            api_key="sk_test_conformance",
            webhook_secret=WEBHOOK_SECRET,
            webhook_url="https://paymux.example/v1/webhooks/acmepay",
            timeout_seconds=0.2,  # shorter than the fake's stall: a "timeout" times out
            transport=self.fake.transport(),
        )

    @property
    def provider(self) -> AcmePayProvider:
        """The provider under test."""
        return self._provider

    async def complete_checkout(
        self, registration: CheckoutRegistration, outcome: PaymentStatus
    ) -> None:
        """The buyer pays (or the card is declined) on AcmePay's page."""
        if outcome is PaymentStatus.SUCCEEDED:
            self.fake.complete(registration.token, "paid")
        else:
            self.fake.complete(registration.token, "failed", "card_declined")

    def signed_webhook(
        self, registration: CheckoutRegistration, outcome: PaymentStatus
    ) -> tuple[Mapping[str, str], bytes]:
        """AcmePay's webhook for the checkout, which reports its current state."""
        return self.fake.webhook(registration.token)

    def stale_webhook(
        self, registration: CheckoutRegistration, outcome: PaymentStatus
    ) -> tuple[Mapping[str, str], bytes] | None:
        """AcmePay signs no timestamp: replays are stopped by event ids."""
        return None

    def charged_amount(self, registration: CheckoutRegistration) -> Money:
        """The decimal string AcmePay received, read by the currency's ISO decimals."""
        checkout = self.fake.checkouts[registration.token]
        return Money.parse(checkout.amount, checkout.currency)

    def registrations(self) -> int:
        """Checkouts the fake holds."""
        return len(self.fake.checkouts)

    def fail_next(self, fault: Fault) -> None:
        """Script the fake's next answer."""
        self.fake.fail_next(fault)

    def payout_destination(self, seller_id: str) -> PayoutDestination:
        """Unused: AcmePay does no payouts."""
        return PayoutDestination(account=seller_id)

    async def aclose(self) -> None:
        """Close the provider."""
        await self._provider.aclose()
