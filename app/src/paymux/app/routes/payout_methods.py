"""``PUT`` and ``GET /v1/sellers/{seller_id}/payout-method``: where a seller is paid.

No ``from __future__ import annotations`` here: FastAPI resolves the local scope aliases.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, Security

from paymux.app.dispute_schemas import PayoutMethodIn, PayoutMethodOut
from paymux.app.localization import DisplayLocale, display_headers, localize, requested_locale
from paymux.app.openapi_links import PAYOUT_METHOD_LINKS
from paymux.app.routes.common import api_router, json_body, parse_body, problem_responses
from paymux.app.runtime import PaymuxRuntime
from paymux.app.schemas import inline_schema
from paymux.core.domain.api_keys import Scope

_ERRORS = problem_responses(
    {
        400: "Malformed JSON",
        404: "The seller has no payout method",
        422: "Not an enabled provider that pays out, an unknown currency, or bad input",
    }
)
SellerId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]


def payout_methods_router(runtime: PaymuxRuntime) -> APIRouter:
    """The payout-method endpoints, bound to ``runtime``."""
    router = api_router(prefix="/v1/sellers", tags=["payouts"])
    Payer = Annotated[str, Security(runtime.api_keys, scopes=[Scope.PAYOUTS])]  # noqa: N806
    Locale = Annotated[DisplayLocale | None, Depends(requested_locale)]  # noqa: N806

    @router.put(
        "/{seller_id}/payout-method",
        response_model=PayoutMethodOut,
        responses={**_ERRORS, 200: PAYOUT_METHOD_LINKS},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": inline_schema(PayoutMethodIn)}},
            }
        },
    )
    async def put_payout_method(
        seller_id: SellerId, request: Request, client_id: Payer, locale: Locale, response: Response
    ) -> PayoutMethodOut:
        """Set (or replace) through which provider and to which account the seller is paid.

        Idempotent by nature: the same body twice leaves one method. Later payouts go there;
        payouts already opened keep the destination they were opened with.
        """
        method_in = parse_body(PayoutMethodIn, await json_body(request))
        method = await runtime.payouts.set_payout_method(
            client_id,
            seller_id,
            provider=method_in.provider,
            account=method_in.account,
            holder_name=method_in.holder_name,
            details=dict(method_in.details),
            currency=method_in.currency,
        )
        response.headers.update(display_headers(locale))
        return localize(PayoutMethodOut.of(method), locale)

    @router.get("/{seller_id}/payout-method", response_model=PayoutMethodOut, responses=_ERRORS)
    async def get_payout_method(
        seller_id: SellerId, client_id: Payer, locale: Locale, response: Response
    ) -> PayoutMethodOut:
        """The seller's payout method."""
        method = await runtime.payouts.get_payout_method(client_id, seller_id)
        response.headers.update(display_headers(locale))
        return localize(PayoutMethodOut.of(method), locale)

    return router
