"""The sandbox's :class:`~paymux.testing.harness.ProviderHarness` for paymux's conformance suite.

It runs the :class:`~paymux_sandbox.simulator.SandboxPsp` in-process (httpx's ASGI transport,
no network) with the :class:`~paymux_sandbox.provider.SandboxProvider` wired to it; webhooks
the simulator sends are kept in :attr:`SandboxHarness.delivered` instead of leaving the process.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import httpx

from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import CheckoutRegistration, PayoutDestination
from paymux.currencies import Money
from paymux.testing.harness import Fault
from paymux_sandbox.config import SandboxConfig
from paymux_sandbox.provider import SandboxProvider
from paymux_sandbox.simulator import SandboxPsp

BASE_URL = "http://sandbox-psp.test"
WEBHOOK_URL = "http://paymux.test/v1/webhooks/sandbox"

SUCCEEDING_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"


class SandboxHarness:
    """A fresh sandbox PSP and a provider talking to it; close it with :meth:`aclose`."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig(
            request_timeout_seconds=0.2, stall_seconds=1.0, webhook_attempts=1
        )
        self.delivered: list[httpx.Request] = []
        self.psp = SandboxPsp(
            self.config,
            public_base=BASE_URL,
            webhook_transport=httpx.MockTransport(self._receive_webhook),
        )
        self._provider = SandboxProvider(
            self.config,
            base_url=BASE_URL,
            webhook_url=WEBHOOK_URL,
            transport=self.psp.transport(),
        )

    def _receive_webhook(self, request: httpx.Request) -> httpx.Response:
        self.delivered.append(request)
        return httpx.Response(200)

    @property
    def provider(self) -> SandboxProvider:
        """The sandbox provider, talking to the in-process simulator."""
        return self._provider

    async def complete_checkout(
        self, registration: CheckoutRegistration, outcome: PaymentStatus
    ) -> None:
        """Pay on the hosted page with a test card: 4242… succeeds, 4000…0002 is declined."""
        if outcome not in (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED):
            raise ValueError(f"the sandbox harness cannot reach {outcome}")
        card = SUCCEEDING_CARD if outcome is PaymentStatus.SUCCEEDED else DECLINED_CARD
        async with httpx.AsyncClient(transport=self.psp.transport()) as browser:
            page = await browser.post(registration.redirect_url, data={"card_number": card})
        if page.status_code != 303:
            raise AssertionError(f"the hosted page answered {page.status_code}: {page.text}")
        await self.psp.idle()  # the simulator's own webhooks are delivered (to self.delivered)

    def signed_webhook(
        self, registration: CheckoutRegistration, outcome: PaymentStatus
    ) -> tuple[Mapping[str, str], bytes]:
        """A webhook for ``outcome``, signed now with the sandbox scheme."""
        failure_code = "card_declined" if outcome is PaymentStatus.FAILED else None
        return self.psp.signed_webhook(registration.token, outcome.value, failure_code)

    def stale_webhook(
        self, registration: CheckoutRegistration, outcome: PaymentStatus
    ) -> tuple[Mapping[str, str], bytes] | None:
        """A webhook signed a minute before the tolerance starts."""
        failure_code = "card_declined" if outcome is PaymentStatus.FAILED else None
        signed_at = int(time.time()) - self.config.webhook_tolerance_seconds - 60
        return self.psp.signed_webhook(
            registration.token, outcome.value, failure_code, timestamp=signed_at
        )

    def charged_amount(self, registration: CheckoutRegistration) -> Money:
        """The simulator's amount: ISO minor units, as the sandbox's API carries them."""
        checkout = self.psp.checkouts[registration.token].request
        return Money(checkout.amount, checkout.currency)

    def registrations(self) -> int:
        """Checkouts the simulator holds."""
        return len(self.psp.checkouts)

    def fail_next(self, fault: Fault) -> None:
        """Script the simulator's next API answer."""
        self.psp.fail_next(fault)

    def payout_destination(self, seller_id: str) -> PayoutDestination:
        """The sandbox pays anyone; the destination is only carried along."""
        return PayoutDestination(account=f"sbx_acct_{seller_id}", holder_name=seller_id)

    async def aclose(self) -> None:
        """Close the provider and the simulator."""
        await self._provider.aclose()
        await self.psp.aclose()
