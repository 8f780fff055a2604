"""The buyer's status page: where the hosted payment page sends the buyer back to."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from paymux.app.runtime import PaymuxRuntime
from paymux.core.domain.errors import PaymentNotFoundError
from paymux.core.domain.models import PaymentEvent
from paymux.currencies import format_money

_MESSAGES = {
    "succeeded": "Payment received. Thank you!",
    "failed": "The payment failed. No money was taken.",
    "canceled": "The payment was canceled.",
    "expired": "The payment expired.",
}


def status_page_router(runtime: PaymuxRuntime) -> APIRouter:
    """``GET /checkout/{payment_id}?sig=...``, an HTML page that refreshes until final."""
    router = APIRouter(tags=["buyer"], include_in_schema=False)

    @router.get("/checkout/{payment_id}", response_class=HTMLResponse)
    async def status_page(payment_id: str, sig: str = "") -> HTMLResponse:
        not_found = HTMLResponse(
            _page("Payment not found", "<p>Check the link.</p>", final=True), 404
        )
        if not runtime.status_links.verify(payment_id, sig):
            return not_found
        try:
            payment = await runtime.payments.get_payment(payment_id, client_id=None)
        except PaymentNotFoundError:
            return not_found
        return HTMLResponse(_status(payment))

    return router


def _status(payment: PaymentEvent) -> str:
    status = payment.status
    final = status.is_terminal
    message = _MESSAGES.get(status.value, "Your payment is being processed…")
    rows = "".join(
        f"<tr><td>{escape(order.reference)}</td><td>{escape(format_money(order.amount, 'en_US'))}"
        f"</td><td class='status' data-order='{escape(order.id)}'>{order.status.value}</td></tr>"
        for order in payment.orders
    )
    back = (
        f"<p><a id='back' href='{escape(payment.return_url)}'>Back to the shop</a></p>"
        if final
        else ""
    )
    content = f"""
<p id="result" data-status="{status.value}">{escape(message)}</p>
<p>Total <strong>{escape(format_money(payment.total, "en_US"))}</strong></p>
<table><tr><th>Order</th><th>Amount</th><th>Status</th></tr>{rows}</table>{back}"""
    return _page("Your payment", content, final=final)


def _page(title: str, content: str, *, final: bool) -> str:
    refresh = "" if final else '<meta http-equiv="refresh" content="1">'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">{refresh}<title>{escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 34rem; margin: 2rem auto; color: #1d2433; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #ddd; }}
#result {{ font-size: 1.2rem; font-weight: 600; }}
</style></head><body><h1>{escape(title)}</h1>{content}</body></html>"""
