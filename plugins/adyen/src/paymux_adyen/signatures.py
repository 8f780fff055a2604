"""Adyen's two webhook signature schemes, computed with the standard library.

* Classic (Standard webhook) notifications: each item carries
  ``additionalData.hmacSignature`` = base64(HMAC-SHA256(hex key, signing string)), the
  signing string being ``pspReference:originalReference:merchantAccountCode:
  merchantReference:value:currency:eventCode:success`` (absent fields are empty).
* Balance-platform webhooks: the ``HmacSignature`` header = base64(HMAC-SHA256(hex key,
  raw body)).

The SDK's ``Adyen.util`` helpers compute the same values (the tests check it), but its
``is_valid_hmac_notification`` only looks at the first item of a batch: paymux checks each.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

NOTIFICATION_FIELDS = (
    "pspReference",
    "originalReference",
    "merchantAccountCode",
    "merchantReference",
)


def notification_signing_string(item: Mapping[str, Any]) -> str:
    """The string Adyen signs for one ``NotificationRequestItem``."""
    amount = item.get("amount") or {}
    parts = [str(item.get(name) or "") for name in NOTIFICATION_FIELDS]
    parts += [
        str(amount.get("value", "")),
        str(amount.get("currency") or ""),
        str(item.get("eventCode") or ""),
        str(item.get("success") or ""),
    ]
    return ":".join(parts)


def _digest(key_hex: str, message: bytes) -> str:
    mac = hmac.new(bytes.fromhex(key_hex), message, hashlib.sha256).digest()
    return base64.b64encode(mac).decode("ascii")


def sign_notification_item(item: Mapping[str, Any], key_hex: str) -> str:
    """The ``hmacSignature`` Adyen puts into ``item``'s ``additionalData``."""
    return _digest(key_hex, notification_signing_string(item).encode("utf-8"))


def notification_item_is_valid(item: Mapping[str, Any], key_hex: str) -> bool:
    """Whether ``item`` carries a correct ``hmacSignature`` (missing counts as wrong)."""
    additional = item.get("additionalData")
    if not isinstance(additional, Mapping):
        return False
    given = additional.get("hmacSignature")
    if not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(given.encode(), sign_notification_item(item, key_hex).encode())


def sign_payload(body: bytes, key_hex: str) -> str:
    """The ``HmacSignature`` header of a balance-platform webhook with this raw body."""
    return _digest(key_hex, body)


def payload_is_valid(signature: str | None, body: bytes, key_hex: str) -> bool:
    """Whether ``signature`` is the ``HmacSignature`` of ``body``."""
    if not signature:
        return False
    return hmac.compare_digest(signature.encode(), sign_payload(body, key_hex).encode())
