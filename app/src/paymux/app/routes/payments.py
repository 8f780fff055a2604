"""``/v1/payments``: create a payment (idempotently) and read it.

No ``from __future__ import annotations`` here: FastAPI resolves the local scope aliases.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, Security

from paymux.app.idempotency import fingerprint, idempotency_key
from paymux.app.localization import DisplayLocale, requested_locale
from paymux.app.openapi_links import PAYMENT_LINKS
from paymux.app.problems import Problem
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
from paymux.app.schemas import PaymentIn, PaymentOut, inline_schema
from paymux.core.domain.api_keys import Scope
from paymux.core.domain.errors import InvalidCheckoutError
from paymux.core.domain.models import PaymentEvent
from paymux.core.services.idempotency import IdempotentRequest
from paymux.core.services.payment_pending import PendingWork

_ERRORS = problem_responses(
    {
        400: "Missing Idempotency-Key or malformed JSON",
        401: "Missing or invalid API key",
        404: "No such payment for this client",
        409: "A request with the same Idempotency-Key is in progress",
        422: "Invalid input, no provider or market route for the checkout (`no-route` lists "
        "what is supported), no exchange rate for a payment its provider settles in another "
        "currency (`fx-rate-unavailable`), or the Idempotency-Key was used with another body",
        503: "The provider did not answer; retry with the same Idempotency-Key",
    }
)


def payments_router(runtime: PaymuxRuntime) -> APIRouter:
    """The payments endpoints, bound to ``runtime``."""
    router = api_router(prefix="/v1/payments", tags=["payments"])
    Writer = Annotated[str, Security(runtime.api_keys, scopes=[Scope.PAYMENTS_WRITE])]  # noqa: N806
    Reader = Annotated[str, Security(runtime.api_keys, scopes=[Scope.PAYMENTS_READ])]  # noqa: N806

    Locale = Annotated[DisplayLocale | None, Depends(requested_locale)]  # noqa: N806

    def view(payment: PaymentEvent, pending: PendingWork | None = None) -> PaymentOut:
        return PaymentOut.of(
            payment, status_page_url=runtime.status_links.for_payment(payment), pending=pending
        )

    def render(payment: PaymentEvent) -> str:
        return view(payment).model_dump_json()

    @router.post(
        "",
        status_code=201,
        response_model=PaymentOut,
        responses={**_ERRORS, 201: PAYMENT_LINKS},
        summary="Create a payment",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": inline_schema(PaymentIn)}},
            },
            "parameters": [IDEMPOTENCY_KEY_PARAMETER],
        },
    )
    async def create_payment(
        request: Request,
        client_id: Writer,
        key: Annotated[str, Depends(idempotency_key)],
        locale: Locale,
    ) -> Response:
        """Create a checkout with one order per seller and register it with its provider.

        The answer's ``redirect_url`` is the provider's hosted payment page. The same
        ``Idempotency-Key`` with the same body replays the first answer.
        """
        body = await json_body(request)
        payment_in = parse_body(PaymentIn, body)
        fees = runtime.router.fees(
            country=payment_in.country, currency=payment_in.active_currency()
        )
        try:
            draft = payment_in.to_draft(fees)
        except InvalidCheckoutError as error:
            raise Problem(error.code, error.message) from None
        stored = await runtime.payments.create_payment(
            IdempotentRequest(
                client_id=client_id,
                key=key,
                fingerprint=fingerprint("POST", "/v1/payments", body),
            ),
            draft,
            render,
        )
        return stored_response(stored, PaymentOut, locale)

    @router.get("/{payment_id}", response_model=PaymentOut, responses=_ERRORS)
    async def get_payment(payment_id: str, client_id: Reader, locale: Locale) -> Response:
        """A payment and each of its orders; while it is open, the buyer's next step
        (``next_action``) and what it waits for (``pending``: why, what to do, and when
        paymux next asks the provider on its own)."""
        payment = await runtime.payments.get_payment(payment_id, client_id=client_id)
        pending = await runtime.payments.pending_work(payment)
        return localized_response(view(payment, pending), locale)

    return router
