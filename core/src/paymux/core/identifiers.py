"""Identifiers and time, in one place so tests and services agree on their shape."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def new_id(prefix: str) -> str:
    """A new random id such as ``pay_3f9c...`` (prefix, underscore, 24 hex digits)."""
    return f"{prefix}_{secrets.token_hex(12)}"


def new_ids(prefix: str, count: int) -> list[str]:
    """``count`` ids as :func:`new_id` makes them, from one read of the system's randomness
    (a million in a fraction of a second)."""
    digits = secrets.token_hex(12 * count)
    return [f"{prefix}_{digits[start : start + 24]}" for start in range(0, 24 * count, 24)]


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)
