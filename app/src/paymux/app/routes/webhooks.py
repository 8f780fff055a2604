"""``/v1/webhooks/{provider}``: notifications from PSPs, verified by the provider plugin."""

from __future__ import annotations

from fastapi import APIRouter, Request

from paymux.app.body_limits import read_body, webhook_body_limit
from paymux.app.problems import Problem, ProblemRoute
from paymux.app.routes.common import problem_responses
from paymux.app.runtime import PaymuxRuntime
from paymux.app.schemas import WebhookAck
from paymux.core.ports.provider import WebhookVerificationError

_ERRORS = problem_responses(
    {
        400: "The signature did not verify, or the body is not the provider's format",
        404: "No such enabled provider, or the event names a payment, refund or payout "
        "paymux does not know (yet): the provider delivers it again",
        422: "The event is not applicable to what it names",
    }
)


def webhooks_router(runtime: PaymuxRuntime) -> APIRouter:
    """The webhook endpoint, bound to ``runtime``."""
    router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], route_class=ProblemRoute)

    @router.post("/{provider}", response_model=WebhookAck, responses=_ERRORS)
    async def receive(provider: str, request: Request) -> WebhookAck:
        """Verify the signature with the provider's own scheme, then apply each event once.

        No API key and no Idempotency-Key: the signature authenticates, and events are
        deduplicated on the provider's event id. Payment statuses, chargebacks (disputes)
        and refund and payout updates are applied; an announced settlement report is queued
        for a worker to download and reconcile. A duplicate or late event answers 200
        and changes nothing. A forged one answers 400 and changes nothing. An event naming
        a payment, refund or payout paymux does not know (yet) answers 404, so the provider
        delivers it again. A body over ``PAYMUX_WEBHOOK_MAX_BODY_BYTES`` answers 413.
        """
        plugin = runtime.providers.get(provider)
        limit = webhook_body_limit(runtime.settings, runtime.providers, provider)
        body = await read_body(request, limit)
        headers = {name.lower(): value for name, value in request.headers.items()}
        try:
            events = plugin.parse_webhook(headers, body)
        except WebhookVerificationError as error:
            raise Problem("webhook-signature-invalid", str(error)) from None
        outcome = await runtime.webhooks.apply(provider, events)
        return WebhookAck(
            received=len(events),
            applied=outcome.applied,
            duplicates=outcome.duplicates,
            unchanged=outcome.unchanged,
        )

    return router
