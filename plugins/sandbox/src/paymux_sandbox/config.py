"""The sandbox provider's settings (``PAYMUX_PROVIDERS__SANDBOX__<FIELD>``)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_WEBHOOK_SECRET = "whsec_sandbox_development"  # noqa: S105 - sandbox only, no real money


class SandboxConfig(BaseModel):
    """How the sandbox PSP behaves. Every field has a development default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook_secret: str = Field(default=DEFAULT_WEBHOOK_SECRET, min_length=8)
    """Shared secret of the webhook signatures (HMAC-SHA256)."""
    previous_webhook_secret: str | None = Field(default=None, min_length=8)
    """The secret before a rotation, still accepted until it is removed (see
    ``docs/security/webhooks.md``)."""
    base_url: str | None = None
    """Where the simulator is reached; default: the app's public URL + ``/sandbox-psp``."""
    request_timeout_seconds: float = Field(default=5.0, gt=0)
    """How long the provider waits for the simulator before the outcome is unknown."""
    stall_seconds: float = Field(default=8.0, ge=0)
    """How long the simulator stalls a registration of the ``sandbox-timeout`` buyer."""
    retry_after_seconds: int = Field(default=1, ge=0)
    """The ``Retry-After`` of a scripted ``rate_limited`` fault (429)."""
    pending_delay_seconds: float = Field(default=1.0, ge=0)
    """How long a ``pending, then success`` payment stays pending."""
    webhook_tolerance_seconds: int = Field(default=300, gt=0)
    """How old a webhook's signed timestamp may be before it is refused."""
    webhook_attempts: int = Field(default=5, ge=1)
    """How often the simulator tries to deliver one webhook."""
    currencies: frozenset[str] | None = None
    """The currencies the provider claims (active ISO 4217 codes); default: every active
    ISO 4217 currency. Narrow it to try paymux's routing refusals in sandbox mode."""
    settlement_currency: str | None = Field(default=None, min_length=3, max_length=3)
    """The currency the sandbox account settles in (paymux reads the same key to price
    payments, see ``docs/concepts/fx.md``); ``None``: each payment's own currency."""
    fx_rates: dict[str, Decimal] = Field(default_factory=dict)
    """The simulator's own rates for settling converted payments, ``{"JPY/USD": "0.0066"}``
    (inverses derived). Empty: paymux's ``PAYMUX_FX__FIXED_RATES`` when paymux mounts it."""
    fx_spread: Decimal = Field(default=Decimal(0), gt=-1, lt=1)
    """How far below its rate the simulator converts (``0.01``: 1 % less, a loss for the
    platform; negative: more, a gain), so a settlement differs from paymux's quote."""

    @field_validator("currencies", mode="before")
    @classmethod
    def _codes(cls, value: Any) -> Any:
        """A string from an environment variable: a JSON list or codes separated by commas."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [code.strip() for code in text.split(",") if code.strip()]
        return value
