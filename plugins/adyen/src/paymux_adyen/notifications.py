"""Classic Adyen notifications (Standard webhook): verify every item, then normalize.

A batch is refused whole (:class:`WebhookVerificationError`) when any item's HMAC fails.
A ``REPORT_AVAILABLE`` item of a Settlement details report becomes a
:class:`~paymux.core.ports.provider.SettlementReportAvailable` (other reports are
acknowledged and ignored); Adyen's HMAC does not sign ``reason``, the download URL, so a URL
that is not at the reports origin or does not end in the signed file name refuses the batch.
Event ids are ``pspReference:eventCode:success``: Adyen redelivers an item unchanged, so the
id is stable, while the same pspReference's other events (a refund after its failure, the
stages of a dispute) get ids of their own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from paymux.core.domain.chargebacks import DisputeStatus
from paymux.core.domain.refunds import RefundStatus
from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import (
    DisputeEvent,
    ProviderEvent,
    ProviderRejectedError,
    RefundEvent,
    SettlementReportAvailable,
    WebhookEvent,
    WebhookVerificationError,
)
from paymux_adyen.amounts import from_adyen
from paymux_adyen.signatures import notification_item_is_valid

DISPUTE_EVENT_CODES: Mapping[str, DisputeStatus] = {
    "NOTIFICATION_OF_CHARGEBACK": DisputeStatus.OPENED,
    "CHARGEBACK": DisputeStatus.OPENED,
    "CHARGEBACK_REVERSED": DisputeStatus.WON,
    "SECOND_CHARGEBACK": DisputeStatus.LOST,
    "PREARBITRATION_WON": DisputeStatus.WON,
    "PREARBITRATION_LOST": DisputeStatus.LOST,
}
"""Dispute event codes → dispute status (``additionalData.disputeStatus`` refines CHARGEBACK)."""

_FINAL_DISPUTE_STATUSES = {"lost": DisputeStatus.LOST, "accepted": DisputeStatus.LOST,
                           "expired": DisputeStatus.LOST, "won": DisputeStatus.WON}  # fmt: skip

HANDLED_EVENT_CODES = frozenset(
    {"AUTHORISATION", "CANCELLATION", "EXPIRE", "REFUND", "REFUND_FAILED", "REPORT_AVAILABLE"}
    | set(DISPUTE_EVENT_CODES)
)
"""Event codes that become paymux events; every other verified item is acknowledged."""


SETTLEMENT_REPORT_NAME = re.compile(r"settlement_detail_report_batch_[0-9]{1,12}\.csv")
"""The file names of Settlement details reports, the only reports paymux reconciles."""


def slug(text: str | None, *, prefix: str = "adyen") -> str | None:
    """``"Not enough balance"`` → ``"adyen-not-enough-balance"``; ``None`` for nothing."""
    if not text:
        return None
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", text)
    cleaned = re.sub(r"[^a-z0-9]+", "-", words.lower()).strip("-")[:60].rstrip("-")
    return f"{prefix}-{cleaned}" if cleaned else None


@dataclass(frozen=True, slots=True)
class NotificationContext:
    """What mapping needs beyond the item: the merchant account and token resolution."""

    merchant_account: str
    refused_attempt_is_final: bool
    token_for: Callable[[Mapping[str, Any]], str | None]
    """The payment's token (payment link id) for an item, when it can be told."""
    reports_origin: str = "https://ca-test.adyen.com"
    """Where announced reports must be (see ``AdyenConfig.reports_origin``)."""


def read_batch(body: bytes) -> list[dict[str, Any]]:
    """The ``NotificationRequestItem`` objects of a notification body."""
    try:
        document = json.loads(body)
        wrappers = document["notificationItems"]
        items = [wrapper["NotificationRequestItem"] for wrapper in wrappers]
    except (ValueError, KeyError, TypeError) as error:
        raise WebhookVerificationError(f"not an Adyen notification batch: {error!r}") from None
    if not items or not all(isinstance(item, dict) for item in items):
        raise WebhookVerificationError("an Adyen notification batch without readable items")
    return items


def verify_batch(
    items: list[dict[str, Any]], key_hex: str, previous_key_hex: str | None = None
) -> None:
    """Check every item's HMAC (with ``key_hex`` or, during a rotation, ``previous_key_hex``);
    one bad item refuses the whole batch."""
    keys = [key_hex] if previous_key_hex is None else [key_hex, previous_key_hex]
    for index, item in enumerate(items):
        if not any(notification_item_is_valid(item, key) for key in keys):
            raise WebhookVerificationError(
                f"notification item {index} ({item.get('eventCode')}) has no valid hmacSignature"
            )


def _event_id(item: Mapping[str, Any]) -> str:
    return f"{item['pspReference']}:{item['eventCode']}:{item['success']}"


def _occurred_at(item: Mapping[str, Any]) -> datetime | None:
    raw = item.get("eventDate")
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


def map_item(item: Mapping[str, Any], context: NotificationContext) -> WebhookEvent | None:
    """The paymux event of one verified item, or ``None`` when paymux does not use it."""
    code = item["eventCode"]
    if code not in HANDLED_EVENT_CODES or item.get("merchantAccountCode") not in (
        context.merchant_account,
        None,
    ):
        return None
    success = str(item["success"]).lower() == "true"
    event_id = _event_id(item)
    when = _occurred_at(item)
    reason = item.get("reason") or None
    if code == "REPORT_AVAILABLE":
        return _report(item, context.reports_origin, when)
    if code in ("REFUND", "REFUND_FAILED"):
        failed = code == "REFUND_FAILED" or not success
        return RefundEvent(
            event_id=event_id,
            status=RefundStatus.FAILED if failed else RefundStatus.SUCCEEDED,
            refund_id=item.get("merchantReference") or None,
            psp_reference=item["pspReference"],
            failure_code=(slug(reason) or "adyen-refund-failed") if failed else None,
            occurred_at=when,
        )
    token = context.token_for(item)
    if code in DISPUTE_EVENT_CODES:
        additional = item.get("additionalData") or {}
        status = DISPUTE_EVENT_CODES[code]
        if code == "CHARGEBACK":
            reported = str(additional.get("disputeStatus") or "").lower()
            status = _FINAL_DISPUTE_STATUSES.get(reported, status)
        amount = item["amount"]
        return DisputeEvent(
            event_id=event_id,
            token=token or str(item.get("originalReference") or item["pspReference"]),
            dispute_id=item["pspReference"],
            status=status,
            amount=from_adyen(int(amount["value"]), str(amount["currency"])),
            reason=additional.get("chargebackReasonCode") or reason,
            occurred_at=when,
        )
    if token is None:
        return None
    if code == "AUTHORISATION":
        if success:
            status_, failure = PaymentStatus.SUCCEEDED, None
        else:
            final = context.refused_attempt_is_final
            status_ = PaymentStatus.FAILED if final else PaymentStatus.PENDING
            failure = slug(reason) or "adyen-refused"
    elif not success:  # a cancellation or expiry that did not happen changes nothing
        return None
    elif code == "CANCELLATION":
        status_, failure = PaymentStatus.CANCELED, None
    else:  # EXPIRE: the authorisation lapsed before capture
        status_, failure = PaymentStatus.EXPIRED, "adyen-authorisation-expired"
    return ProviderEvent(
        event_id=event_id,
        token=token,
        status=status_,
        failure_code=failure,
        occurred_at=when,
        # the authorised payment is what refunds and disputes name later
        psp_payment_id=str(item["pspReference"]) if code == "AUTHORISATION" and success else None,
        # the token (additionalData.paymentLinkId) is not signed; merchantReference is, and
        # the link was created with paymux's payment id as its reference
        payment_id=str(item["merchantReference"]) if item.get("merchantReference") else None,
    )


def _report(
    item: Mapping[str, Any], origin: str, when: datetime | None
) -> SettlementReportAvailable | None:
    """A Settlement details report's announcement; ``None`` for any other report."""
    name = str(item["pspReference"])
    if not SETTLEMENT_REPORT_NAME.fullmatch(name) or str(item["success"]).lower() != "true":
        return None
    url = str(item.get("reason") or "")
    if not report_url_is_at(url, origin, name):
        raise ValueError(f"the download URL of {name} is not a report at {origin}: {url!r}")
    return SettlementReportAvailable(
        event_id=_event_id(item), report_name=name, download_url=url, occurred_at=when
    )


def report_url_is_at(url: str, origin: str, name: str) -> bool:
    """Whether ``url`` is on ``origin`` (same scheme, host and port, under its path) and
    names the file ``name``, with no credentials, query or fragment."""
    try:
        given, expected = urlsplit(url), urlsplit(origin)
        given_port, expected_port = given.port, expected.port
    except ValueError:
        return False
    path = given.path
    return (
        given.scheme == expected.scheme
        and given.hostname is not None
        and given.hostname == expected.hostname
        and given_port == expected_port
        and given.username is None
        and not given.query
        and not given.fragment
        and path.startswith(expected.path.rstrip("/") + "/")
        and ".." not in unquote(path).split("/")
        and unquote(path.rsplit("/", 1)[-1]) == name
    )


def parse_notifications(
    body: bytes,
    *,
    key_hex: str,
    context: NotificationContext,
    previous_key_hex: str | None = None,
) -> list[WebhookEvent]:
    """Verify a classic notification batch and normalize its items (in their order)."""
    items = read_batch(body)
    verify_batch(items, key_hex, previous_key_hex)
    events: list[WebhookEvent] = []
    for item in items:
        try:
            event = map_item(item, context)
        except (KeyError, TypeError, ValueError, ProviderRejectedError) as error:
            raise WebhookVerificationError(f"unreadable notification item: {error!r}") from None
        if event is not None:
            events.append(event)
    return events
