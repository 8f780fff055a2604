"""HMAC key rotation: the current and the previous key verify, no other (both webhooks)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from paymux.core.ports.provider import WebhookVerificationError
from paymux_adyen.config import AdyenConfig
from paymux_adyen.provider import AdyenProvider
from paymux_adyen.signatures import sign_notification_item, sign_payload
from paymux_adyen.transfer_webhooks import SIGNATURE_HEADER

NEW, OLD, OTHER = "00" * 31 + "01", "00" * 31 + "02", "00" * 31 + "03"
ROTATIONS = [(OLD, NEW, True), (OLD, OLD, True), (OLD, OTHER, False), (None, OLD, False)]


def provider_with(**keys: Any) -> AdyenProvider:
    return AdyenProvider(
        AdyenConfig(
            api_key="key",
            merchant_account="Shop",
            hmac_key=NEW,
            balance_platform_hmac_key=NEW,
            base_url="http://127.0.0.1:9",
            **keys,
        )
    )


def notification(key: str) -> bytes:
    item: dict[str, Any] = {
        "pspReference": "PSP_REFUND_1",
        "originalReference": "PSP_PAYMENT_1",
        "merchantAccountCode": "Shop",
        "merchantReference": "ref_1",
        "amount": {"value": 1000, "currency": "EUR"},
        "eventCode": "REFUND",
        "success": "true",
        "eventDate": "2026-01-01T00:00:00+01:00",
        "additionalData": {},
    }
    item["additionalData"]["hmacSignature"] = sign_notification_item(item, key)
    return json.dumps(
        {"live": "false", "notificationItems": [{"NotificationRequestItem": item}]}
    ).encode()


@pytest.mark.parametrize(("previous", "key", "accepted"), ROTATIONS)
async def test_classic_notifications_verify_with_two_keys(
    previous: str | None, key: str, accepted: bool
) -> None:
    provider = provider_with(previous_hmac_key=previous)
    try:
        if accepted:
            [event] = provider.parse_webhook({}, notification(key))
            assert event.event_id.startswith("PSP_REFUND_1:REFUND")
        else:
            with pytest.raises(WebhookVerificationError, match="hmacSignature"):
                provider.parse_webhook({}, notification(key))
    finally:
        await provider.aclose()


@pytest.mark.parametrize(("previous", "key", "accepted"), ROTATIONS)
async def test_transfer_webhooks_verify_with_two_keys(
    previous: str | None, key: str, accepted: bool
) -> None:
    provider = provider_with(previous_balance_platform_hmac_key=previous)
    body = json.dumps({"type": "balancePlatform.report.created", "data": {}}).encode()
    headers = {SIGNATURE_HEADER: sign_payload(body, key)}
    try:
        if accepted:
            assert provider.parse_webhook(headers, body) == []  # verified; nothing paymux uses
        else:
            with pytest.raises(WebhookVerificationError, match="does not match"):
                provider.parse_webhook(headers, body)
    finally:
        await provider.aclose()


def test_a_previous_key_must_be_hex() -> None:
    with pytest.raises(ValueError, match="hexadecimal"):
        provider_with(previous_hmac_key="not hex")
