"""The sandbox PSP's book of money movements: what its settlement files are written from.

Every movement of money the simulator processes is booked once, with the time it happened:
a capture (a checkout that succeeded), a refund, a payout to a seller that was paid, a
chargeback (a dispute opened) and its reversal (a dispute won). Amounts are integers in
minor units, signed as the PSP's balance sees them: a capture and a chargeback reversal
add to it (positive), a refund, a chargeback and a payout take from it (negative).

Fees are deterministic and integer-only (:func:`capture_fee`): captures pay
``round_half_up(gross * 1.4 %) + 25`` minor units; nothing else pays a fee.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Literal

from paymux.currencies import get_currency

BookingType = Literal["capture", "refund", "chargeback", "chargeback_reversal", "payout"]
"""What a booking moved (the settlement line type it becomes)."""

FEE_PER_MILLE = 14
"""The percentage part of a capture's fee, in tenths of a percent (1.4 %)."""

FIXED_FEE_MINOR = 25
"""The fixed part of a capture's fee, in minor units of the capture's currency."""


def capture_fee(gross_minor: int) -> int:
    """The fee of a capture of ``gross_minor`` (> 0): 1.4 % rounded half up, plus 25.

    Integer arithmetic only: ``(gross * 14 + 500) // 1000 + 25``. For 10.00 EUR (1000)
    that is 14 + 25 = 39 minor units; for 0.36 EUR (36) 0.504 rounds to 1, so 26.
    """
    if gross_minor <= 0:
        raise ValueError(f"a capture's gross must be positive, not {gross_minor}")
    return (gross_minor * FEE_PER_MILLE + 500) // 1000 + FIXED_FEE_MINOR


def new_line_id() -> str:
    """A fresh, unique id of a settlement line (``sbxln_…``)."""
    return f"sbxln_{secrets.token_hex(8)}"


@dataclass(frozen=True, slots=True)
class Booking:
    """One money movement the sandbox processed (one line of a settlement file)."""

    line_id: str
    """The line's unique id in every settlement file it appears in."""
    type: BookingType
    payment_reference: str
    """The checkout's ``sbxref_…`` reference (for a seller payout: its ``sbxpo_…`` id)."""
    currency: str
    gross_minor: int
    """Signed as the PSP's balance sees it (see the module docstring)."""
    fee_minor: int
    booked_at: datetime
    """When it happened (UTC)."""
    modification_reference: str | None = None
    """The sandbox's id of the refund, payout or dispute."""
    merchant_reference: str | None = None
    """paymux's id the sandbox knows: the payment's (capture, chargeback), the refund's or
    the payout's (when paymux sent it)."""
    token: str | None = None
    """The checkout's token (not written to the file; faults may aim at it)."""
    payment_id: str | None = None
    """paymux's payment id of the checkout (not written; faults may aim at it)."""
    settlement_currency: str | None = None
    """Set when the sandbox account converts this movement (see :func:`settled_amount`):
    ``fee`` and ``net`` are then in this currency, ``gross`` stays in ``currency``."""
    settled_gross_minor: int | None = None
    """``gross`` converted to ``settlement_currency`` (signed like ``gross``)."""

    @property
    def net_minor(self) -> int:
        """``gross - fee``, in the settlement currency when the movement converts."""
        gross = self.gross_minor if self.settled_gross_minor is None else self.settled_gross_minor
        return gross - self.fee_minor

    def references(self) -> frozenset[str]:
        """Every reference a settlement fault may name to aim at this booking."""
        names = (
            self.line_id,
            self.payment_reference,
            self.modification_reference,
            self.merchant_reference,
            self.token,
            self.payment_id,
        )
        return frozenset(name for name in names if name)


def sandbox_rate(rates: Mapping[str, Decimal], base: str, quote: str) -> Decimal | None:
    """``1 base = rate quote`` from ``rates`` (``"BASE/QUOTE"``; an inverse is derived),
    or ``None`` when neither pair is there."""
    if f"{base}/{quote}" in rates:
        return Decimal(rates[f"{base}/{quote}"])
    if f"{quote}/{base}" in rates:
        with localcontext() as context:
            context.prec = 28
            return 1 / Decimal(rates[f"{quote}/{base}"])
    return None


def settled_amount(
    gross_minor: int, currency: str, into: str, rate: Decimal, spread: Decimal
) -> int:
    """``gross_minor`` of ``currency`` converted by the sandbox into ``into``, in minor units:
    at ``rate * (1 - spread)``, rounded half to even once (the sign is kept)."""
    with localcontext() as context:
        context.prec = 60
        major = Decimal(gross_minor).scaleb(-get_currency(currency).exponent)
        exact = major * rate * (1 - spread)
        exponent = get_currency(into).exponent
        rounded = exact.quantize(Decimal(1).scaleb(-exponent), rounding=ROUND_HALF_EVEN)
        return int(rounded.scaleb(exponent))
