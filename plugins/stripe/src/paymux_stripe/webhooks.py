"""Stripe webhook events, verified with the SDK and normalized to paymux's events.

Which events paymux reads (everything else gives ``[]``):

| Stripe event | paymux event |
| --- | --- |
| ``checkout.session.completed`` | payment ``succeeded`` (paid) or ``pending`` (unpaid) |
| ``checkout.session.async_payment_succeeded`` | payment ``succeeded`` |
| ``checkout.session.async_payment_failed`` | payment ``failed`` |
| ``checkout.session.expired`` | payment ``expired`` |
| ``charge.refunded``, ``charge.refund.updated``, ``refund.*`` | refund status |
| ``charge.dispute.created`` / ``updated`` / ``closed`` | chargeback opened / won / lost |
| ``transfer.created`` / ``transfer.reversed`` | payout ``paid`` / ``failed`` |

Checkout Sessions without ``metadata.paymux_payment_id`` (made by another integration on
the same Stripe account) are ignored. Refunds are found by ``metadata.paymux_refund_id``,
payouts by ``metadata.paymux_payout_id``.

``payment_intent.*`` events are not used: a PaymentIntent does not name its Checkout Session
(the session's id cannot be put in ``payment_intent_data[metadata]`` because Stripe makes it
up when the session is created), and under Checkout a declined attempt is not final, since
the buyer may try another card. The session events carry every outcome. Bank ``payout.*``
events of connected accounts are not used either: Stripe pays a connected account's whole
balance out, not one paymux payout.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import stripe

from paymux.core.domain.chargebacks import DisputeStatus
from paymux.core.domain.payouts import PayoutStatus
from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import (
    DisputeEvent,
    PayoutEvent,
    ProviderEvent,
    RefundEvent,
    WebhookEvent,
    WebhookVerificationError,
)
from paymux_stripe.amounts import decode_amount
from paymux_stripe.errors import slug
from paymux_stripe.statuses import dispute_status, payment_status, refund_status

SIGNATURE_HEADER = "stripe-signature"

REFUND_ID_KEY = "paymux_refund_id"
PAYOUT_ID_KEY = "paymux_payout_id"
PAYMENT_ID_KEY = "paymux_payment_id"

Event = dict[str, Any]


def verify_and_load(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret: str,
    tolerance: int,
    previous_secret: str | None = None,
) -> Event:
    """The event of a webhook whose ``Stripe-Signature`` verifies with the SDK's own check,
    with ``secret`` or (during a rotation) ``previous_secret``."""
    try:
        payload = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookVerificationError("the Stripe webhook body is not UTF-8") from None
    failures: list[str] = []
    for key in (secret,) if previous_secret is None else (secret, previous_secret):
        try:
            stripe.WebhookSignature.verify_header(
                payload, headers.get(SIGNATURE_HEADER), key, tolerance
            )
            break
        except stripe.SignatureVerificationError as error:
            failures.append(str(error.user_message))
    else:  # the most telling reason: a matching signature's old timestamp, say
        telling = [f for f in failures if not f.startswith("No signatures found")]
        raise WebhookVerificationError(f"Stripe signature: {(telling or failures)[0]}")
    try:
        event = json.loads(payload)
    except ValueError as error:
        raise WebhookVerificationError(f"the Stripe webhook body is not JSON: {error}") from None
    if not isinstance(event, dict) or event.get("object") != "event":
        raise WebhookVerificationError("the Stripe webhook body is not an event")
    return event


def normalize(event: Event) -> list[WebhookEvent]:
    """paymux's events for one verified Stripe event (``[]`` for kinds paymux does not use).

    Raises :class:`WebhookVerificationError` when an event paymux uses cannot be read.
    """
    handler = _HANDLERS.get(str(event.get("type")))
    if handler is None:
        return []
    try:
        return handler(event, event["data"]["object"])
    except (KeyError, TypeError, ValueError) as error:
        raise WebhookVerificationError(
            f"the Stripe event {event.get('id')!r} cannot be read: {error!r}"
        ) from None


def _when(event: Event) -> datetime:
    return datetime.fromtimestamp(int(event["created"]), UTC)


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _id_of(value: object) -> str | None:
    """An expandable field's id, whether Stripe sent the id or the expanded object."""
    if isinstance(value, Mapping):
        return str(value["id"])
    return None if value is None else str(value)


def _session(event: Event, session: Mapping[str, Any]) -> list[WebhookEvent]:
    if PAYMENT_ID_KEY not in _metadata(session):
        return []  # a session paymux did not create (another integration on the account)
    kind = event["type"]
    failure_code: str | None = None
    if kind == "checkout.session.expired":
        status = PaymentStatus.EXPIRED
    elif kind == "checkout.session.async_payment_succeeded":
        status = PaymentStatus.SUCCEEDED
    elif kind == "checkout.session.async_payment_failed":
        status = PaymentStatus.FAILED
        failure_code = "async-payment-failed"
    else:  # checkout.session.completed
        status = payment_status(session.get("status"), str(session["payment_status"]), None)
        if status is PaymentStatus.FAILED:
            failure_code = "no-payment-collected"
    return [
        ProviderEvent(
            event_id=str(event["id"]),
            token=str(session["id"]),
            status=status,
            failure_code=failure_code,
            occurred_at=_when(event),
            psp_payment_id=_id_of(session.get("payment_intent")),
        )
    ]


def _refund_event(event_id: str, refund: Mapping[str, Any], when: datetime) -> RefundEvent:
    refund_id = _metadata(refund).get(REFUND_ID_KEY)
    status = refund_status(refund.get("status"))
    return RefundEvent(
        event_id=event_id,
        status=status,
        refund_id=str(refund_id) if refund_id else None,
        psp_reference=str(refund["id"]),
        failure_code=slug(refund.get("failure_reason"), "refund-failed")
        if status.value == "failed"
        else None,
        occurred_at=when,
    )


def _refund(event: Event, refund: Mapping[str, Any]) -> list[WebhookEvent]:
    return [_refund_event(str(event["id"]), refund, _when(event))]


def _charge_refunded(event: Event, charge: Mapping[str, Any]) -> list[WebhookEvent]:
    """Every refund the charge lists (Stripe includes ``refunds`` on older API versions and
    the fake; newer versions send ``refund.*`` events, read by :func:`_refund`)."""
    refunds = charge.get("refunds")
    items = refunds.get("data", []) if isinstance(refunds, Mapping) else []
    when = _when(event)
    return [_refund_event(f"{event['id']}:{item['id']}", item, when) for item in items]


def _dispute(event: Event, dispute: Mapping[str, Any]) -> list[WebhookEvent]:
    status = dispute_status(str(dispute["status"]))
    if event["type"] == "charge.dispute.closed" and status is DisputeStatus.OPENED:
        raise ValueError(f"a closed dispute with open status {dispute['status']!r}")
    if event["type"] == "charge.dispute.created":
        status = DisputeStatus.OPENED
    token = _id_of(dispute.get("payment_intent")) or str(dispute["charge"])
    return [
        DisputeEvent(
            event_id=str(event["id"]),
            token=token,
            dispute_id=str(dispute["id"]),
            status=status,
            amount=decode_amount(int(dispute["amount"]), str(dispute["currency"])),
            reason=dispute.get("reason"),
            occurred_at=_when(event),
        )
    ]


def _transfer(event: Event, transfer: Mapping[str, Any]) -> list[WebhookEvent]:
    payout_id = _metadata(transfer).get(PAYOUT_ID_KEY)
    if event["type"] == "transfer.reversed":
        if int(transfer.get("amount_reversed") or 0) < int(transfer["amount"]):
            return []  # a partial reversal is a clawback, not a failed payout
        status, failure_code = PayoutStatus.FAILED, "transfer-reversed"
    else:
        status, failure_code = PayoutStatus.PAID, None
    return [
        PayoutEvent(
            event_id=str(event["id"]),
            status=status,
            payout_id=str(payout_id) if payout_id else None,
            psp_reference=str(transfer["id"]),
            failure_code=failure_code,
            occurred_at=_when(event),
        )
    ]


_Handler = Callable[[Event, Mapping[str, Any]], list[WebhookEvent]]

_HANDLERS: dict[str, _Handler] = {
    "checkout.session.completed": _session,
    "checkout.session.async_payment_succeeded": _session,
    "checkout.session.async_payment_failed": _session,
    "checkout.session.expired": _session,
    "charge.refunded": _charge_refunded,
    "charge.refund.updated": _refund,
    "refund.created": _refund,
    "refund.updated": _refund,
    "refund.failed": _refund,
    "charge.dispute.created": _dispute,
    "charge.dispute.updated": _dispute,
    "charge.dispute.closed": _dispute,
    "transfer.created": _transfer,
    "transfer.reversed": _transfer,
}
