"""Webhook secret rotation: the current and the previous signing secret verify, no other."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from paymux.core.ports.provider import WebhookVerificationError
from paymux_stripe.config import StripeConfig
from paymux_stripe.provider import StripeProvider
from paymux_stripe.webhooks import SIGNATURE_HEADER

NEW, OLD, OTHER = "whsec_new_secret", "whsec_old_secret", "whsec_third_one"
BODY = json.dumps(
    {
        "id": "evt_1",
        "object": "event",
        "type": "charge.refund.updated",
        "created": 1_700_000_000,
        "data": {
            "object": {
                "id": "re_1",
                "object": "refund",
                "status": "succeeded",
                "metadata": {"paymux_refund_id": "ref_1"},
            }
        },
    }
).encode()


def signed(secret: str, at: int | None = None) -> dict[str, str]:
    """A ``Stripe-Signature`` as Stripe computes it: HMAC-SHA256 of ``"{t}.{body}"``."""
    timestamp = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + BODY, hashlib.sha256)
    return {SIGNATURE_HEADER: f"t={timestamp},v1={mac.hexdigest()}"}


@pytest.mark.parametrize(
    ("previous", "secret", "accepted"),
    [(OLD, NEW, True), (OLD, OLD, True), (OLD, OTHER, False), (None, OLD, False)],
)
async def test_during_a_rotation_two_secrets_verify(
    previous: str | None, secret: str, accepted: bool
) -> None:
    provider = StripeProvider(
        StripeConfig(
            api_key="sk_test_12345678", webhook_secret=NEW, previous_webhook_secret=previous
        )
    )
    try:
        if accepted:
            [event] = provider.parse_webhook(signed(secret), BODY)
            assert event.event_id == "evt_1"
        else:
            with pytest.raises(WebhookVerificationError, match="Stripe signature"):
                provider.parse_webhook(signed(secret), BODY)
        stale = signed(secret, at=int(time.time()) - 301)
        with pytest.raises(WebhookVerificationError, match="tolerance" if accepted else "No sig"):
            provider.parse_webhook(stale, BODY)
    finally:
        await provider.aclose()
