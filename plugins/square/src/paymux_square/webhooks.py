"""Square webhooks: the signature check and the mapping of events to paymux's.

Square signs each notification with ``x-square-hmacsha256-signature``: base64 of
HMAC-SHA256, keyed with the subscription's signature key, over the notification URL exactly
as registered followed by the raw body. No timestamp is signed, so replays are stopped by
paymux applying each ``event_id`` once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from square.utils.webhooks_helper import verify_signature

from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import (
    DisputeEvent,
    ProviderEvent,
    RefundEvent,
    WebhookEvent,
    WebhookVerificationError,
)
from paymux_square.amounts import from_square
from paymux_square.errors import slug
from paymux_square.statuses import (
    dispute_status,
    payment_status,
    refund_status,
)

SIGNATURE_HEADER = "x-square-hmacsha256-signature"

PAYMENT_EVENTS = frozenset({"payment.created", "payment.updated"})
REFUND_EVENTS = frozenset({"refund.created", "refund.updated"})
DISPUTE_EVENTS = frozenset({"dispute.created", "dispute.state.updated"})


def sign(body: bytes, *, signature_key: str, notification_url: str) -> str:
    """The ``x-square-hmacsha256-signature`` value Square sends with ``body``."""
    digest = hmac.new(
        signature_key.encode(), notification_url.encode() + body, hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def verify(
    headers: Mapping[str, str],
    body: bytes,
    *,
    signature_key: str,
    notification_url: str,
    previous_signature_key: str | None = None,
) -> None:
    """Raise :class:`WebhookVerificationError` unless Square's signature of ``body`` holds,
    with ``signature_key`` or (during a rotation) ``previous_signature_key``."""
    signature = headers.get(SIGNATURE_HEADER)
    if not signature:
        raise WebhookVerificationError(f"the {SIGNATURE_HEADER} header is missing")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookVerificationError("the webhook body is not UTF-8") from None
    keys = (
        [signature_key]
        if previous_signature_key is None
        else [signature_key, previous_signature_key]
    )
    if not any(
        verify_signature(
            request_body=text,
            signature_header=signature,
            signature_key=key,
            notification_url=notification_url,
        )
        for key in keys
    ):
        raise WebhookVerificationError("the Square signature does not match")


def parse_events(body: bytes) -> list[WebhookEvent]:
    """The paymux events of one (verified) Square notification; ``[]`` for other kinds."""
    try:
        envelope = json.loads(body)
        kind = str(envelope["type"])
        event_id = str(envelope["event_id"])
        created_at = _timestamp(envelope.get("created_at"))
        data_object = envelope["data"]["object"]
        if kind in PAYMENT_EVENTS:
            return [_payment_event(event_id, data_object["payment"], created_at)]
        if kind in REFUND_EVENTS:
            return [_refund_event(event_id, data_object["refund"], created_at)]
        if kind in DISPUTE_EVENTS:
            dispute = data_object.get("dispute") or data_object["object"]
            return [_dispute_event(event_id, dispute, created_at)]
        return []
    # UnknownSquareStatusError is a ValueError: an unknown status is refused, never guessed.
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise WebhookVerificationError(f"the Square webhook cannot be read: {error!r}") from None


def payment_failure_code(payment: Mapping[str, Any]) -> str | None:
    """The slug of a failed payment's first card error (``generic-decline``), else a default."""
    details = payment.get("card_details") or {}
    errors = details.get("errors") or []
    if errors and isinstance(errors[0], Mapping) and errors[0].get("code"):
        return slug(str(errors[0]["code"]))
    return "payment-failed"


def _payment_event(
    event_id: str, payment: Mapping[str, Any], created_at: datetime | None
) -> ProviderEvent:
    status = payment_status(str(payment["status"]))
    return ProviderEvent(
        event_id=event_id,
        token=str(payment["order_id"]),
        status=status,
        failure_code=payment_failure_code(payment) if status is PaymentStatus.FAILED else None,
        occurred_at=_timestamp(payment.get("updated_at")) or created_at,
        psp_payment_id=str(payment["id"]) if payment.get("id") else None,
    )


def _refund_event(
    event_id: str, refund: Mapping[str, Any], created_at: datetime | None
) -> RefundEvent:
    square_status = str(refund["status"])
    status = refund_status(square_status)
    return RefundEvent(
        event_id=event_id,
        status=status,
        psp_reference=str(refund["id"]),
        failure_code=f"refund-{slug(square_status)}" if status.value == "failed" else None,
        occurred_at=_timestamp(refund.get("updated_at")) or created_at,
    )


def _dispute_event(
    event_id: str, dispute: Mapping[str, Any], created_at: datetime | None
) -> DisputeEvent:
    money = dispute["amount_money"]
    reason = dispute.get("reason")
    return DisputeEvent(
        event_id=event_id,
        # Square's dispute names the payment, not its order: paymux finds the payment by the
        # psp_payment_id its status reports carried.
        token=str(dispute["disputed_payment"]["payment_id"]),
        dispute_id=str(dispute.get("id") or dispute["dispute_id"]),
        status=dispute_status(str(dispute["state"])),
        amount=from_square(int(money["amount"]), str(money["currency"])),
        reason=slug(str(reason)) if reason else None,
        occurred_at=_timestamp(dispute.get("updated_at")) or created_at,
    )


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value)
