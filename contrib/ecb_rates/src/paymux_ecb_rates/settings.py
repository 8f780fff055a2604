"""Settings of the ECB rate source (``PAYMUX_ECB__...``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DAILY_URL = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml"


class EcbSettings(BaseSettings):
    """Where the reference rates come from and how often they are fetched again."""

    model_config = SettingsConfigDict(
        env_prefix="PAYMUX_ECB__", extra="ignore", frozen=True, validate_default=True
    )

    url: str = DAILY_URL
    """The ECB's daily file (or a mirror of it)."""
    file: Path | None = None
    """Read this file instead of fetching (tests, machines without internet access)."""
    refresh_seconds: float = Field(default=3600.0, gt=0)
    """Fetch again after this long (the ECB publishes once a business day, around 16:00 CET)."""
    timeout_seconds: float = Field(default=10.0, gt=0)
