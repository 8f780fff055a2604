"""``POST /v1/payment-orders/{id}/shipment``: the seller shipped; release the order's money.

No ``from __future__ import annotations`` here: FastAPI resolves the local scope aliases.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, Security

from paymux.app.idempotency import fingerprint, idempotency_key
from paymux.app.localization import DisplayLocale, requested_locale
from paymux.app.openapi_links import SHIPMENT_LINKS
from paymux.app.problems import Problem
from paymux.app.routes.common import (
    IDEMPOTENCY_KEY_PARAMETER,
    api_router,
    json_body,
    problem_responses,
    stored_response,
)
from paymux.app.runtime import PaymuxRuntime
from paymux.app.schemas import ShipmentOut
from paymux.core.domain.api_keys import Scope
from paymux.core.services.idempotency import IdempotentRequest
from paymux.core.services.shipments import Shipment


def shipments_router(runtime: PaymuxRuntime) -> APIRouter:
    """The shipment endpoint, bound to ``runtime``."""
    router = api_router(prefix="/v1/payment-orders", tags=["shipments"])
    Writer = Annotated[str, Security(runtime.api_keys, scopes=[Scope.PAYMENTS_WRITE])]  # noqa: N806

    def render(shipment: Shipment) -> str:
        return ShipmentOut.of(shipment).model_dump_json()

    @router.post(
        "/{order_id}/shipment",
        status_code=201,
        response_model=ShipmentOut,
        responses={
            **problem_responses(
                {
                    400: "Missing Idempotency-Key",
                    404: "No such payment order for this client",
                    409: "The order has not succeeded, or shipped before, or the key is in use",
                    422: "A body other than {} or the key was used with another request",
                }
            ),
            201: SHIPMENT_LINKS,
        },
        openapi_extra={"parameters": [IDEMPOTENCY_KEY_PARAMETER]},
    )
    async def confirm_shipment(
        order_id: str,
        request: Request,
        client_id: Writer,
        key: Annotated[str, Depends(idempotency_key)],
        locale: Annotated[DisplayLocale | None, Depends(requested_locale)],
    ) -> Response:
        """The seller shipped this order: release its amount minus commission and logistics fee.

        Moves the order's money from the seller's pending to their available balance and books
        the platform's commission and logistics fee, in one transaction. Only for a succeeded
        order, once. The body is empty or ``{}``.
        """
        body = await json_body(request, empty={})
        if body != {}:
            raise Problem("validation-error", "the shipment takes no fields: send {} or nothing")
        stored = await runtime.shipments.confirm_shipment(
            IdempotentRequest(
                client_id=client_id,
                key=key,
                fingerprint=fingerprint("POST", f"/v1/payment-orders/{order_id}/shipment", body),
            ),
            order_id,
            render,
        )
        return stored_response(stored, ShipmentOut, locale)

    return router
