"""The e-mail alerter: one plain-text and HTML message per alert, sent with aiosmtplib.

Any failure (no connection, a timeout, a ``4xx`` or ``5xx`` answer, missing STARTTLS)
raises, and the ``send_reconciliation_alert`` job retries later. Every message about a run
carries the same ``Message-ID``, so a message sent twice can be shown once.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from paymux.core.reconciliation.alerts import ReconciliationAlert
from paymux_alerts.message import html_body, subject, text_body
from paymux_alerts.settings import EmailAlertSettings


def build_email(alert: ReconciliationAlert, settings: EmailAlertSettings) -> EmailMessage:
    """The e-mail for ``alert``, from ``FROM`` to every ``TO``."""
    message = EmailMessage()
    message["Subject"] = subject(alert)
    message["From"] = settings.sender or ""
    message["To"] = ", ".join(settings.to)
    message["Date"] = formatdate(usegmt=True)
    domain = settings.envelope_sender.rpartition("@")[2]
    message["Message-ID"] = f"<reconciliation-alert.{alert.run_id}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text_body(alert))
    message.add_alternative(html_body(alert), subtype="html")
    return message


class EmailAlerter:
    """E-mails reconciliation alerts through the SMTP server of ``settings``."""

    name = "email"

    def __init__(self, settings: EmailAlertSettings) -> None:
        if not settings.enabled:
            raise ValueError(
                "EmailAlerter needs PAYMUX_ALERTS__EMAIL__HOST and PAYMUX_ALERTS__EMAIL__TO"
            )
        self._settings = settings

    async def alert(self, alert: ReconciliationAlert) -> None:
        """Send the e-mail, or raise (the job retries later)."""
        settings = self._settings
        await aiosmtplib.send(
            build_email(alert, settings),
            sender=settings.envelope_sender,
            recipients=settings.envelope_recipients,
            hostname=settings.host,
            port=settings.effective_port,
            username=settings.username,
            password=None if settings.password is None else settings.password.get_secret_value(),
            use_tls=settings.tls,
            start_tls=False if settings.tls else settings.starttls,
            timeout=settings.timeout_seconds,
        )

    async def aclose(self) -> None:
        """Nothing to close: each e-mail has its own connection."""
