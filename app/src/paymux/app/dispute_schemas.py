"""Request and response bodies of the chargeback and seller payout-method endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from paymux.app.localization import Localizable
from paymux.core.domain.chargebacks import Chargeback, DisputeStatus
from paymux.core.domain.payouts import SellerPayoutMethod


class ChargebackPartOut(Localizable):
    """The share of a chargeback taken from one payment order."""

    display_amounts: ClassVar[dict[str, str]] = {"amount": "currency"}

    payment_order_id: str
    amount: str
    released: bool = Field(description="The order had shipped when the chargeback opened")


class ChargebackOut(Localizable):
    """A chargeback (dispute) as the API shows it."""

    display_amounts: ClassVar[dict[str, str]] = {"amount": "currency", "unallocated": "currency"}

    id: str
    payment_id: str
    provider: str
    dispute_id: str = Field(description="The provider's id of the dispute")
    status: DisputeStatus
    currency: str
    amount: str = Field(description="What the buyer's bank disputes")
    unallocated: str = Field(
        description="What no order could carry (already refunded, say): the platform's own"
    )
    reason: str | None
    parts: list[ChargebackPartOut]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, chargeback: Chargeback) -> ChargebackOut:
        """Render a chargeback."""
        return cls(
            id=chargeback.id,
            payment_id=chargeback.payment_event_id,
            provider=chargeback.provider,
            dispute_id=chargeback.dispute_id,
            status=chargeback.status,
            currency=chargeback.amount.currency,
            amount=chargeback.amount.amount_str,
            unallocated=chargeback.unallocated.amount_str,
            reason=chargeback.reason,
            parts=[
                ChargebackPartOut(
                    payment_order_id=part.payment_order_id,
                    amount=part.amount.amount_str,
                    released=part.released,
                )
                for part in chargeback.parts
            ],
            created_at=chargeback.created_at,
            updated_at=chargeback.updated_at,
        )


class ChargebackListOut(Localizable):
    """A payment's chargebacks, oldest first."""

    payment_id: str
    chargebacks: list[ChargebackOut]


_Text = Annotated[str, Field(min_length=1, max_length=255)]
_Key = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]


class PayoutMethodIn(BaseModel):
    """``PUT /v1/sellers/{seller_id}/payout-method``."""

    model_config = ConfigDict(extra="forbid")

    provider: str = Field(
        min_length=1, max_length=32, description="An enabled provider that pays out"
    )
    account: _Text = Field(
        description="The seller's account there: a Stripe connected account, an Adyen "
        "balance account, an IBAN"
    )
    holder_name: str | None = Field(default=None, min_length=1, max_length=140)
    details: dict[_Key, _Text] = Field(
        default_factory=dict, max_length=16, description='What the rail needs, e.g. {"bic": ...}'
    )
    currency: str | None = Field(
        default=None,
        description="ISO 4217 code the seller is paid in (a EUR IBAN: `EUR`); payouts of "
        "money in another currency convert to it. Default: no conversion",
        examples=["EUR"],
    )


class PayoutMethodOut(Localizable):
    """A seller's payout method."""

    seller_id: str
    provider: str
    account: str
    holder_name: str | None
    details: dict[str, str]
    currency: str | None = Field(description="The currency the seller is paid in, if set")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, method: SellerPayoutMethod) -> PayoutMethodOut:
        """Render a payout method."""
        return cls(
            seller_id=method.seller_id,
            provider=method.provider,
            account=method.account,
            holder_name=method.holder_name,
            details=dict(method.details),
            currency=method.currency,
            created_at=method.created_at,
            updated_at=method.updated_at,
        )
