"""The Adyen provider's settings (``PAYMUX_PROVIDERS__ADYEN__<FIELD>``)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


def _hex_key(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        bytes.fromhex(value)
    except ValueError:
        raise ValueError(
            "an Adyen HMAC key is hexadecimal, as the Customer Area shows it"
        ) from None
    return value


class AdyenConfig(BaseModel):
    """How paymux talks to Adyen. Secrets come from the environment, never from code."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key: str = Field(min_length=1)
    """The Checkout API key (``x-api-key``) of the web-service user."""
    merchant_account: str = Field(min_length=1)
    """The merchant account that owns the payment links and refunds."""
    hmac_key: str = Field(min_length=2)
    """Hex HMAC key of the Standard webhook (classic notifications) set up for paymux."""
    previous_hmac_key: str | None = None
    """The ``hmac_key`` before a rotation, accepted until it is removed."""
    environment: Literal["test", "live"] = "test"
    """Adyen's test or live platform; must match paymux's mode (sandbox ↔ test)."""
    live_endpoint_prefix: str | None = None
    """Your live URL prefix (Customer Area → Developers → API URLs); required for live."""
    base_url: str | None = None
    """Send every call to this base instead of Adyen (the fake PSP, a proxy); test only."""
    balance_platform_api_key: str | None = None
    """The balance-platform API key for transfers; default: ``api_key``."""
    platform_balance_account_id: str | None = None
    """The platform's balance account that seller payouts are paid from. Unset: no payouts."""
    balance_platform_hmac_key: str | None = None
    """Hex HMAC key of the balance-platform (transfer) webhook; unset: those are refused."""
    previous_balance_platform_hmac_key: str | None = None
    """The ``balance_platform_hmac_key`` before a rotation, accepted until it is removed."""
    request_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    """How long a call to Adyen may take before its outcome is unknown."""
    report_username: str | None = None
    """The report service user (``ReportUser@Company.YourCompany``) whose basic auth
    downloads the settlement reports that ``REPORT_AVAILABLE`` notifications announce;
    unset: they are downloaded with ``report_api_key``."""
    report_password: str | None = None
    """The report user's password (required with ``report_username``)."""
    report_api_key: str | None = None
    """The API key (``x-api-key``) of a credential with the *Merchant Report Download* role,
    used when no ``report_username`` is set; default: ``api_key``."""
    report_download_base_url: str | None = None
    """Where reports are downloaded from; announced URLs elsewhere are refused. Default:
    ``base_url`` if set, else ``https://ca-test.adyen.com`` or ``https://ca-live.adyen.com``."""
    refused_attempt_is_final: bool = True
    """Report a refused ``AUTHORISATION`` as a failed payment. With ``False`` it is reported
    as still executing, since the buyer may try again on the same payment link."""

    _check_hmac = field_validator(
        "hmac_key",
        "balance_platform_hmac_key",
        "previous_hmac_key",
        "previous_balance_platform_hmac_key",
    )(_hex_key)

    @model_validator(mode="after")
    def _report_user_needs_password(self) -> Self:
        if (self.report_username is None) != (self.report_password is None):
            raise ValueError("report_username and report_password go together")
        return self

    @model_validator(mode="after")
    def _live_needs_prefix(self) -> Self:
        if self.environment == "live" and self.base_url is None and not self.live_endpoint_prefix:
            raise ValueError("environment 'live' needs live_endpoint_prefix")
        if self.environment == "live" and self.base_url is not None:
            raise ValueError("base_url is for tests and the fake PSP; not with environment 'live'")
        return self

    @property
    def reports_origin(self) -> str:
        """The origin (scheme, host, port) settlement reports are downloaded from."""
        if self.report_download_base_url is not None:
            return self.report_download_base_url.rstrip("/")
        if self.base_url is not None:
            return self.base_url.rstrip("/")
        return f"https://ca-{self.environment}.adyen.com"

    @property
    def transfers_api_key(self) -> str:
        """The key used for the Transfers API."""
        return self.balance_platform_api_key or self.api_key
