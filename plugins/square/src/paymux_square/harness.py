"""The Square plugin's :class:`~paymux.testing.harness.ProviderHarness`.

A fresh fake Square (:mod:`paymux_square.fake_psp`) on 127.0.0.1 and a
:class:`~paymux_square.provider.SquareProvider` wired to it, with every request checked
against Square's OpenAPI document::

    async with SquareHarness() as harness:
        registration = await harness.provider.register_checkout(request, idempotency_key=key)
        await harness.complete_checkout(registration, PaymentStatus.SUCCEEDED)
        assert harness.invalid_requests() == []
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import CheckoutRegistration, PayoutDestination
from paymux.currencies import Money
from paymux.testing.harness import Fault
from paymux_square.amounts import from_square
from paymux_square.config import SquareConfig
from paymux_square.fake_psp import FakeSquareServer
from paymux_square.fake_square import FakeSquare, FaultKind, RecordedRequest, now_rfc3339, square_id
from paymux_square.provider import SquareProvider
from paymux_square.spec_validation import shared_validator
from paymux_square.webhooks import SIGNATURE_HEADER, sign

WEBHOOK_URL = "https://paymux.test/v1/webhooks/square"
SIGNATURE_KEY = "fake-square-signature-key"
LOCATION_ID = "FAKELOCATION1"
DECLINE_CODE = "GENERIC_DECLINE"

_FAULTS: dict[str, FaultKind] = {
    "timeout": "timeout",
    "unavailable": "server_error",
    "rejected": "decline",
    "reset": "reset",
}
_WEBHOOK_STATUSES = {
    PaymentStatus.SUCCEEDED: "COMPLETED",
    PaymentStatus.FAILED: "FAILED",
    PaymentStatus.PENDING: "PENDING",
    PaymentStatus.CANCELED: "CANCELED",
}


class SquareHarness:
    """One fake Square and the provider talking to it (SDK retries off, short timeouts)."""

    def __init__(
        self,
        *,
        validate: bool = True,
        request_timeout_seconds: float = 2.0,
        stall_seconds: float = 3.5,
    ) -> None:
        self._server = FakeSquareServer(stall_seconds=stall_seconds).start()
        self.fake: FakeSquare = self._server.fake
        if validate:
            self.fake.validator = shared_validator().errors
        self.config = SquareConfig(
            access_token="EAAA-fake-square-token",  # noqa: S106 - the fake's, not a secret
            location_id=LOCATION_ID,
            webhook_signature_key=SIGNATURE_KEY,
            base_url=self._server.base_url,
            request_timeout_seconds=request_timeout_seconds,
        )
        self._provider = SquareProvider(self.config, mode="sandbox", webhook_url=WEBHOOK_URL)

    @property
    def provider(self) -> SquareProvider:
        """The provider, configured to talk to the fake Square."""
        return self._provider

    @property
    def base_url(self) -> str:
        """Where the fake Square listens."""
        return self._server.base_url

    async def complete_checkout(
        self, registration: CheckoutRegistration, outcome: PaymentStatus
    ) -> None:
        """Pay the link (``succeeded``) or have the card declined (``failed``)."""
        if outcome is PaymentStatus.SUCCEEDED:
            self.fake.pay(registration.token)
        elif outcome is PaymentStatus.FAILED:
            self.fake.pay(registration.token, decline_code=DECLINE_CODE)
        else:
            raise ValueError(f"a buyer can make a checkout succeed or fail, not {outcome}")

    def signed_webhook(
        self, registration: CheckoutRegistration, outcome: PaymentStatus
    ) -> tuple[Mapping[str, str], bytes]:
        """A ``payment.updated`` notification for the order's payment, signed as Square does."""
        square_status = _WEBHOOK_STATUSES.get(outcome)
        if square_status is None:
            raise ValueError(f"Square sends no payment webhook for {outcome}")
        payment = self._payment_for(registration.token, square_status)
        event = self.fake.event_envelope(
            "payment.updated", "payment", payment["id"], {"payment": payment}
        )
        return self.sign(event)

    def stale_webhook(
        self, registration: CheckoutRegistration, outcome: PaymentStatus
    ) -> tuple[Mapping[str, str], bytes] | None:
        """``None``: Square signs no timestamp (replays are stopped by event ids)."""
        return None

    def charged_amount(self, registration: CheckoutRegistration) -> Money:
        """The order's total, decoded from Square's ``Money`` by Square's rules."""
        total = self.fake.orders[registration.token]["total_money"]
        return from_square(int(total["amount"]), str(total["currency"]))

    def registrations(self) -> int:
        """How many payment links the fake holds."""
        return len(self.fake.links)

    def fail_next(self, fault: Fault) -> None:
        """Make the fake's next API answer fail with ``fault``."""
        self.fake.fail_next(_FAULTS[fault])

    def payout_destination(self, seller_id: str) -> PayoutDestination:
        """Square pays out to nobody on paymux's behalf: never called (no ``payouts``)."""
        raise NotImplementedError("Square has no marketplace payouts")

    def sign(self, event: Mapping[str, Any]) -> tuple[dict[str, str], bytes]:
        """Headers and body of ``event`` as Square delivers it to paymux's webhook URL."""
        body = json.dumps(event).encode()
        signature = sign(body, signature_key=SIGNATURE_KEY, notification_url=WEBHOOK_URL)
        return {"content-type": "application/json", SIGNATURE_HEADER: signature}, body

    def invalid_requests(self) -> list[RecordedRequest]:
        """The requests that did not validate against Square's OpenAPI document."""
        return list(self.fake.invalid)

    async def aclose(self) -> None:
        """Close the provider and stop the fake."""
        await self._provider.aclose()
        self._server.stop()

    async def __aenter__(self) -> SquareHarness:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _payment_for(self, order_id: str, square_status: str) -> dict[str, Any]:
        for known in self.fake.payments.values():
            if known["order_id"] == order_id and known["status"] == square_status:
                return dict(known)
        order = self.fake.orders[order_id]
        stamp = now_rfc3339()
        payment: dict[str, Any] = {
            "id": square_id(29),
            "created_at": stamp,
            "updated_at": stamp,
            "amount_money": dict(order["total_money"]),
            "total_money": dict(order["total_money"]),
            "status": square_status,
            "source_type": "CARD",
            "location_id": order["location_id"],
            "order_id": order_id,
        }
        if square_status == "FAILED":
            payment["card_details"] = {
                "status": "FAILED",
                "errors": [{"category": "PAYMENT_METHOD_ERROR", "code": DECLINE_CODE}],
            }
        return payment
