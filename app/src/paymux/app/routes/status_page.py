"""The buyer's status page: where the hosted payment page sends the buyer back to.

The buyer's return is one of the three ways paymux learns a payment's outcome (with the
webhook and the janitor): while the payment is open, the page asks the provider (at most once
every few seconds per payment) and applies the answer through the same monotonic status
machine, so the three may race and the ledger still posts once.
"""

from __future__ import annotations

import logging
import time
from html import escape
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import HTMLResponse

from paymux.app.localization import (
    DEFAULT_TAG,
    HEADER,
    DisplayLocale,
    lookup_locale,
    negotiate_locale,
)
from paymux.app.runtime import PaymuxRuntime
from paymux.app.status_links import LinkCheck
from paymux.core.domain.delivery import DeliveryEstimate
from paymux.core.domain.errors import PaymentNotFoundError
from paymux.core.domain.models import PaymentEvent
from paymux.core.services.payment_pending import PendingReason, PendingWork
from paymux.currencies import Money, format_money
from paymux.currencies.display import format_day_range, format_instant

log = logging.getLogger(__name__)

ASK_PROVIDER_EVERY_SECONDS = 5.0
"""The status page asks the provider about one payment at most this often."""

_PENDING_MESSAGES = {
    PendingReason.REGISTERING: "We are setting up your payment with the payment provider. "
    "This page updates by itself.",
    PendingReason.OUTCOME_UNKNOWN: "We are confirming your payment with the payment provider. "
    "You will not be charged twice; this page updates by itself.",
    PendingReason.AWAITING_BUYER: "We are waiting for your payment. If you have not paid yet, "
    "continue on the payment page.",
    PendingReason.NEEDS_ATTENTION: "We could not confirm your payment yet. Please do not pay "
    "again: the shop will contact you.",
}

_MESSAGES = {
    "succeeded": "Payment received. Thank you!",
    "failed": "The payment failed. No money was taken.",
    "canceled": "The payment was canceled.",
    "expired": "The payment expired.",
}


_EXPIRED = "<p>This link has expired. The shop's order page or its latest e-mail has a new one.</p>"


def status_page_router(runtime: PaymuxRuntime) -> APIRouter:
    """``GET /checkout/{payment_id}?sig=...&exp=...``, an HTML page that refreshes until final."""
    router = APIRouter(tags=["buyer"], include_in_schema=False)
    last_asked: dict[str, float] = {}

    async def ask_provider(payment: PaymentEvent) -> PaymentEvent:
        """The buyer is back: ask the provider, unless someone asked a moment ago."""
        registered = payment.registration is not None and payment.registration.token
        if payment.is_settled or not registered:
            return payment
        now = time.monotonic()
        if now - last_asked.get(payment.id, float("-inf")) < ASK_PROVIDER_EVERY_SECONDS:
            return payment
        last_asked[payment.id] = now
        if len(last_asked) > 10_000:  # forget the oldest, keep the memo small
            for stale in sorted(last_asked, key=last_asked.__getitem__)[:5_000]:
                del last_asked[stale]
        try:
            return await runtime.payments.refresh_payment(payment.id)
        except Exception as error:  # the page shows what is known; the janitor asks again
            log.warning("asking %s about %s failed: %s", payment.provider, payment.id, error)
            return payment

    @router.get("/checkout/{payment_id}", response_class=HTMLResponse)
    async def status_page(
        payment_id: str,
        sig: str = "",
        exp: str = "",
        accept_language: Annotated[str | None, Header(alias=HEADER)] = None,
    ) -> HTMLResponse:
        not_found = HTMLResponse(
            _page("Payment not found", "<p>Check the link.</p>", final=True), 404
        )
        expires = int(exp) if exp.isascii() and exp.isdigit() and len(exp) <= 12 else None
        checked = runtime.status_links.check(payment_id, sig, expires)
        if checked is LinkCheck.FORGED:
            return not_found
        if checked is LinkCheck.EXPIRED:
            return HTMLResponse(_page("Link expired", _EXPIRED, final=True), 410)
        try:
            payment = await runtime.payments.get_payment(payment_id, client_id=None)
        except PaymentNotFoundError:
            return not_found
        payment = await ask_provider(payment)
        locale = buyer_display_locale(payment.buyer_locale, accept_language)
        page = _status(payment, await runtime.payments.pending_work(payment), locale)
        return HTMLResponse(page, headers={"Vary": HEADER})

    return router


def buyer_display_locale(buyer_locale: str | None, accept_language: str | None) -> DisplayLocale:
    """The locale the buyer sees amounts and dates in: the payment's ``buyer_locale`` (with
    its fallback, ``de-CH-x-shop`` -> ``de-CH``), else the browser's ``Accept-Language``,
    else English."""
    chosen = lookup_locale(buyer_locale) if buyer_locale else None
    chosen = chosen or negotiate_locale(accept_language) or lookup_locale(DEFAULT_TAG)
    assert chosen is not None  # CLDR always has English
    return chosen


def _status(payment: PaymentEvent, pending: PendingWork | None, locale: DisplayLocale) -> str:
    status = payment.status
    final = status.is_terminal
    message = _MESSAGES.get(status.value, "Your payment is being processed…")
    if pending is not None:
        message = _PENDING_MESSAGES[pending.reason]
    redirect = payment.registration.redirect_url if payment.registration else None
    resume = (
        f"<p><a id='pay' href='{escape(redirect)}'>Continue to the payment page</a></p>"
        if pending is not None and pending.reason is PendingReason.AWAITING_BUYER and redirect
        else ""
    )
    with_delivery = any(order.estimated_delivery for order in payment.orders)
    rows = "".join(
        f"<tr><td>{escape(order.reference)}</td>"
        f"<td class='amount'>{_money(order.amount, locale)}</td>"
        + (
            f"<td class='delivery'>{_days(order.estimated_delivery, locale)}</td>"
            if with_delivery
            else ""
        )
        + f"<td class='status' data-order='{escape(order.id)}'>{order.status.value}</td></tr>"
        for order in payment.orders
    )
    delivery_header = "<th>Estimated delivery</th>" if with_delivery else ""
    back = (
        f"<p><a id='back' href='{escape(payment.return_url)}'>Back to the shop</a></p>"
        if final
        else ""
    )
    created = _shown(format_instant(payment.created_at, locale.babel), locale)
    content = f"""
<p id="result" data-status="{status.value}">{escape(message)}</p>
<p>Total <strong id="total">{_money(payment.total, locale)}</strong></p>
<p>Date <span id="created">{created}</span></p>
<table><tr><th>Order</th><th>Amount</th>{delivery_header}<th>Status</th></tr>{rows}</table>
{resume}{back}"""
    return _page("Your payment", content, final=final, locale=locale)


def _shown(text: str, locale: DisplayLocale) -> str:
    """A value localized for the buyer, marked with its language (the page's words are
    English)."""
    return f'<bdi lang="{escape(locale.tag)}">{escape(text)}</bdi>'


def _money(money: Money, locale: DisplayLocale) -> str:
    return _shown(format_money(money, locale.babel), locale)


def _days(estimate: DeliveryEstimate | None, locale: DisplayLocale) -> str:
    if estimate is None:
        return ""
    return _shown(format_day_range(estimate.earliest, estimate.latest, locale.babel), locale)


def _page(title: str, content: str, *, final: bool, locale: DisplayLocale | None = None) -> str:
    refresh = "" if final else '<meta http-equiv="refresh" content="3">'
    shown_in = "" if locale is None else f' data-locale="{escape(locale.tag)}"'
    return f"""<!doctype html>
<html lang="en"{shown_in}><head><meta charset="utf-8">{refresh}<title>{escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 34rem; margin: 2rem auto; color: #1d2433; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #ddd; }}
#result {{ font-size: 1.2rem; font-weight: 600; }}
</style></head><body><h1>{escape(title)}</h1>{content}</body></html>"""
