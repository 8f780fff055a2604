"""The buyer's confirmation e-mail: plain text and HTML, amounts and dates localized (Babel).

The wording is English; amounts and delivery dates follow the buyer's locale
(``1.–3. Dez. 2026``, ``42,50 €`` for ``de-DE``).
"""

from __future__ import annotations

import html
from datetime import date
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_interval

from paymux.core.domain.delivery import DeliveryEstimate
from paymux.core.notifications import OrderLine, PaymentSucceededNotification
from paymux.currencies import Money, format_money


def resolve_locale(tag: str | None, default: str) -> str:
    """``tag`` as a locale Babel knows (``de-DE`` -> ``de_DE``); a tag Babel does not know
    is shortened one subtag at a time (``pt-BR-x-shop`` -> ``pt_BR``); else ``default``."""
    parts = (tag or "").replace("_", "-").split("-")
    while parts and parts[0]:
        try:
            return str(Locale.parse("_".join(parts)))
        except (UnknownLocaleError, ValueError, TypeError):
            parts.pop()
    return default


def subject(notification: PaymentSucceededNotification, locale: str) -> str:
    """``Your payment of €42.50 succeeded``."""
    return f"Your payment of {format_money(notification.amount, locale)} succeeded"


def delivery_text(estimate: DeliveryEstimate, locale: str) -> str:
    """``Nov 28, 2026`` or ``Dec 1 – 3, 2026`` in ``locale``."""
    if estimate.is_single_day:
        return _day(estimate.earliest, locale)
    return str(format_interval(estimate.earliest, estimate.latest, "yMMMd", locale=locale))


def build_message(
    notification: PaymentSucceededNotification, *, sender: str, locale: str
) -> EmailMessage:
    """The e-mail for ``notification`` from ``sender`` (``Shop <orders@shop.example>``).

    Its ``Message-ID`` is derived from the payment, so a message sent twice (deliveries are
    at least once) carries the same id and mail clients can show it once.
    """
    message = EmailMessage()
    message["Subject"] = subject(notification, locale)
    message["From"] = sender
    message["To"] = notification.buyer_email
    message["Date"] = formatdate(usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2]
    message["Message-ID"] = f"<payment-succeeded.{notification.payment_id}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text_body(notification, locale))
    message.add_alternative(html_body(notification, locale), subtype="html")
    return message


def text_body(notification: PaymentSucceededNotification, locale: str) -> str:
    """The plain-text part."""
    lines = [
        "Hello,",
        "",
        f"your payment of {_money(notification.amount, locale)} succeeded. "
        "Thank you for your order.",
        "",
        "Your orders:",
        *(f"- {_order_text(order, locale)}" for order in notification.orders),
        "",
    ]
    if notification.status_page_url:
        lines += [f"Follow your payment: {notification.status_page_url}", ""]
    lines.append(f"Payment reference: {notification.payment_id}")
    return "\n".join(lines) + "\n"


def html_body(notification: PaymentSucceededNotification, locale: str) -> str:
    """The HTML part (every value escaped)."""
    rows = "\n".join(
        "<tr>"
        f"<td>{_e(order.reference)}</td>"
        f"<td>{_e(order.seller_id)}</td>"
        f'<td style="text-align:right">{_e(_money(order.amount, locale))}</td>'
        f"<td>{_e(_estimate(order, locale) or '')}</td>"
        "</tr>"
        for order in notification.orders
    )
    link = (
        f'<p><a href="{_e(notification.status_page_url)}">Follow your payment</a></p>\n'
        if notification.status_page_url
        else ""
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        f"<title>{_e(subject(notification, locale))}</title></head>\n<body>\n"
        "<p>Hello,</p>\n"
        f"<p>your payment of <strong>{_e(_money(notification.amount, locale))}</strong> "
        "succeeded. Thank you for your order.</p>\n"
        "<table>\n<thead><tr><th>Order</th><th>Seller</th><th>Amount</th>"
        "<th>Estimated delivery</th></tr></thead>\n"
        f"<tbody>\n{rows}\n</tbody>\n</table>\n"
        f"{link}"
        f"<p>Payment reference: {_e(notification.payment_id)}</p>\n"
        "</body>\n</html>\n"
    )


def _order_text(order: OrderLine, locale: str) -> str:
    text = f"order {order.reference} from {order.seller_id}: {_money(order.amount, locale)}"
    estimate = _estimate(order, locale)
    return f"{text}, estimated delivery {estimate}" if estimate else text


def _estimate(order: OrderLine, locale: str) -> str | None:
    if order.estimated_delivery is None:
        return None
    return delivery_text(order.estimated_delivery, locale)


def _money(amount: Money, locale: str) -> str:
    return format_money(amount, locale)


def _day(day: date, locale: str) -> str:
    return str(format_date(day, format="medium", locale=locale))


def _e(text: str) -> str:
    return html.escape(text, quote=True)
