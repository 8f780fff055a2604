"""The webhook alerter against a real local HTTP server (``http.server`` in a thread)."""

from __future__ import annotations

import json
import logging
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from paymux.core.reconciliation.alerts import ReconciliationAlert
from paymux_alerts.settings import SlackAlertSettings
from paymux_alerts.slack_alerter import SlackWebhookAlerter, WebhookDeliveryError
from paymux_test_support import free_socket

SECRET = "T0AAA/B0BBB/xK9s3cretW3bh00kT0ken"


@dataclass
class Received:
    """A request the webhook server got."""

    path: str
    content_type: str
    body: dict[str, Any]


@dataclass
class Webhook:
    """An incoming-webhook server on 127.0.0.1; its answers can be scripted."""

    port: int
    received: list[Received] = field(default_factory=list)
    answers: list[tuple[int, str]] = field(default_factory=list)
    """The next answers (status, body), instead of ``200 ok``."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/{SECRET}"


def _handler(webhook: Webhook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            body = json.loads(self.rfile.read(length))
            webhook.received.append(Received(self.path, self.headers["Content-Type"], body))
            status, text = webhook.answers.pop(0) if webhook.answers else (200, "ok")
            content = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet (it would print the secret path on stderr)."""

    return Handler


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    hook = Webhook(port)
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(hook))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield hook
    server.shutdown()
    server.server_close()
    thread.join()


def slack_settings(url: str, **overrides: object) -> SlackAlertSettings:
    return SlackAlertSettings.model_validate(
        {"webhook_url": url, "timeout_seconds": 5.0, **overrides}
    )


async def test_the_alert_is_posted_as_slack_json(
    webhook: Webhook, alert: ReconciliationAlert
) -> None:
    alerter = SlackWebhookAlerter(slack_settings(webhook.url))
    await alerter.alert(alert)
    await alerter.aclose()

    [request] = webhook.received
    assert request.path == f"/services/{SECRET}"
    assert request.content_type == "application/json"
    assert set(request.body) == {"text", "blocks"}
    assert request.body["text"] == (
        ":warning: 3 new reconciliation discrepancies for adyen (2026-11-23)\n"
        "Run `rr_01` · Provider `adyen` · Client `dev` · "
        "File `settlement_detail_report_batch_42.csv` · Period `2026-11-23`\n"
        "• `amount_mismatch`: 2\n"
        "• `missing_in_ledger`: 1\n"
        "Examples:\n"
        "• amount_mismatch: reference 8835511210681234, paymux pe_7, line 12, "
        "expected 42.50 EUR, actual 42.00 EUR, difference -0.50 EUR (dc_1)\n"
        "• missing_in_ledger: reference 8835511210689999, line 14, actual 1500 JPY (dc_2)\n"
        "…and 1 more."
    )
    header, counts, examples, context = request.body["blocks"]
    assert header == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "3 new reconciliation discrepancies for adyen (2026-11-23)",
        },
    }
    assert counts == {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": (
                "*New discrepancies by class*\n• `amount_mismatch`: 2\n• `missing_in_ledger`: 1"
            ),
        },
    }
    assert examples["text"]["text"].startswith("*Examples*\n• amount_mismatch: reference 883")
    assert examples["text"]["text"].endswith("\n…and 1 more.")
    assert context["type"] == "context"
    assert context["elements"][0]["text"].startswith("Run `rr_01` · Provider `adyen`")


async def test_text_only_with_channel_and_username_for_mattermost_or_rocket_chat(
    webhook: Webhook, alert: ReconciliationAlert
) -> None:
    settings = slack_settings(webhook.url, blocks=False, channel="#ops", username="paymux")
    alerter = SlackWebhookAlerter(settings)
    await alerter.alert(alert)
    await alerter.aclose()
    [request] = webhook.received
    assert set(request.body) == {"text", "channel", "username"}
    assert (request.body["channel"], request.body["username"]) == ("#ops", "paymux")


async def test_values_are_escaped_for_slack(webhook: Webhook, alert: ReconciliationAlert) -> None:
    hostile = replace(alert, provider="<!channel> & co", file_name="a`b")
    alerter = SlackWebhookAlerter(slack_settings(webhook.url))
    await alerter.alert(hostile)
    await alerter.aclose()
    text = webhook.received[0].body["text"]
    assert "<!channel>" not in text
    assert "for &lt;!channel&gt; &amp; co (2026-11-23)" in text
    assert "File `a'b`" in text


async def test_a_non_2xx_answer_raises_and_the_url_appears_nowhere(
    webhook: Webhook, alert: ReconciliationAlert, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    webhook.answers.append((404, "no_service"))
    alerter = SlackWebhookAlerter(slack_settings(webhook.url))
    with pytest.raises(WebhookDeliveryError) as raised:
        await alerter.alert(alert)
    await alerter.aclose()

    assert len(webhook.received) == 1
    assert str(raised.value) == (
        f"the webhook at http://127.0.0.1:{webhook.port}/… answered 404 Not Found: no_service"
    )
    shown = "".join(traceback.format_exception(raised.value)) + repr(alerter)
    assert "xK9s3cret" not in shown
    assert any("HTTP Request: POST" in record.getMessage() for record in caplog.records)
    assert "xK9s3cret" not in caplog.text
    assert all("xK9s3cret" not in record.getMessage() for record in caplog.records)


async def test_a_successful_post_does_not_log_the_url_either(
    webhook: Webhook, alert: ReconciliationAlert, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alerter = SlackWebhookAlerter(slack_settings(webhook.url))
    await alerter.alert(alert)
    await alerter.aclose()
    [line] = [r.getMessage() for r in caplog.records if "HTTP Request" in r.getMessage()]
    assert line == f'HTTP Request: POST http://127.0.0.1:{webhook.port}/… "HTTP/1.0 200 OK"'


async def test_a_server_error_raises_so_the_job_retries_and_then_delivers(
    webhook: Webhook, alert: ReconciliationAlert
) -> None:
    webhook.answers.append((503, ""))
    alerter = SlackWebhookAlerter(slack_settings(webhook.url))
    with pytest.raises(WebhookDeliveryError, match=r"answered 503 Service Unavailable$"):
        await alerter.alert(alert)
    await alerter.alert(alert)
    await alerter.aclose()
    assert len(webhook.received) == 2


async def test_no_server_raises_without_the_url(
    alert: ReconciliationAlert, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    alerter = SlackWebhookAlerter(slack_settings(f"http://127.0.0.1:{port}/services/{SECRET}"))
    with pytest.raises(WebhookDeliveryError, match="could not be reached: ConnectError") as raised:
        await alerter.alert(alert)
    await alerter.aclose()
    assert "xK9s3cret" not in "".join(traceback.format_exception(raised.value))
    assert "xK9s3cret" not in caplog.text
