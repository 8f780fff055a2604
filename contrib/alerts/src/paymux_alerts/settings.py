"""The alerters' settings, read from the environment (``PAYMUX_ALERTS__<CHANNEL>__<FIELD>``).

``PAYMUX_ALERTS__EMAIL__HOST`` and ``PAYMUX_ALERTS__EMAIL__TO`` switch the e-mail alerter on,
``PAYMUX_ALERTS__SLACK__WEBHOOK_URL`` the webhook alerter; the log alerter is on unless
``PAYMUX_ALERTS__LOG=false``. Validation errors never repeat the values (a password or a
webhook URL is a secret).
"""

from __future__ import annotations

import json
from email.utils import parseaddr
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from paymux.core.domain.buyer_contact import email_problem


class EmailAlertSettings(BaseModel):
    """Where and how to e-mail alerts (``PAYMUX_ALERTS__EMAIL__...``); off without host and to."""

    model_config = ConfigDict(
        extra="ignore", frozen=True, validate_by_name=True, hide_input_in_errors=True
    )

    host: str | None = None
    """The SMTP server (``smtp.example.com``)."""
    port: int | None = Field(default=None, gt=0, lt=65536)
    """Default: 465 with ``tls``, else 587."""
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    """Upgrade the connection with STARTTLS and refuse to send without it (port 587)."""
    tls: bool = False
    """Connect with TLS from the start (port 465); ``starttls`` is then not used."""
    sender: str | None = Field(default=None, alias="from")
    """``PAYMUX_ALERTS__EMAIL__FROM``: ``paymux@ops.example`` or ``paymux <paymux@ops.example>``."""
    to: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """The recipients: ``a@ops.example,b@ops.example`` or a JSON list."""
    timeout_seconds: float = Field(default=30.0, gt=0)
    """For connecting and for each server answer; a timeout is retried later."""

    @field_validator("host", "username", "sender")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("to", mode="before")
    @classmethod
    def _split_recipients(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> EmailAlertSettings:
        if self.host is None and not self.to:
            return self
        if self.host is None:
            raise ValueError("PAYMUX_ALERTS__EMAIL__TO needs PAYMUX_ALERTS__EMAIL__HOST")
        if not self.to:
            raise ValueError("PAYMUX_ALERTS__EMAIL__HOST needs PAYMUX_ALERTS__EMAIL__TO")
        if not self.sender or not _is_address(self.sender):
            raise ValueError(
                "PAYMUX_ALERTS__EMAIL__FROM must be an address such as "
                "'paymux <paymux@ops.example>' when PAYMUX_ALERTS__EMAIL__HOST is set"
            )
        if not all(_is_address(recipient) for recipient in self.to):
            raise ValueError("PAYMUX_ALERTS__EMAIL__TO must list e-mail addresses")
        if self.password is not None and self.username is None:
            raise ValueError("PAYMUX_ALERTS__EMAIL__PASSWORD needs PAYMUX_ALERTS__EMAIL__USERNAME")
        return self

    @property
    def enabled(self) -> bool:
        """A server and recipients are configured."""
        return self.host is not None and bool(self.to)

    @property
    def envelope_sender(self) -> str:
        """The address of ``FROM`` without its display name."""
        return parseaddr(self.sender or "")[1]

    @property
    def envelope_recipients(self) -> list[str]:
        """The addresses of ``TO`` without display names."""
        return [parseaddr(recipient)[1] for recipient in self.to]

    @property
    def effective_port(self) -> int:
        """The port to connect to."""
        if self.port is not None:
            return self.port
        return 465 if self.tls else 587


class SlackAlertSettings(BaseModel):
    """A Slack-compatible incoming webhook (``PAYMUX_ALERTS__SLACK__...``); off without a URL."""

    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    webhook_url: SecretStr | None = None
    """The incoming webhook's URL (it is the credential: never logged)."""
    channel: str | None = None
    """Overrides the webhook's channel, where the server allows it (``#payments-ops``)."""
    username: str | None = None
    """Overrides the poster's name, where the server allows it."""
    blocks: bool = True
    """Add Slack Block Kit ``blocks`` beside ``text``; ``false`` sends ``text`` only."""
    timeout_seconds: float = Field(default=10.0, gt=0)
    """For connecting and for the answer; a timeout is retried later."""

    @field_validator("channel", "username")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        parts = urlsplit(value.get_secret_value().strip())
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("PAYMUX_ALERTS__SLACK__WEBHOOK_URL must be an http(s) URL")
        return SecretStr(value.get_secret_value().strip())

    @property
    def enabled(self) -> bool:
        """A webhook URL is configured."""
        return self.webhook_url is not None


class AlertsSettings(BaseSettings):
    """Every channel of paymux-alerts, read from ``PAYMUX_ALERTS__...``."""

    model_config = SettingsConfigDict(
        env_prefix="PAYMUX_ALERTS__",
        env_nested_delimiter="__",
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
    )

    email: EmailAlertSettings = Field(default_factory=EmailAlertSettings)
    slack: SlackAlertSettings = Field(default_factory=SlackAlertSettings)
    log: bool = True
    """Log one warning per alert on ``paymux.reconciliation.alerts`` (``false``: don't)."""


def _is_address(text: str) -> bool:
    address = parseaddr(text)[1]
    return bool(address) and email_problem(address) is None
