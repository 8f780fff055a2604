"""The Stripe provider's settings (``PAYMUX_PROVIDERS__STRIPE__<FIELD>``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class StripeConfig(BaseModel):
    """How paymux talks to Stripe."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key: str = Field(min_length=8)
    """Secret key (``sk_test_...`` in sandbox mode, ``sk_live_...`` or ``rk_live_...`` live)."""
    webhook_secret: str = Field(min_length=8)
    """Signing secret of the webhook endpoint (``whsec_...``)."""
    previous_webhook_secret: str | None = Field(default=None, min_length=8)
    """The signing secret before a rotation ("Roll secret" in the Dashboard), accepted
    until it is removed."""
    api_base: str | None = None
    """Where the Stripe API is reached; default Stripe's own. Set it to the fake Stripe's URL
    for sandboxes and tests."""
    request_timeout_seconds: float = Field(default=10.0, gt=0)
    """How long one Stripe call may take before its outcome is unknown."""
    webhook_tolerance_seconds: int = Field(default=300, gt=0)
    """How old a webhook's signed timestamp may be before it is refused."""
    product_name: str = Field(default="Marketplace order", min_length=1, max_length=250)
    """The line item's name on Stripe's hosted page."""
    checkout_expires_after_seconds: int | None = Field(default=None, ge=1800, le=86400)
    """When an unpaid Checkout Session expires (Stripe's default, 24 h, when ``None``)."""
