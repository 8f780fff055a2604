"""``/v1/routing/explain``: which provider a checkout would go to, and why.

No ``from __future__ import annotations`` here: FastAPI resolves the local scope aliases.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, Security

from paymux.app.localization import DisplayLocale, display_headers, localize, requested_locale
from paymux.app.problems import Problem
from paymux.app.routes.common import api_router, problem_responses
from paymux.app.routing_schemas import ExplanationOut
from paymux.app.runtime import PaymuxRuntime
from paymux.core.domain.api_keys import Scope
from paymux.core.routing import MarketRouter, NoRouteError
from paymux.currencies import MoneyError, get_active_currency

_ERRORS = problem_responses(
    {
        401: "Missing or invalid API key",
        422: "Invalid parameters, or no provider serves the combination (`no-route` lists "
        "what the markets file supports, `no-provider` without a markets file)",
    }
)


def routing_router(runtime: PaymuxRuntime) -> APIRouter:
    """The routing endpoints, bound to ``runtime``."""
    router = api_router(prefix="/v1/routing", tags=["routing"])
    Reader = Annotated[str, Security(runtime.api_keys, scopes=[Scope.PAYMENTS_READ])]  # noqa: N806
    Locale = Annotated[DisplayLocale | None, Depends(requested_locale)]  # noqa: N806

    @router.get("/explain", response_model=ExplanationOut, responses=_ERRORS)
    async def explain(
        _client_id: Reader,
        country: Annotated[
            str, Query(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 of the buyer")
        ],
        currency: Annotated[str, Query(description="ISO 4217 code, upper case")],
        locale: Locale,
        response: Response,
        method: Annotated[str, Query(pattern=r"^[a-z_]{1,32}$")] = "card",
    ) -> ExplanationOut:
        """Which provider a payment with this country, currency and method would go to.

        Each candidate of the chain is listed with why it was chosen, skipped (not enabled,
        its capabilities do not serve the checkout, unavailable) or not tried. A combination
        nothing serves is a 422 problem; with a markets file (`no-route`) it lists what is
        supported for the country, or every market when the country is in none.
        """
        try:
            code = get_active_currency(currency).code
        except MoneyError as error:
            raise Problem(error.code, str(error), pointer="/currency") from None
        explanation = runtime.router.explain(country=country, currency=code, method=method)
        if explanation.provider is None:
            if isinstance(runtime.router, MarketRouter):
                raise NoRouteError(
                    explanation.reason,
                    explanation=explanation,
                    supported=runtime.router.supported(country),
                )
            raise Problem("no-provider", explanation.reason, explanation=explanation.as_json())
        response.headers.update(display_headers(locale))
        return localize(ExplanationOut.of(explanation), locale)

    return router
