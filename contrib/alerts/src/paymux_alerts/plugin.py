"""The ``paymux`` entry point of paymux-alerts: offers the configured alerters."""

from __future__ import annotations

from collections.abc import Sequence

from paymux.core.hookspecs import hookimpl
from paymux.core.reconciliation.alerts import ReconciliationAlerter
from paymux.core.settings import Settings
from paymux_alerts.email_alerter import EmailAlerter
from paymux_alerts.log_alerter import LogAlerter
from paymux_alerts.settings import AlertsSettings
from paymux_alerts.slack_alerter import SlackWebhookAlerter


@hookimpl
def paymux_add_reconciliation_alerters(settings: Settings) -> Sequence[ReconciliationAlerter]:
    """The alerters ``PAYMUX_ALERTS__...`` switches on: e-mail (``EMAIL__HOST`` and
    ``EMAIL__TO``), webhook (``SLACK__WEBHOOK_URL``) and log (unless ``LOG=false``)."""
    alerts = AlertsSettings()
    alerters: list[ReconciliationAlerter] = []
    if alerts.email.enabled:
        alerters.append(EmailAlerter(alerts.email))
    if alerts.slack.enabled:
        alerters.append(SlackWebhookAlerter(alerts.slack))
    if alerts.log:
        alerters.append(LogAlerter())
    return alerters
