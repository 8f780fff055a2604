"""paymux-smtp: e-mails the buyer a confirmation when a payment succeeded.

A paymux plugin (entry point ``smtp`` of the ``paymux`` group) offering a
:class:`~paymux_smtp.notifier.SmtpNotifier` through ``paymux_add_notifiers`` once
``PAYMUX_SMTP_HOST`` and ``PAYMUX_SMTP_FROM`` are set (see ``docs/notifications.md``).
"""
