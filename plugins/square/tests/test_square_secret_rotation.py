"""Webhook signature-key rotation: the current and the previous key verify, no other."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from paymux.core.ports.provider import WebhookVerificationError
from paymux_square.config import SquareConfig
from paymux_square.provider import SquareProvider
from paymux_square.webhooks import SIGNATURE_HEADER, sign

URL = "https://paymux.test/v1/webhooks/square"
NEW, OLD, OTHER = "new-signature-key", "old-signature-key", "third-signature-key"
BODY = json.dumps(
    {
        "type": "refund.updated",
        "event_id": "evt_1",
        "created_at": "2026-01-01T00:00:00Z",
        "data": {
            "object": {
                "refund": {
                    "id": "rf_1",
                    "status": "COMPLETED",
                    "payment_id": "p_1",
                    "amount_money": {"amount": 500, "currency": "USD"},
                }
            }
        },
    }
).encode()


@pytest.mark.parametrize(
    ("previous", "key", "accepted"),
    [(OLD, NEW, True), (OLD, OLD, True), (OLD, OTHER, False), (None, OLD, False)],
)
async def test_during_a_rotation_two_keys_verify(
    previous: str | None, key: str, accepted: bool
) -> None:
    config = SquareConfig(
        access_token=SecretStr("token"),
        location_id="L1",
        webhook_signature_key=SecretStr(NEW),
        previous_webhook_signature_key=SecretStr(previous) if previous else None,
        notification_url=URL,
    )
    provider = SquareProvider(config, mode="sandbox", webhook_url=URL)
    headers = {SIGNATURE_HEADER: sign(BODY, signature_key=key, notification_url=URL)}
    try:
        if accepted:
            [event] = provider.parse_webhook(headers, BODY)
            assert event.event_id == "evt_1"
        else:
            with pytest.raises(WebhookVerificationError, match="does not match"):
                provider.parse_webhook(headers, BODY)
    finally:
        await provider.aclose()
