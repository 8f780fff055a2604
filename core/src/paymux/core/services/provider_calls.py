"""Calling a provider for a use case: one place that sorts its failures."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from paymux.core.ports.provider import ProviderError

log = logging.getLogger(__name__)

R = TypeVar("R")


class OutcomeUnknown(Exception):  # noqa: N818 - a signal, not an error of its own
    """The provider may or may not have acted; the caller keeps the work pending."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


async def call_provider(
    call: Callable[[], Awaitable[R]],
    *,
    refused: Callable[[str], R],
    provider: str,
) -> R:
    """Run ``call``; a final refusal becomes ``refused(code)``, anything else unknown.

    A :class:`ProviderError` that is neither retryable nor outcome-unknown is a final
    refusal. Every other error, including an unexpected exception from a plugin (logged),
    raises :class:`OutcomeUnknown`: the caller must then leave its work pending and let the
    same request resume it with the same idempotency key.
    """
    try:
        return await call()
    except ProviderError as error:
        if error.retryable or error.outcome_unknown:
            raise OutcomeUnknown(error) from error
        return refused(getattr(error, "code", "provider-rejected"))
    except Exception as error:
        log.exception("provider %s raised unexpectedly", provider)
        raise OutcomeUnknown(error) from error
