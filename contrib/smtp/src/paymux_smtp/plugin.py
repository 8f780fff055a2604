"""The ``paymux`` entry point of paymux-smtp: offers the SMTP notifier when configured."""

from __future__ import annotations

from collections.abc import Sequence

from paymux.core.hookspecs import hookimpl
from paymux.core.notifications import BuyerNotifier
from paymux.core.settings import Settings
from paymux_smtp.notifier import SmtpNotifier
from paymux_smtp.settings import SmtpSettings


@hookimpl
def paymux_add_notifiers(settings: Settings) -> Sequence[BuyerNotifier]:
    """The SMTP notifier when ``PAYMUX_SMTP_HOST`` is set, else nothing."""
    smtp = SmtpSettings()
    return [SmtpNotifier(smtp)] if smtp.enabled else []
