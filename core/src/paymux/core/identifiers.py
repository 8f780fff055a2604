"""Identifiers and time, in one place so tests and services agree on their shape."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def new_id(prefix: str) -> str:
    """A new random id such as ``pay_3f9c...`` (prefix, underscore, 24 hex digits)."""
    return f"{prefix}_{secrets.token_hex(12)}"


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)
