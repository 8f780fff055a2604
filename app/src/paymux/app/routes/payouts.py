"""``POST /v1/payouts`` and ``GET /v1/payouts/{id}``.

No ``from __future__ import annotations`` here: FastAPI resolves the local scope aliases.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, Security

from paymux.app.idempotency import fingerprint, idempotency_key
from paymux.app.localization import DisplayLocale, requested_locale
from paymux.app.openapi_links import PAYOUT_LINKS
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
from paymux.app.schemas import PayoutIn, PayoutOut, inline_schema
from paymux.core.domain.api_keys import Scope
from paymux.core.domain.payouts import Payout
from paymux.core.services.idempotency import IdempotentRequest

_ERRORS = problem_responses(
    {
        400: "Missing Idempotency-Key or malformed JSON",
        404: "No such payout for this client",
        409: "A request with the same Idempotency-Key is in progress",
        422: "More than available, nothing available, no payout provider, no exchange rate "
        "for the payout currency, or bad input",
        503: "The provider did not answer; the payout stays pending; retry with the same key",
    }
)


def payouts_router(runtime: PaymuxRuntime) -> APIRouter:
    """The payout endpoints, bound to ``runtime``."""
    router = api_router(prefix="/v1/payouts", tags=["payouts"])
    Payer = Annotated[str, Security(runtime.api_keys, scopes=[Scope.PAYOUTS])]  # noqa: N806
    Locale = Annotated[DisplayLocale | None, Depends(requested_locale)]  # noqa: N806

    def render(payout: Payout) -> str:
        return PayoutOut.of(payout).model_dump_json()

    @router.post(
        "",
        status_code=201,
        response_model=PayoutOut,
        responses={**_ERRORS, 201: PAYOUT_LINKS},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": inline_schema(PayoutIn)}},
            },
            "parameters": [IDEMPOTENCY_KEY_PARAMETER],
        },
    )
    async def create_payout(
        request: Request,
        client_id: Payer,
        key: Annotated[str, Depends(idempotency_key)],
        locale: Locale,
    ) -> Response:
        """Pay a seller: everything available in the currency, or an amount.

        Never more than the seller's available balance. What the seller owes from earlier
        refunds (a receivable) is recovered first. The answer's ``status`` is ``paid``,
        ``failed`` (reversed to available) or ``pending``.

        The seller is paid in ``payout_currency`` (default: their payout method's currency,
        else ``currency``); another currency than ``currency`` converts at a quote locked
        for this payout (``fx_quote``), rounded once (``fx-rate-unavailable`` when there is
        no fresh rate).
        """
        body = await json_body(request)
        payout_in = parse_body(PayoutIn, body)
        stored = await runtime.payouts.create_payout(
            IdempotentRequest(
                client_id=client_id,
                key=key,
                fingerprint=fingerprint("POST", "/v1/payouts", body),
            ),
            seller_id=payout_in.seller_id,
            currency=payout_in.currency,
            amount=payout_in.amount,
            payout_currency=payout_in.payout_currency,
            render=render,
        )
        return stored_response(stored, PayoutOut, locale)

    @router.get("/{payout_id}", response_model=PayoutOut, responses=_ERRORS)
    async def get_payout(payout_id: str, client_id: Payer, locale: Locale) -> Response:
        """A payout."""
        payout = await runtime.payouts.get_payout(payout_id, client_id=client_id)
        return localized_response(PayoutOut.of(payout), locale)

    return router
