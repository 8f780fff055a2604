"""The bodies of ``GET /v1/routing/explain``."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from paymux.app.localization import Localizable
from paymux.core.markets_fees import MarketFees
from paymux.core.routing import RouteExplanation


class CandidateOut(BaseModel):
    """A provider considered for the checkout and what happened to it."""

    provider: str
    outcome: Literal["chosen", "skipped", "not_tried"]
    reason: str = Field(examples=["capabilities do not serve currency JPY"])


class CommissionOut(Localizable):
    """The market's commission rule: a percentage of each order, rounded half up."""

    display_amounts: ClassVar[dict[str, str]] = {"minimum": "currency", "maximum": "currency"}

    percent: str = Field(examples=["12.5"])
    minimum: str | None
    maximum: str | None


class FeesOut(Localizable):
    """What an order gets when the client omits its commission or logistics fee."""

    display_amounts: ClassVar[dict[str, str]] = {"logistics_fee": "currency"}

    commission: CommissionOut | None
    logistics_fee: str | None


class ExplanationOut(Localizable):
    """Which provider a checkout would go to, and why."""

    country: str
    currency: str
    method: str
    provider: str | None = Field(description="The chosen provider; null when none")
    reason: str
    market: str | None = Field(description="The market of the country (null without markets)")
    chain: list[str] = Field(description="The providers considered, first choice first")
    candidates: list[CandidateOut]
    fees: FeesOut

    @classmethod
    def of(cls, explanation: RouteExplanation) -> ExplanationOut:
        """Render an explanation."""
        body = explanation.as_json()
        body["fees"] = _fees(explanation.fees)
        return cls.model_validate(body)


def _fees(fees: MarketFees) -> FeesOut:
    rule = fees.commission
    return FeesOut(
        commission=None
        if rule is None
        else CommissionOut(
            percent=rule.percent,
            minimum=rule.minimum.amount_str if rule.minimum else None,
            maximum=rule.maximum.amount_str if rule.maximum else None,
        ),
        logistics_fee=fees.logistics_fee.amount_str if fees.logistics_fee else None,
    )
