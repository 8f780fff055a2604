"""The SMTP notifier against a real local SMTP server (aiosmtpd), run by notify_buyer jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.message import EmailMessage

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import ValidationError

from paymux.core.domain.jobs import JobState
from paymux.core.domain.status import PaymentStatus
from paymux.core.notifications import REDACTED_EMAIL, OrderLine, PaymentSucceededNotification
from paymux.core.plugins import collect_notifiers, create_plugin_manager
from paymux.core.settings import Settings
from paymux.core.storage.database import Database
from paymux.currencies import Money
from paymux_notify_support import BUYER_EMAIL, NotifySetup, checkout, notify_setup
from paymux_smtp.message import build_message, resolve_locale
from paymux_smtp.notifier import SmtpNotifier
from paymux_smtp.plugin import paymux_add_notifiers
from paymux_smtp.settings import SmtpSettings
from paymux_smtp_server import LocalSmtp

SENDER = "Demo Shop <orders@shop.example>"


def smtp_settings(port: int, **overrides: object) -> SmtpSettings:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "sender": SENDER,
        "starttls": False,
        "timeout_seconds": 5.0,
        **overrides,
    }
    return SmtpSettings.model_validate(values)


@pytest.fixture
async def database(sqlite_url: str) -> AsyncIterator[Database]:
    database = Database(sqlite_url)
    yield database
    await database.dispose()


def setup_for(database: Database, server: LocalSmtp, **overrides: object) -> NotifySetup:
    return notify_setup(database, [SmtpNotifier(smtp_settings(server.port, **overrides))])


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    return (
        str(text.get_content()).replace("\r\n", "\n"),
        str(html.get_content()).replace("\r\n", "\n"),
    )


async def test_the_buyer_gets_an_email_with_the_amount_and_each_orders_delivery(
    database: Database, smtp_server: LocalSmtp
) -> None:
    setup = setup_for(database, smtp_server)
    payment_id = await setup.succeeded_payment()
    await setup.run_due()

    [message] = smtp_server.inbox.messages
    assert message["To"] == BUYER_EMAIL
    assert message["From"] == SENDER
    assert message["Subject"] == "Your payment of €42.50 succeeded"
    assert message["Message-ID"] == f"<payment-succeeded.{payment_id}@shop.example>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert smtp_server.inbox.envelopes == [("orders@shop.example", [BUYER_EMAIL])]
    text, html = parts(message)
    assert "your payment of €42.50 succeeded." in text
    assert (
        "- order order-1 from seller-a: €30.00, estimated delivery Dec 1\u2009–\u20093, 2026\n"
        in (text)
    )
    assert "- order order-2 from seller-b: €12.50, estimated delivery Nov 28, 2026\n" in text
    assert f"Follow your payment: https://paymux.example/checkout/{payment_id}" in text
    assert f"Payment reference: {payment_id}" in text
    assert "<td>order-1</td><td>seller-a</td>" in html
    assert "<strong>€42.50</strong>" in html
    assert (await setup.notify_job(payment_id)).state is JobState.DONE


async def test_amounts_and_dates_follow_the_buyers_locale(
    database: Database, smtp_server: LocalSmtp
) -> None:
    setup = setup_for(database, smtp_server)
    await setup.succeeded_payment(checkout(buyer_locale="de-DE"))
    await setup.run_due()

    [message] = smtp_server.inbox.messages
    assert message["Subject"] == "Your payment of 42,50\xa0€ succeeded"
    text, _ = parts(message)
    assert "order-1 from seller-a: 30,00\xa0€, estimated delivery 1.–3. Dez. 2026" in text
    assert "order-2 from seller-b: 12,50\xa0€, estimated delivery 28.11.2026" in text


async def test_an_unknown_locale_falls_back_to_the_configured_one(
    database: Database, smtp_server: LocalSmtp
) -> None:
    setup = setup_for(database, smtp_server, locale="fr_FR")
    await setup.succeeded_payment(checkout(buyer_locale="xx-YY"))
    await setup.run_due()
    [message] = smtp_server.inbox.messages
    assert message["Subject"] == "Your payment of 42,50\xa0€ succeeded"


async def test_with_the_server_down_the_job_is_retried_and_the_email_sent_once(
    database: Database, local_smtp: LocalSmtp
) -> None:
    setup = setup_for(database, local_smtp)  # nothing listens yet
    payment_id = await setup.succeeded_payment()
    await setup.run_due()

    job = await setup.notify_job(payment_id)
    assert job.state is JobState.QUEUED
    assert job.attempts == 1
    assert job.last_error is not None
    assert job.last_error.startswith("smtp: SMTPConnectError")
    assert job.payload["delivered"] == []
    assert (await setup.payment(payment_id)).status is PaymentStatus.SUCCEEDED

    local_smtp.start()
    assert await setup.run_due() == 0  # not due before its back-off
    setup.advance(60)
    assert await setup.run_due() == 1
    setup.advance(3600)
    assert await setup.run_due() == 0
    assert len(local_smtp.inbox.messages) == 1
    assert (await setup.notify_job(payment_id)).state is JobState.DONE


async def test_a_temporary_4xx_answer_is_retried(
    database: Database, smtp_server: LocalSmtp
) -> None:
    smtp_server.inbox.rcpt_answers.append("451 4.7.1 Greylisted, try again later")
    setup = setup_for(database, smtp_server)
    payment_id = await setup.succeeded_payment()
    await setup.run_due()
    job = await setup.notify_job(payment_id)
    assert job.state is JobState.QUEUED
    assert job.last_error is not None
    assert "451" in job.last_error
    assert BUYER_EMAIL.lower() not in job.last_error.lower()

    setup.advance(60)
    await setup.run_due()
    assert len(smtp_server.inbox.messages) == 1
    assert (await setup.notify_job(payment_id)).state is JobState.DONE


async def test_a_permanent_5xx_rejection_dead_letters_the_job_and_the_payment_stands(
    database: Database, smtp_server: LocalSmtp
) -> None:
    smtp_server.inbox.rcpt_answers.append(f"550 5.1.1 <{BUYER_EMAIL}>: Recipient unknown")
    setup = setup_for(database, smtp_server)
    payment_id = await setup.succeeded_payment()
    await setup.run_due()

    job = await setup.notify_job(payment_id)
    assert job.state is JobState.DEAD
    assert job.attempts == 0
    assert job.last_error == (
        "rejected for good: smtp: NotificationRejectedError: the SMTP server refused the "
        f"recipient: 550 5.1.1 <{REDACTED_EMAIL}>: Recipient unknown"
    )
    assert smtp_server.inbox.messages == []
    assert (await setup.payment(payment_id)).status is PaymentStatus.SUCCEEDED


class _Accounts:
    """An aiosmtpd authenticator knowing one account; records the logins it saw."""

    def __init__(self) -> None:
        self.logins: list[tuple[bytes, bool]] = []

    def __call__(
        self, server: object, session: object, envelope: object, mechanism: str, data: object
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        success = (data.login, data.password) == (b"shop", b"s3cret")
        self.logins.append((data.login, success))
        return AuthResult(success=success, handled=False)


async def test_the_notifier_logs_in_with_its_credentials(
    database: Database, local_smtp: LocalSmtp
) -> None:
    accounts = _Accounts()
    local_smtp.options.update(authenticator=accounts, auth_require_tls=False)
    local_smtp.start()
    setup = setup_for(database, local_smtp, username="shop", password="s3cret")
    await setup.succeeded_payment()
    await setup.run_due()
    assert accounts.logins == [(b"shop", True)]
    assert len(local_smtp.inbox.messages) == 1


async def test_wrong_credentials_are_a_permanent_rejection(
    database: Database, local_smtp: LocalSmtp
) -> None:
    accounts = _Accounts()
    local_smtp.options.update(authenticator=accounts, auth_require_tls=False)
    local_smtp.start()
    setup = setup_for(database, local_smtp, username="shop", password="wrong")
    payment_id = await setup.succeeded_payment()
    await setup.run_due()
    job = await setup.notify_job(payment_id)
    assert job.state is JobState.DEAD
    assert job.last_error is not None
    assert "535" in job.last_error
    assert "wrong" not in job.last_error
    assert accounts.logins  # each mechanism the server offers was tried
    assert set(accounts.logins) == {(b"shop", False)}
    assert local_smtp.inbox.messages == []


def test_the_plugin_offers_the_notifier_only_when_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HOST", "PORT", "FROM", "USERNAME", "PASSWORD", "STARTTLS", "TLS"):
        monkeypatch.delenv(f"PAYMUX_SMTP_{name}", raising=False)
    assert paymux_add_notifiers(Settings()) == []

    monkeypatch.setenv("PAYMUX_SMTP_HOST", "smtp.shop.example")
    with pytest.raises(ValidationError, match="PAYMUX_SMTP_FROM is required"):
        paymux_add_notifiers(Settings())
    monkeypatch.setenv("PAYMUX_SMTP_FROM", "Shop <orders@shop.example>")
    [notifier] = collect_notifiers(create_plugin_manager(), Settings())  # the entry point
    assert isinstance(notifier, SmtpNotifier)
    settings = SmtpSettings()
    assert (settings.effective_port, settings.starttls, settings.envelope_sender) == (
        587,
        True,
        "orders@shop.example",
    )
    monkeypatch.setenv("PAYMUX_SMTP_FROM", "not an address")
    with pytest.raises(ValidationError, match="must be an address"):
        SmtpSettings()


def test_the_html_part_escapes_what_the_shop_sent() -> None:
    notification = PaymentSucceededNotification(
        payment_id="pay_1",
        buyer_id="b1",
        buyer_email=BUYER_EMAIL,
        locale=None,
        amount=Money(100, "EUR"),
        orders=(OrderLine("<script>", 'a&b"c', Money(100, "EUR"), None),),
        status_page_url='https://paymux.example/checkout/pay_1?sig=1&x="',
    )
    html = build_message(notification, sender=SENDER, locale="en_US").get_body(("html",))
    assert html is not None
    content = str(html.get_content())
    assert "<script>" not in content
    assert "<td>a&amp;b&quot;c</td><td>&lt;script&gt;</td>" in content
    assert 'href="https://paymux.example/checkout/pay_1?sig=1&amp;x=&quot;"' in content


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("de-DE", "de_DE"),
        ("de-CH-1901-x-old", "de_CH"),  # private-use subtags Babel refuses: shortened
        ("pt-BR-x-private", "pt_BR"),
        ("ja", "ja"),
        ("xx-YY", "fr_FR"),
        ("", "fr_FR"),
        (None, "fr_FR"),
        ("-DE", "fr_FR"),
    ],
)
def test_resolve_locale_shortens_unknown_tags(tag: str | None, expected: str) -> None:
    assert resolve_locale(tag, "fr_FR") == expected
