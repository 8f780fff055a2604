"""The SMTP notifier's settings, read from the environment (``PAYMUX_SMTP_...``)."""

from __future__ import annotations

from email.utils import parseaddr

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from paymux.core.domain.buyer_contact import email_problem


class SmtpSettings(BaseSettings):
    """Where and how to send buyer e-mails. Without ``host`` the notifier is off."""

    model_config = SettingsConfigDict(
        env_prefix="PAYMUX_SMTP_", extra="ignore", frozen=True, validate_by_name=True
    )

    host: str | None = None
    """The SMTP server (``smtp.example.com``); unset: no e-mails are sent."""
    port: int | None = Field(default=None, gt=0, lt=65536)
    """Default: 465 with ``tls``, else 587."""
    sender: str | None = Field(default=None, alias="PAYMUX_SMTP_FROM")
    """The ``From`` of every e-mail: ``orders@shop.example`` or
    ``Shop <orders@shop.example>``; its address is also the envelope sender."""
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    """Upgrade the connection with STARTTLS and refuse to send without it (port 587)."""
    tls: bool = False
    """Connect with TLS from the start (port 465); ``starttls`` is then not used."""
    timeout_seconds: float = Field(default=30.0, gt=0)
    """For connecting and for each server answer; a timeout is retried later."""
    locale: str = "en_US"
    """For amounts and dates when the payment has no buyer locale (or an unknown one)."""

    @field_validator("host", "username")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @model_validator(mode="after")
    def _sender_when_enabled(self) -> SmtpSettings:
        if self.host is None:
            return self
        if not self.sender:
            raise ValueError("PAYMUX_SMTP_FROM is required when PAYMUX_SMTP_HOST is set")
        address = parseaddr(self.sender)[1]
        if not address or email_problem(address) is not None:
            raise ValueError(
                "PAYMUX_SMTP_FROM must be an address such as 'Shop <orders@shop.example>'"
            )
        if self.password is not None and self.username is None:
            raise ValueError("PAYMUX_SMTP_PASSWORD needs PAYMUX_SMTP_USERNAME")
        return self

    @property
    def enabled(self) -> bool:
        """A server is configured."""
        return self.host is not None

    @property
    def envelope_sender(self) -> str:
        """The address of ``PAYMUX_SMTP_FROM`` without its display name."""
        return parseaddr(self.sender or "")[1]

    @property
    def effective_port(self) -> int:
        """The port to connect to."""
        if self.port is not None:
            return self.port
        return 465 if self.tls else 587
