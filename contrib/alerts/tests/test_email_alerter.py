"""The e-mail alerter against a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib
import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from paymux.core.reconciliation.alerts import ReconciliationAlert
from paymux_alerts.email_alerter import EmailAlerter
from paymux_alerts.settings import EmailAlertSettings
from paymux_smtp_server import LocalSmtp

SENDER = "paymux <paymux@ops.example>"


def email_settings(port: int, **overrides: object) -> EmailAlertSettings:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "from": SENDER,
        "to": "Ops <ops@shop.example>, finance@shop.example",
        "starttls": False,
        "timeout_seconds": 5.0,
        **overrides,
    }
    return EmailAlertSettings.model_validate(values)


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    return (
        str(text.get_content()).replace("\r\n", "\n"),
        str(html.get_content()).replace("\r\n", "\n"),
    )


async def test_the_operators_get_one_email_with_counts_and_examples(
    smtp_server: LocalSmtp, alert: ReconciliationAlert
) -> None:
    alerter = EmailAlerter(email_settings(smtp_server.port))
    await alerter.alert(alert)
    await alerter.aclose()

    [message] = smtp_server.inbox.messages
    assert message["Subject"] == (
        "[paymux] 3 new reconciliation discrepancies for adyen (2026-11-23)"
    )
    assert message["From"] == SENDER
    assert message["To"] == "Ops <ops@shop.example>, finance@shop.example"
    assert message["Message-ID"] == "<reconciliation-alert.rr_01@ops.example>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert smtp_server.inbox.envelopes == [
        ("paymux@ops.example", ["ops@shop.example", "finance@shop.example"])
    ]
    text, html = parts(message)
    assert "Run: rr_01\n" in text
    assert "  amount_mismatch: 2\n  missing_in_ledger: 1\n" in text
    assert (
        "- amount_mismatch: reference 8835511210681234, paymux pe_7, line 12, "
        "expected 42.50 EUR, actual 42.00 EUR, difference -0.50 EUR (dc_1)\n"
    ) in text
    assert "- missing_in_ledger: reference 8835511210689999, line 14, actual 1500 JPY" in text
    assert "…and 1 more.\n" in text
    assert "<td>42.50 EUR</td><td>42.00 EUR</td><td>-0.50 EUR</td>" in html
    assert "<tr><th>Run</th><td>rr_01</td></tr>" in html


async def test_the_alerter_logs_in_with_its_credentials(
    local_smtp: LocalSmtp, alert: ReconciliationAlert
) -> None:
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(
        server: object, session: object, envelope: object, mechanism: str, data: object
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"s3cret", handled=False)

    local_smtp.options.update(authenticator=authenticator, auth_require_tls=False)
    local_smtp.start()
    alerter = EmailAlerter(email_settings(local_smtp.port, username="ops", password="s3cret"))
    await alerter.alert(alert)
    assert logins == [(b"ops", b"s3cret")]
    assert len(local_smtp.inbox.messages) == 1


async def test_a_server_that_is_down_raises_so_the_job_retries(
    local_smtp: LocalSmtp, alert: ReconciliationAlert
) -> None:
    alerter = EmailAlerter(email_settings(local_smtp.port))  # nothing listens yet
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await alerter.alert(alert)
    local_smtp.start()
    await alerter.alert(alert)
    assert len(local_smtp.inbox.messages) == 1


async def test_a_refused_recipient_raises(
    smtp_server: LocalSmtp, alert: ReconciliationAlert
) -> None:
    smtp_server.inbox.rcpt_answers += ["550 5.1.1 unknown", "550 5.1.1 unknown"]
    alerter = EmailAlerter(email_settings(smtp_server.port))
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await alerter.alert(alert)
    assert smtp_server.inbox.messages == []


def test_starttls_is_required_by_default_on_port_587() -> None:
    settings = EmailAlertSettings.model_validate(
        {"host": "smtp.ops.example", "from": SENDER, "to": ["ops@shop.example"]}
    )
    assert (settings.effective_port, settings.starttls, settings.tls) == (587, True, False)
    assert settings.model_copy(update={"tls": True}).effective_port == 465
