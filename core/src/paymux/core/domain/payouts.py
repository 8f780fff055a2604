"""Payouts: a seller's available money sent to them through a provider.

Status: ``pending -> paid | failed``. A failed payout is reversed: the money goes back to the
seller's available balance.

A payout takes ``amount`` from the seller's available money in its currency; the seller is
paid ``payout_amount`` in another currency when the payout converts (at the locked
``fx_quote``, rounded once), else ``amount`` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from paymux.core.fx.quotes import Quote
from paymux.currencies import Money


class PayoutStatus(StrEnum):
    """Where a payout stands."""

    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PayoutDestination:
    """Where a seller is paid at the provider, from the seller's payout method.

    ``account`` is what the provider pays into: a Stripe connected account (``acct_...``), an
    Adyen balance account, an IBAN. ``holder_name`` and ``details`` (for example ``bic``)
    carry what some rails need beside it.
    """

    account: str
    holder_name: str | None = None
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Payout:
    """A payout of ``amount`` (the seller's available money) to one seller."""

    id: str
    client_id: str
    seller_id: str
    provider: str
    amount: Money
    status: PayoutStatus
    failure_code: str | None
    psp_idempotency_key: str
    psp_reference: str | None
    created_at: datetime
    updated_at: datetime
    destination: PayoutDestination | None = None
    """Where the payout goes, as the seller's payout method said when it was opened."""
    payout_amount: Money | None = None
    """What the seller is paid in the payout currency, when it is not ``amount``'s:
    ``convert(amount, fx_quote)``. ``None``: no conversion, the seller is paid ``amount``."""
    fx_quote: Quote | None = None
    """The quote the payout was converted at (``None`` without a conversion)."""

    def __post_init__(self) -> None:
        if (self.payout_amount is None) != (self.fx_quote is None):
            raise ValueError("a converted payout has both a payout amount and its quote")
        if (
            self.payout_amount is not None
            and self.fx_quote is not None
            and (self.fx_quote.base, self.fx_quote.quote)
            != (self.amount.currency, self.payout_amount.currency)
        ):
            raise ValueError("the quote does not convert the payout's currencies")

    @property
    def sent(self) -> Money:
        """What the provider pays the seller: ``payout_amount`` if converted, else ``amount``."""
        return self.amount if self.payout_amount is None else self.payout_amount


@dataclass(frozen=True, slots=True)
class SellerPayoutMethod:
    """Through which provider, and to which account there, a seller is paid.

    ``account`` is the seller's account at the provider (a Stripe connected account, an
    Adyen balance account, an IBAN); ``details`` holds what some rails need beside it
    (``bic``).
    """

    client_id: str
    seller_id: str
    provider: str
    account: str
    holder_name: str | None
    details: dict[str, str]
    created_at: datetime
    updated_at: datetime
    currency: str | None = None
    """The currency the seller is paid in (an EUR IBAN: ``EUR``); ``None``: the currency of
    the money paid out. A payout request's ``payout_currency`` comes first."""
