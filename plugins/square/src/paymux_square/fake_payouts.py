"""The fake Square's payouts: what it processed, paid out once a day (Payouts API shapes).

Built afresh from the fake's payments and refunds on every request, so they always show
what the fake holds:

* each ``COMPLETED`` payment is a ``CHARGE`` entry (gross = net = its total, fee 0) and a
  ``FEE`` entry for its processing fee (:func:`processing_fee`, ``type_fee_details``
  naming the payment), both effective at the payment's ``created_at``;
* each ``COMPLETED`` refund is a ``REFUND`` entry (gross = net = minus its amount, fee 0),
  effective at its ``updated_at`` (when it completed);
* the entries of one UTC day, location and currency are paid out in one ``BATCH`` payout
  of their net sum, created at 00:00 UTC the next day (Square sends a day's payout the
  next morning) — the fake does not wait for the day to end. A day whose sum is zero has
  no payout (Square's ``amount_money`` is never zero).

Ids are derived from what they pay out, so they stay the same between requests (cursors
are offsets into the same lists).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

JSON = dict[str, Any]

FEE_PER_MILLE = 29
"""The fake's processing fee rate: 2.9 % of the payment (rounded half up)…"""
FEE_FIXED = 30
"""…plus 30 minor units."""


def processing_fee(amount: int) -> int:
    """The fake's fee on a payment of ``amount`` minor units."""
    return (amount * FEE_PER_MILLE + 500) // 1000 + FEE_FIXED


@dataclass(frozen=True, slots=True)
class FakePayouts:
    """The payouts and their entries, oldest first."""

    payouts: list[JSON]
    entries: list[JSON]

    def listed(
        self, location_id: str | None, begin: datetime | None, end: datetime | None
    ) -> list[JSON]:
        """The payouts of ``location_id`` (any when ``None``) created in ``[begin, end)``."""
        return [
            payout
            for payout in self.payouts
            if (location_id is None or payout["location_id"] == location_id)
            and (begin is None or _moment(payout["created_at"]) >= begin)
            and (end is None or _moment(payout["created_at"]) < end)
        ]

    def entries_of(self, payout_id: str) -> list[JSON]:
        """The entries ``payout_id`` paid out."""
        return [entry for entry in self.entries if entry["payout_id"] == payout_id]


def build_payouts(
    payments: Iterable[Mapping[str, Any]], refunds: Iterable[Mapping[str, Any]]
) -> FakePayouts:
    """The payouts of the completed ``payments`` and ``refunds`` (see the module doc)."""
    pending: list[tuple[tuple[date, str, str], JSON]] = []
    for payment in payments:
        if payment.get("status") != "COMPLETED":
            continue
        money = payment["total_money"]
        fee = processing_fee(int(money["amount"]))
        when = str(payment["created_at"])
        key = (_moment(when).date(), str(payment["location_id"]), str(money["currency"]))
        details = {"payment_id": payment["id"]}
        charge = _entry("CHARGE", payment["id"], when, int(money["amount"]), money["currency"])
        charge["type_charge_details"] = details
        fee_entry = _entry("FEE", payment["id"], when, -fee, money["currency"])
        fee_entry["type_fee_details"] = dict(details)
        pending += [(key, charge), (key, fee_entry)]
    for refund in refunds:
        if refund.get("status") != "COMPLETED":
            continue
        money = refund["amount_money"]
        when = str(refund["updated_at"])
        key = (_moment(when).date(), str(refund["location_id"]), str(money["currency"]))
        entry = _entry("REFUND", refund["id"], when, -int(money["amount"]), money["currency"])
        entry["type_refund_details"] = {
            "payment_id": refund["payment_id"],
            "refund_id": refund["id"],
        }
        pending.append((key, entry))
    groups: dict[tuple[date, str, str], list[JSON]] = {}
    for key, entry in sorted(pending, key=lambda item: (item[0], item[1]["effective_at"])):
        groups.setdefault(key, []).append(entry)
    payouts: list[JSON] = []
    entries: list[JSON] = []
    for (day, location, currency), group in groups.items():
        total = sum(int(entry["net_amount_money"]["amount"]) for entry in group)
        if total == 0:
            continue
        payout_id = f"po_{_digest('payout', day.isoformat(), location, currency)}"
        created = _rfc3339(datetime.combine(day + timedelta(days=1), time(), UTC))
        payouts.append(
            {
                "id": payout_id,
                "status": "SENT",
                "location_id": location,
                "created_at": created,
                "updated_at": created,
                "amount_money": {"amount": total, "currency": currency},
                "destination": {"type": "BANK_ACCOUNT", "id": "bact:FakeSquareBank1"},
                "version": 1,
                "type": "BATCH",
                "arrival_date": (day + timedelta(days=2)).isoformat(),
                "end_to_end_id": f"L{_digest('e2e', payout_id)[:10].upper()}",
            }
        )
        entries += [dict(entry, payout_id=payout_id) for entry in group]
    return FakePayouts(payouts, entries)


def _entry(kind: str, source_id: str, when: str, net: int, currency: str) -> JSON:
    money = {"amount": net, "currency": currency}
    return {
        "id": f"poe_{_digest(kind, source_id)}",
        "payout_id": "",
        "effective_at": when,
        "type": kind,
        "gross_amount_money": dict(money),
        "fee_amount_money": {"amount": 0, "currency": currency},
        "net_amount_money": dict(money),
    }


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:26]


def _moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
