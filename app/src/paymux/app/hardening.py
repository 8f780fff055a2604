"""The protective middlewares of a paymux app: HSTS, rate limits, bounded bodies."""

from __future__ import annotations

from fastapi import FastAPI

from paymux.app.body_limits import add_body_limits
from paymux.app.https import add_hsts
from paymux.app.rate_limiting import add_rate_limits
from paymux.core.providers import ProviderRegistry
from paymux.core.settings import Settings


def add_hardening(app: FastAPI, settings: Settings, providers: ProviderRegistry) -> None:
    """Add them to ``app``, outermost last: HSTS wraps even a 429 or a 413, and a request
    over its rate limit is refused before its body is read."""
    add_body_limits(app, settings, providers)
    add_rate_limits(app, settings, providers)
    add_hsts(app, settings)
