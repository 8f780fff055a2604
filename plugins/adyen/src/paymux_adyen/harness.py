"""The plugin's :class:`~paymux.testing.harness.ProviderHarness`: the fake Adyen, wired up.

Build one per test (``AdyenHarness()``), use it, then :meth:`AdyenHarness.close` it (or use
it as a context manager). Pass ``validator=`` to check every request the provider sends
against Adyen's OpenAPI specs (the plugin's tests do).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import CheckoutRegistration, PayoutDestination
from paymux.currencies import Money
from paymux.testing.harness import Fault
from paymux_adyen.config import AdyenConfig
from paymux_adyen.fake_psp import FakeAdyen, Validator, decode_amount, new_psp_reference
from paymux_adyen.provider import AdyenProvider

TEST_API_KEY = "AQE_fake_test_key"


class AdyenHarness:
    """A fresh fake Adyen and an :class:`AdyenProvider` talking to it (SDK retries off)."""

    def __init__(
        self,
        *,
        validator: Validator | None = None,
        request_timeout_seconds: float = 2.0,
        **config: Any,
    ) -> None:
        self.fake = FakeAdyen(validator=validator, stall_seconds=request_timeout_seconds + 1.5)
        self.fake.start()
        settings: dict[str, Any] = {
            "api_key": TEST_API_KEY,
            "merchant_account": self.fake.merchant_account,
            "hmac_key": self.fake.hmac_key,
            "balance_platform_hmac_key": self.fake.platform_hmac_key,
            "platform_balance_account_id": self.fake.platform_balance_account,
            "base_url": self.fake.base_url,
            "request_timeout_seconds": request_timeout_seconds,
            "report_username": self.fake.report_username,
            "report_password": self.fake.report_password,
        }
        settings.update(config)
        self.config = AdyenConfig.model_validate(settings)
        self._provider = AdyenProvider(self.config)

    @property
    def provider(self) -> AdyenProvider:
        """The provider, configured for the fake."""
        return self._provider

    async def complete_checkout(
        self, registration: CheckoutRegistration, outcome: PaymentStatus
    ) -> None:
        """The buyer pays on the link (``succeeded``), or is refused and gives up (``failed``).

        Adyen then delivers the AUTHORISATION notification; the harness hands it to the
        provider as the webhook endpoint would, so the provider knows the payment's
        pspReference for later refunds. A failed payment link stays ``active`` at Adyen
        until it expires; the harness expires it, so ``fetch_status`` reports ``expired``.
        """
        success = outcome is PaymentStatus.SUCCEEDED
        item = self.fake.pay(registration.token, success=success)
        self._provider.parse_webhook(*self.fake.notification_batch(item))
        if not success:
            self.fake.expire(registration.token)

    def signed_webhook(
        self, registration: CheckoutRegistration, outcome: PaymentStatus
    ) -> tuple[Mapping[str, str], bytes]:
        """An AUTHORISATION notification batch for the link, HMAC-signed, fresh pspReference."""
        link = self.fake.links[registration.token]
        psp_reference = new_psp_reference()
        if outcome is PaymentStatus.SUCCEEDED:  # the fake accepts refunds of it too
            link.payment_psp_references.add(psp_reference)
        item = self.fake.notification_item(
            "AUTHORISATION",
            psp_reference=psp_reference,
            merchant_reference=str(link.request["reference"]),
            amount=dict(link.request["amount"]),
            success=outcome is PaymentStatus.SUCCEEDED,
            reason="" if outcome is PaymentStatus.SUCCEEDED else "Refused",
            additional={"paymentLinkId": link.id},
        )
        return self.fake.notification_batch(item)

    def stale_webhook(
        self, registration: CheckoutRegistration, outcome: PaymentStatus
    ) -> tuple[Mapping[str, str], bytes] | None:
        """``None``: Adyen's HMAC signs no timestamp; replays are stopped by event ids."""
        return None

    def charged_amount(self, registration: CheckoutRegistration) -> Money:
        """The link's amount, decoded by Adyen's currency rules (the fake's own table)."""
        return decode_amount(self.fake.links[registration.token].request["amount"])

    def registrations(self) -> int:
        """How many payment links the fake holds."""
        return len(self.fake.links)

    def fail_next(self, fault: Fault) -> None:
        """Script the fake's next answer."""
        self.fake.fail_next(fault)

    def payout_destination(self, seller_id: str) -> PayoutDestination:
        """A balance account id for the seller (the fake accepts any ``BA...``)."""
        digest = hashlib.sha256(seller_id.encode()).hexdigest()[:23].upper()
        return PayoutDestination(account=f"BA{digest}")

    def close(self) -> None:
        """Stop the fake."""
        self.fake.stop()

    def __enter__(self) -> AdyenHarness:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
