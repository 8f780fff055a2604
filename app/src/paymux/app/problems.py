"""Errors as ``application/problem+json`` (RFC 9457), each with a stable ``type``.

Every ``type`` is ``https://paymux.dev/problems/<code>`` and is documented in
``docs/api/errors.md``. Bad input is always a 4xx that wrote nothing; never a 500.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from paymux.app.request_ids import current_request_id
from paymux.core.domain.errors import PaymuxError, ProviderOutcomeUnknownError
from paymux.core.ledger.journal import InsufficientBalanceError
from paymux.core.routing import NoRouteError
from paymux.currencies import MoneyError

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://paymux.dev/problems/"
MEDIA_TYPE = "application/problem+json"

STATUS_BY_CODE: dict[str, int] = {
    "invalid-json": 400,
    "idempotency-key-missing": 400,
    "invalid-idempotency-key": 400,
    "webhook-signature-invalid": 400,
    "unauthorized": 401,
    "insufficient-scope": 403,
    "payment-not-found": 404,
    "payment-order-not-found": 404,
    "ledger-not-found": 404,
    "refund-not-found": 404,
    "payout-not-found": 404,
    "unknown-provider": 404,
    "chargeback-not-found": 404,
    "provider-reference-unknown": 404,
    "payout-method-not-found": 404,
    "not-found": 404,
    "dead-letter-not-found": 404,
    "reconciliation-not-found": 404,
    "settlement-file-refused": 422,
    "card-data-refused": 422,
    "settlement-file-malformed": 422,
    "payload-too-large": 413,
    "job-not-dead": 409,
    "method-not-allowed": 405,
    "idempotency-key-in-use": 409,
    "order-not-succeeded": 409,
    "order-already-shipped": 409,
    "insufficient-balance": 409,
    "order-fully-refunded": 409,
    "refund-not-allowed": 422,
    "refunds-not-supported": 422,
    "payout-not-allowed": 422,
    "payouts-not-supported": 422,
    "dispute-not-applicable": 422,
    "invalid-payout-method": 422,
    "fx-rate-unavailable": 422,
    "unsupported-media-type": 415,
    "validation-error": 422,
    "invalid-amount": 422,
    "unknown-currency": 422,
    "withdrawn-currency": 422,
    "currency-mismatch": 422,
    "invalid-checkout": 422,
    "no-provider": 422,
    "no-route": 422,
    "idempotency-key-reused": 422,
    "internal-error": 500,
    "provider-unavailable": 503,
    "rate-limited": 429,
    "rate-limit-unavailable": 503,
}

TITLES: dict[str, str] = {
    "invalid-json": "The body is not valid JSON",
    "idempotency-key-missing": "The Idempotency-Key header is required",
    "invalid-idempotency-key": "The Idempotency-Key header is malformed",
    "webhook-signature-invalid": "The webhook signature did not verify",
    "unauthorized": "A valid API key is required",
    "insufficient-scope": "The API key lacks the scope this operation needs",
    "payment-not-found": "Payment not found",
    "payment-order-not-found": "Payment order not found",
    "ledger-not-found": "Ledger account or transaction not found",
    "order-not-succeeded": "Only a succeeded payment order can ship",
    "order-already-shipped": "The shipment was confirmed before",
    "insufficient-balance": "A balance would go below zero",
    "refund-not-found": "Refund not found",
    "order-fully-refunded": "The order was refunded in full",
    "refund-not-allowed": "The refund is not possible",
    "refunds-not-supported": "The provider cannot refund",
    "payout-not-found": "Payout not found",
    "payout-not-allowed": "The payout is not possible",
    "payouts-not-supported": "No provider can pay out",
    "unknown-provider": "Unknown provider",
    "chargeback-not-found": "Chargeback not found",
    "provider-reference-unknown": "The provider named a refund or payout paymux does not know",
    "payout-method-not-found": "The seller has no payout method",
    "dispute-not-applicable": "The dispute cannot be applied to this payment",
    "invalid-payout-method": "The payout method is not usable",
    "fx-rate-unavailable": "No exchange rate to convert with",
    "not-found": "Not found",
    "dead-letter-not-found": "Dead letter not found",
    "reconciliation-not-found": "Reconciliation run not found",
    "settlement-file-refused": "The file is not a settlement file of this provider",
    "card-data-refused": "paymux never accepts card numbers or security codes",
    "settlement-file-malformed": "A line of the settlement file is malformed",
    "payload-too-large": "The request body is too large",
    "job-not-dead": "The job is not in the dead-letter queue",
    "method-not-allowed": "Method not allowed",
    "idempotency-key-in-use": "A request with this Idempotency-Key is in progress",
    "unsupported-media-type": "The body must be application/json",
    "validation-error": "The request is not valid",
    "invalid-amount": "Invalid amount",
    "unknown-currency": "Unknown currency",
    "withdrawn-currency": "Withdrawn currency",
    "currency-mismatch": "Currencies do not match",
    "invalid-checkout": "The checkout breaks a rule",
    "no-provider": "No provider serves this payment",
    "no-route": "The markets configuration routes no provider to this payment",
    "idempotency-key-reused": "The Idempotency-Key was used with another request",
    "internal-error": "Internal error",
    "provider-unavailable": "The payment provider did not answer",
    "rate-limited": "Too many requests",
    "rate-limit-unavailable": "The rate limits cannot be checked",
}


class Problem(Exception):  # noqa: N818 - RFC 9457 calls it a problem
    """An error to answer as problem+json."""

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions

    @property
    def status(self) -> int:
        """The HTTP status of this problem's code."""
        return STATUS_BY_CODE[self.code]


def problem_response(problem: Problem, instance: str | None = None) -> Response:
    """The problem+json response."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + problem.code,
        "title": TITLES[problem.code],
        "status": problem.status,
        "detail": problem.detail,
    }
    if instance:
        body["instance"] = instance
    if (request_id := current_request_id()) is not None:
        body["request_id"] = request_id
    body.update(problem.extensions)
    return Response(
        json.dumps(body), status_code=problem.status, media_type=MEDIA_TYPE, headers=problem.headers
    )


def as_problem(error: Exception) -> Problem:
    """Turn any error the API can meet into a :class:`Problem`."""
    if isinstance(error, Problem):
        return error
    if isinstance(error, ProviderOutcomeUnknownError):
        return Problem(
            error.code,
            error.message,
            headers={"Retry-After": str(error.retry_after_seconds)},
            **error.ids,
        )
    if isinstance(error, NoRouteError):
        return Problem(error.code, error.message, **error.details())
    if isinstance(error, PaymuxError) and error.code in STATUS_BY_CODE:
        return Problem(error.code, error.message)
    if isinstance(error, InsufficientBalanceError):
        return Problem(error.code, str(error))
    if isinstance(error, MoneyError) and error.code in STATUS_BY_CODE:
        return Problem(error.code, str(error))
    if isinstance(error, RequestValidationError | ValidationError):
        return Problem(
            "validation-error",
            "some fields are missing or have the wrong type",
            errors=field_errors(error.errors()),
        )
    if isinstance(error, HTTPException):
        code = {
            401: "unauthorized",
            404: "not-found",
            405: "method-not-allowed",
            413: "payload-too-large",
        }.get(error.status_code, "validation-error")
        return Problem(code, str(error.detail), headers=dict(error.headers or {}))
    log.exception("unexpected error", exc_info=error)
    return Problem("internal-error", "an unexpected error occurred; it was logged")


def json_pointer(parts: Iterable[object]) -> str:
    """An RFC 6901 pointer: ``""`` for the whole document, ``/orders/0/amount`` for a field."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def field_errors(errors: Any) -> list[dict[str, Any]]:
    """Pydantic's errors as ``{"pointer", "detail"}`` items of a validation problem."""
    return [
        {
            "pointer": json_pointer(part for part in error.get("loc", ()) if part != "body"),
            "detail": error.get("msg", ""),
        }
        for error in errors
    ]


class ProblemRoute(APIRoute):
    """A route that answers every error as problem+json, even when mounted in a host app."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler so errors become problems before reaching the host app."""
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as error:  # every error becomes a problem, never a bare 500
                return problem_response(as_problem(error), instance=request.url.path)

        return handle
