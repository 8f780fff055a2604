"""The Slack-compatible webhook alerter: one POST of JSON per alert, with httpx.

Works with Slack incoming webhooks and with servers that accept Slack's ``{"text"}``
payload (Mattermost, Rocket.Chat). A ``2xx`` answer is delivered; anything else, a
timeout or no connection raises :class:`WebhookDeliveryError` and the job retries later.

The webhook URL is the credential: it is never logged and never part of an error. httpx
logs every request's URL (logger ``httpx``, level INFO); a filter on that logger replaces
a configured webhook URL with its scheme and host.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit

import httpx

from paymux.core.reconciliation.alerts import ReconciliationAlert
from paymux_alerts.settings import SlackAlertSettings
from paymux_alerts.slack_payload import build_payload

ANSWER_EXCERPT = 200
"""Characters of a refusing server's answer kept in the error (``invalid_payload``)."""


class WebhookDeliveryError(Exception):
    """The webhook did not accept the alert (its message never contains the URL)."""


def redacted_url(url: str) -> str:
    """``https://hooks.slack.com/…``: what may be shown of a webhook URL (no path, query or
    user info)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"


class _UrlRedactor(logging.Filter):
    """Replaces webhook URLs in the records of the logger it is added to."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: dict[str, str] = {}
        self._lock = threading.Lock()

    def add(self, url: str) -> None:
        forms = {url, str(httpx.URL(url))}
        path = urlsplit(url).path
        with self._lock:
            for form in forms:
                self._secrets[form] = redacted_url(url)
            if path.strip("/"):
                self._secrets[path] = "/…"

    def redact(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets.items(), key=lambda item: -len(item[0]))
        for secret, shown in secrets:
            text = text.replace(secret, shown)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: logging reports it later
            return True
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_REDACTOR = _UrlRedactor()


def _protect(url: str) -> None:
    """Keep ``url`` out of httpx's (and httpcore's) log records from now on."""
    _REDACTOR.add(url)
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if _REDACTOR not in logger.filters:
            logger.addFilter(_REDACTOR)


class SlackWebhookAlerter:
    """POSTs reconciliation alerts to a Slack-compatible incoming webhook."""

    name = "slack"

    def __init__(self, settings: SlackAlertSettings) -> None:
        if settings.webhook_url is None:
            raise ValueError("SlackWebhookAlerter needs PAYMUX_ALERTS__SLACK__WEBHOOK_URL")
        self._settings = settings
        self._url = settings.webhook_url.get_secret_value()
        self._client: httpx.AsyncClient | None = None
        _protect(self._url)

    def __repr__(self) -> str:
        return f"SlackWebhookAlerter(url={redacted_url(self._url)!r})"

    async def alert(self, alert: ReconciliationAlert) -> None:
        """POST the alert, or raise :class:`WebhookDeliveryError` (the job retries later)."""
        payload = build_payload(alert, self._settings)
        try:
            response = await self._http().post(self._url, json=payload)
        except httpx.HTTPError as error:
            detail = _REDACTOR.redact(str(error)) or "no details"
            raise WebhookDeliveryError(
                f"the webhook at {redacted_url(self._url)} could not be reached: "
                f"{type(error).__name__}: {detail}"
            ) from None
        if not response.is_success:
            answer = _REDACTOR.redact(response.text[:ANSWER_EXCERPT].strip())
            raise WebhookDeliveryError(
                f"the webhook at {redacted_url(self._url)} answered "
                f"{response.status_code} {response.reason_phrase}"
                + (f": {answer}" if answer else "")
            )

    async def aclose(self) -> None:
        """Close the HTTP client's connections."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self._settings.timeout_seconds, follow_redirects=False
            )
        return self._client
