"""Balance-platform transfer webhooks (``balancePlatform.transfer.created/updated``).

Verified with the ``HmacSignature`` header, then turned into :class:`PayoutEvent` for the
platform's own outgoing transfers once they are final (booked, or failed in any way).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from paymux.core.domain.payouts import PayoutStatus
from paymux.core.ports.provider import PayoutEvent, WebhookEvent, WebhookVerificationError
from paymux_adyen.notifications import slug
from paymux_adyen.signatures import payload_is_valid
from paymux_adyen.statuses import payout_status

SIGNATURE_HEADER = "hmacsignature"
TRANSFER_WEBHOOK_TYPES = frozenset(
    {"balancePlatform.transfer.created", "balancePlatform.transfer.updated"}
)


def _when(data: dict[str, Any]) -> datetime | None:
    for name in ("updatedAt", "creationDate", "createdAt"):
        raw = data.get(name)
        if isinstance(raw, str):
            try:
                return datetime.fromisoformat(raw)
            except ValueError:
                continue
    return None


def parse_transfer_webhook(
    signature: str | None,
    body: bytes,
    *,
    key_hex: str | None,
    platform_balance_account_id: str | None,
    previous_key_hex: str | None = None,
) -> list[WebhookEvent]:
    """Verify and normalize one transfer webhook; ``[]`` for what is not our final payout."""
    if key_hex is None:
        raise WebhookVerificationError("no balance_platform_hmac_key is configured")
    keys = [key_hex] if previous_key_hex is None else [key_hex, previous_key_hex]
    if not any(payload_is_valid(signature, body, key) for key in keys):
        raise WebhookVerificationError("the HmacSignature header does not match the body")
    try:
        document = json.loads(body)
        kind = document.get("type")
        data = document["data"]
        if kind not in TRANSFER_WEBHOOK_TYPES:
            return []
        if data.get("direction", "outgoing") != "outgoing":
            return []
        account = (data.get("balanceAccount") or {}).get("id")
        if platform_balance_account_id and account not in (None, platform_balance_account_id):
            return []
        status_name = str(data["status"])
        status = payout_status(status_name)
        if status is PayoutStatus.PENDING:
            return []
        transfer_id = str(data["id"])
        sequence = data.get("sequenceNumber", 0)
        failure = None
        if status is PayoutStatus.FAILED:
            failure = slug(data.get("reason")) or slug(status_name)
        return [
            PayoutEvent(
                event_id=f"{transfer_id}:{sequence}:{status_name}",
                status=status,
                payout_id=data.get("reference") or None,
                psp_reference=transfer_id,
                failure_code=failure,
                occurred_at=_when(data),
            )
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise WebhookVerificationError(f"unreadable transfer webhook: {error!r}") from None
