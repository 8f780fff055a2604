"""The SMTP buyer notifier: one connection per e-mail, with aiosmtplib.

How the server's answers count for the ``notify_buyer`` job:

- delivered: the server accepted the message (``250`` after ``DATA``);
- temporary (retried with back-off): no connection, a timeout, a dropped connection, any
  ``4xx`` answer (greylisting, a full mailbox, a busy server);
- permanent (:class:`~paymux.core.notifications.NotificationRejectedError`, the job is
  dead-lettered at once): a ``5xx`` answer (unknown recipient, relay denied, bad
  credentials, message refused) or a server without STARTTLS when it is required.
"""

from __future__ import annotations

import aiosmtplib

from paymux.core.notifications import NotificationRejectedError, PaymentSucceededNotification
from paymux_smtp.message import build_message, resolve_locale
from paymux_smtp.settings import SmtpSettings


class SmtpNotifier:
    """E-mails the buyer through the SMTP server of ``settings``."""

    name = "smtp"

    def __init__(self, settings: SmtpSettings) -> None:
        if not settings.enabled:
            raise ValueError("SmtpNotifier needs PAYMUX_SMTP_HOST")
        self._settings = settings

    async def notify_payment_succeeded(self, notification: PaymentSucceededNotification) -> None:
        """Send the confirmation e-mail, or raise (see the module's docstring)."""
        settings = self._settings
        locale = resolve_locale(notification.locale, settings.locale)
        message = build_message(notification, sender=settings.sender or "", locale=locale)
        try:
            await aiosmtplib.send(
                message,
                sender=settings.envelope_sender,
                recipients=[notification.buyer_email],
                hostname=settings.host,
                port=settings.effective_port,
                username=settings.username,
                password=None
                if settings.password is None
                else settings.password.get_secret_value(),
                use_tls=settings.tls,
                start_tls=False if settings.tls else settings.starttls,
                timeout=settings.timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            answers = [(refused.code, refused.message) for refused in error.recipients]
            if all(_permanent(code) for code, _ in answers):
                raise NotificationRejectedError(
                    "the SMTP server refused the recipient: "
                    + "; ".join(f"{code} {text}" for code, text in answers)
                ) from None
            raise
        except aiosmtplib.SMTPResponseException as error:
            if _permanent(error.code):
                raise NotificationRejectedError(
                    f"the SMTP server refused the message: {error.code} {error.message}"
                ) from None
            raise
        except aiosmtplib.SMTPNotSupported as error:
            raise NotificationRejectedError(f"the SMTP server cannot: {error.message}") from None

    async def aclose(self) -> None:
        """Nothing to close: each e-mail has its own connection."""


def _permanent(code: int) -> bool:
    return 500 <= code < 600
