"""``POST /v1/payments/{id}/refunds`` and ``GET /v1/refunds/{id}``.

No ``from __future__ import annotations`` here: FastAPI resolves the local scope aliases.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, Security

from paymux.app.idempotency import fingerprint, idempotency_key
from paymux.app.localization import DisplayLocale, requested_locale
from paymux.app.openapi_links import REFUND_LINKS
from paymux.app.routes.common import (
    IDEMPOTENCY_KEY_PARAMETER,
    api_router,
    json_body,
    localized_response,
    parse_body,
    problem_responses,
    stored_response,
)
from paymux.app.runtime import PaymuxRuntime
from paymux.app.schemas import RefundIn, RefundOut, inline_schema
from paymux.core.domain.api_keys import Scope
from paymux.core.domain.refunds import Refund
from paymux.core.services.idempotency import IdempotentRequest
from paymux.core.services.refunds import RefundAsk

_ERRORS = problem_responses(
    {
        400: "Missing Idempotency-Key or malformed JSON",
        404: "No such payment, order or refund for this client",
        409: "A request with the same Idempotency-Key is in progress",
        422: "More than is left to refund, no refunds at this provider, or bad input",
        503: "The provider did not answer; the refund stays pending; retry with the same key",
    }
)


def refunds_router(runtime: PaymuxRuntime) -> APIRouter:
    """The refund endpoints, bound to ``runtime``."""
    router = api_router(prefix="/v1", tags=["refunds"])
    Refunder = Annotated[str, Security(runtime.api_keys, scopes=[Scope.REFUNDS])]  # noqa: N806
    Locale = Annotated[DisplayLocale | None, Depends(requested_locale)]  # noqa: N806

    def render(refund: Refund) -> str:
        return RefundOut.of(refund).model_dump_json()

    @router.post(
        "/payments/{payment_id}/refunds",
        status_code=201,
        response_model=RefundOut,
        responses={**_ERRORS, 201: REFUND_LINKS},
        openapi_extra={
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": inline_schema(RefundIn)}},
            },
            "parameters": [IDEMPOTENCY_KEY_PARAMETER],
        },
    )
    async def create_refund(
        payment_id: str,
        request: Request,
        client_id: Refunder,
        key: Annotated[str, Depends(idempotency_key)],
        locale: Locale,
    ) -> Response:
        """Refund a payment: one order or all, an amount or everything left.

        Never more than was paid and not yet refunded (pending refunds count). Executed
        through the payment's provider; the answer's ``status`` is ``succeeded``, ``failed``
        or ``pending``.
        """
        body = await json_body(request, empty={})
        refund_in = parse_body(RefundIn, body)
        stored = await runtime.refunds.create_refund(
            IdempotentRequest(
                client_id=client_id,
                key=key,
                fingerprint=fingerprint("POST", f"/v1/payments/{payment_id}/refunds", body),
            ),
            payment_id,
            RefundAsk(
                payment_order_id=refund_in.payment_order_id,
                amount=refund_in.amount,
                reason=refund_in.reason,
            ),
            render,
        )
        return stored_response(stored, RefundOut, locale)

    @router.get("/refunds/{refund_id}", response_model=RefundOut, responses=_ERRORS)
    async def get_refund(refund_id: str, client_id: Refunder, locale: Locale) -> Response:
        """A refund and its parts per order."""
        refund = await runtime.refunds.get_refund(refund_id, client_id=client_id)
        return localized_response(RefundOut.of(refund), locale)

    return router
