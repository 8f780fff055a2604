"""The Square provider's settings (``PAYMUX_PROVIDERS__SQUARE__<FIELD>``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

PRODUCTION_BASE_URL = "https://connect.squareup.com"
SANDBOX_BASE_URL = "https://connect.squareupsandbox.com"


class SquareConfig(BaseModel):
    """How paymux reaches one Square seller account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    access_token: SecretStr = Field(min_length=1)
    """The seller's access token (``Authorization: Bearer``)."""
    location_id: str = Field(min_length=1)
    """The Square location the payments are taken for."""
    webhook_signature_key: SecretStr = Field(min_length=1)
    """The signature key of the webhook subscription (Developer Console → Webhooks)."""
    previous_webhook_signature_key: SecretStr | None = None
    """The signature key before a rotation, accepted until it is removed."""
    notification_url: str | None = None
    """The notification URL registered at Square; default: paymux's webhook URL for this provider.

    Square signs the URL with the body, so it must be exactly the registered one."""
    base_url: str | None = None
    """Square's API base URL; default: production in live mode, the Square sandbox otherwise."""
    request_timeout_seconds: float = Field(default=10.0, gt=0)
    """How long one call to Square may take before its outcome counts as unknown."""
    checkout_name: str = Field(default="Marketplace order", min_length=1, max_length=200)
    """The line item's name on Square's checkout page (the order references are appended)."""

    def api_base_url(self, mode: str) -> str:
        """The base URL to call: ``base_url`` if set, else Square's for ``mode``."""
        if self.base_url:
            return self.base_url.rstrip("/")
        return PRODUCTION_BASE_URL if mode == "live" else SANDBOX_BASE_URL
