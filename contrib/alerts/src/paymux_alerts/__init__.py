"""paymux-alerts: tells operators of new reconciliation discrepancies.

A paymux plugin (entry point ``alerts`` of the ``paymux`` group) offering, through
``paymux_add_reconciliation_alerters``, the alerters its settings switch on:
:class:`~paymux_alerts.email_alerter.EmailAlerter` (``PAYMUX_ALERTS__EMAIL__HOST`` and
``PAYMUX_ALERTS__EMAIL__TO``), :class:`~paymux_alerts.slack_alerter.SlackWebhookAlerter`
(``PAYMUX_ALERTS__SLACK__WEBHOOK_URL``) and :class:`~paymux_alerts.log_alerter.LogAlerter`
(on unless ``PAYMUX_ALERTS__LOG=false``). See ``docs/reconciliation-alerts.md``.
"""
