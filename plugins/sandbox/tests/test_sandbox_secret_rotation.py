"""Webhook secret rotation: the current and the previous secret verify, no other."""

from __future__ import annotations

import time

import pytest

from paymux.core.ports.provider import WebhookVerificationError
from paymux_sandbox.config import SandboxConfig
from paymux_sandbox.provider import SandboxProvider
from paymux_sandbox.signature import SIGNATURE_HEADER, sign

NEW, OLD, OTHER = "whsec_new_secret", "whsec_old_secret", "whsec_third_one"
BODY = b'{"id": "evt_1", "created": 1, "data": {"token": "sbx_1", "status": "succeeded"}}'


@pytest.mark.parametrize(
    ("config", "secret", "accepted"),
    [
        ({"previous_webhook_secret": OLD}, NEW, True),
        ({"previous_webhook_secret": OLD}, OLD, True),
        ({"previous_webhook_secret": OLD}, OTHER, False),
        ({}, OLD, False),  # after the rotation the old secret is gone
    ],
)
async def test_during_a_rotation_two_secrets_verify(
    config: dict[str, str], secret: str, accepted: bool
) -> None:
    provider = SandboxProvider(
        SandboxConfig(webhook_secret=NEW, **config),
        base_url="http://127.0.0.1:9",
        webhook_url="http://x",
    )
    headers = {SIGNATURE_HEADER: sign(BODY, secret=secret, timestamp=int(time.time()))}
    try:
        if accepted:
            [event] = provider.parse_webhook(headers, BODY)
            assert event.event_id == "evt_1"
        else:
            with pytest.raises(WebhookVerificationError, match="no signature matches"):
                provider.parse_webhook(headers, BODY)
    finally:
        await provider.aclose()


async def test_an_old_timestamp_is_refused_with_either_secret() -> None:
    provider = SandboxProvider(
        SandboxConfig(webhook_secret=NEW, previous_webhook_secret=OLD),
        base_url="http://127.0.0.1:9",
        webhook_url="http://x",
    )
    try:
        for secret in (NEW, OLD):
            stale = sign(BODY, secret=secret, timestamp=int(time.time()) - 301)
            with pytest.raises(WebhookVerificationError, match="tolerance"):
                provider.parse_webhook({SIGNATURE_HEADER: stale}, BODY)
    finally:
        await provider.aclose()
