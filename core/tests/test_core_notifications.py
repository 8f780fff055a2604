"""Buyer notifications: the notify_buyer job sends through every notifier, retries the ones
that failed (only those), dead-letters permanent rejections, and keeps the e-mail private."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import date

import pytest
import sqlalchemy as sa

from paymux.core.domain.delivery import DeliveryEstimate
from paymux.core.domain.jobs import JobState
from paymux.core.domain.status import PaymentStatus
from paymux.core.hookspecs import hookimpl
from paymux.core.jobs.retry import RetryPolicy
from paymux.core.notifications import (
    REDACTED_EMAIL,
    BuyerNotifier,
    NotificationRejectedError,
    PaymentSucceededNotification,
)
from paymux.core.plugins import PluginError, collect_notifiers, create_plugin_manager
from paymux.core.settings import Settings
from paymux.core.storage.database import Database
from paymux.core.storage.job_repository import JobQueue
from paymux.core.storage.tables import OutboxEventRow, table_of
from paymux.currencies import Money
from paymux_fakes import FakeNotifier
from paymux_notify_support import BUYER_EMAIL, START, NotifySetup, checkout, notify_setup


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


def build(database: Database, *notifiers: BuyerNotifier, attempts: int = 5) -> NotifySetup:
    return notify_setup(
        database, notifiers, policy=RetryPolicy(attempts, base_seconds=10, cap_seconds=60)
    )


async def test_the_notification_carries_the_payment_its_orders_and_their_delivery(
    database: Database,
) -> None:
    mail = FakeNotifier("mail")
    setup = build(database, mail)
    payment_id = await setup.succeeded_payment(checkout(buyer_locale="de-DE"))
    await setup.run_due()

    [sent] = mail.sent
    assert sent.payment_id == payment_id
    assert sent.buyer_id == "b1"
    assert sent.buyer_email == BUYER_EMAIL
    assert sent.locale == "de-DE"
    assert sent.amount == Money(4250, "EUR")
    assert [(o.seller_id, o.reference, o.amount) for o in sent.orders] == [
        ("seller-a", "order-1", Money(3000, "EUR")),
        ("seller-b", "order-2", Money(1250, "EUR")),
    ]
    assert [o.estimated_delivery for o in sent.orders] == [
        DeliveryEstimate(date(2026, 12, 1), date(2026, 12, 3)),
        DeliveryEstimate(date(2026, 11, 28), date(2026, 11, 28)),
    ]
    assert sent.status_page_url == f"https://paymux.example/checkout/{payment_id}"
    assert BUYER_EMAIL not in repr(sent)
    assert (await setup.notify_job(payment_id)).state is JobState.DONE


async def test_a_notifier_that_delivered_is_not_asked_again_when_another_is_retried(
    database: Database,
) -> None:
    mail, sms = FakeNotifier("mail"), FakeNotifier("sms")
    sms.fail_with.append(ConnectionRefusedError("sms gateway down"))
    setup = build(database, mail, sms)
    payment_id = await setup.succeeded_payment()

    await setup.run_due()
    job = await setup.notify_job(payment_id)
    assert job.state is JobState.QUEUED
    assert job.attempts == 1
    assert job.payload["delivered"] == ["mail"]
    assert job.last_error == "sms: ConnectionRefusedError: sms gateway down"
    assert (await setup.payment(payment_id)).status is PaymentStatus.SUCCEEDED

    setup.advance(60)
    await setup.run_due()
    assert (await setup.notify_job(payment_id)).state is JobState.DONE
    assert (mail.calls, len(mail.sent)) == (1, 1)
    assert (sms.calls, len(sms.sent)) == (2, 1)


async def test_a_permanent_rejection_dead_letters_the_job_and_a_replay_sends_only_the_rest(
    database: Database,
) -> None:
    mail, crm = FakeNotifier("mail"), FakeNotifier("crm")
    mail.fail_with.append(
        NotificationRejectedError(f"550 5.1.1 <{BUYER_EMAIL.lower()}>: no such user")
    )
    setup = build(database, mail, crm)
    payment_id = await setup.succeeded_payment()

    await setup.run_due()
    job = await setup.notify_job(payment_id)
    assert job.state is JobState.DEAD
    assert job.attempts == 0  # not retried: dead at once
    assert job.last_error == (
        f"rejected for good: mail: NotificationRejectedError: 550 5.1.1 <{REDACTED_EMAIL}>: "
        "no such user"
    )
    assert job.payload["delivered"] == ["crm"]
    assert (await setup.payment(payment_id)).status is PaymentStatus.SUCCEEDED

    assert await JobQueue(database).replay(job.id, now=setup.now[0])
    await setup.run_due()
    assert (await setup.notify_job(payment_id)).state is JobState.DONE
    assert (mail.calls, len(mail.sent)) == (2, 1)
    assert (crm.calls, len(crm.sent)) == (1, 1)


async def test_a_rejection_waits_for_the_temporary_failures_to_be_retried(
    database: Database,
) -> None:
    mail, sms = FakeNotifier("mail"), FakeNotifier("sms")
    mail.fail_with.append(NotificationRejectedError("554 relay denied"))
    mail.fail_with.append(NotificationRejectedError("554 relay denied"))
    sms.fail_with.append(TimeoutError("slow"))
    setup = build(database, mail, sms)
    payment_id = await setup.succeeded_payment()

    await setup.run_due()
    assert (await setup.notify_job(payment_id)).state is JobState.QUEUED
    setup.advance(60)
    await setup.run_due()
    job = await setup.notify_job(payment_id)
    assert job.state is JobState.DEAD
    assert job.payload["delivered"] == ["sms"]
    assert len(sms.sent) == 1
    assert mail.sent == []


async def test_the_last_failed_attempt_dead_letters_the_job_with_what_was_delivered(
    database: Database,
) -> None:
    mail, sms = FakeNotifier("mail"), FakeNotifier("sms")
    sms.fail_with.extend(OSError("down") for _ in range(3))
    setup = build(database, mail, sms, attempts=2)
    payment_id = await setup.succeeded_payment()

    for _ in range(3):
        await setup.run_due()
        setup.advance(60)
    job = await setup.notify_job(payment_id)
    assert job.state is JobState.DEAD
    assert job.attempts == 2
    assert job.last_error == "sms: OSError: down (attempt 2 of 2)"
    assert job.payload["delivered"] == ["mail"]
    assert (mail.calls, sms.calls) == (1, 2)


async def test_without_a_buyer_email_nothing_is_sent(database: Database) -> None:
    mail = FakeNotifier("mail")
    setup = build(database, mail)
    payment_id = await setup.succeeded_payment(checkout(buyer_email=None))
    await setup.run_due()
    assert mail.calls == 0
    assert (await setup.notify_job(payment_id)).state is JobState.DONE


async def test_without_a_notifier_the_job_is_done_with_a_log_line(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    setup = build(database)
    payment_id = await setup.succeeded_payment()
    with caplog.at_level(logging.INFO, logger="paymux.core.jobs.notify_buyer"):
        await setup.run_due()
    assert (await setup.notify_job(payment_id)).state is JobState.DONE
    assert f"payment {payment_id} succeeded; no buyer notifier is installed" in caplog.messages


async def test_the_buyer_email_stays_out_of_logs_job_errors_and_events(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    mail = FakeNotifier("mail")
    mail.fail_with.append(RuntimeError(f"mailbox {BUYER_EMAIL} is full"))
    setup = build(database, mail)
    with caplog.at_level(logging.DEBUG):
        payment_id = await setup.succeeded_payment()
        await setup.run_due()
        job = await setup.notify_job(payment_id)
        assert job.last_error == f"mail: RuntimeError: mailbox {REDACTED_EMAIL} is full"
        setup.advance(60)
        await setup.run_due()
    assert len(mail.sent) == 1
    # paymux's own loggers (a database driver's DEBUG lines show SQL parameters: keep them off)
    ours = [r for r in caplog.records if r.name.startswith("paymux")]
    assert [r for r in ours if "did not notify the buyer" in r.getMessage()]
    assert not [r for r in ours if BUYER_EMAIL.lower() in r.getMessage().lower()]
    async with database.transaction() as session:
        payloads = (await session.scalars(sa.select(table_of(OutboxEventRow).c.payload))).all()
    assert payloads
    assert not [p for p in payloads if "example.com" in p.lower()]
    assert all("buyer_email" not in json.loads(p) for p in payloads)


async def test_a_payment_keeps_its_buyer_contact_and_delivery_estimates(
    database: Database,
) -> None:
    setup = build(database)
    payment_id = await setup.succeeded_payment(checkout(buyer_locale="pt_BR"))
    payment = await setup.payment(payment_id)
    assert (payment.buyer_email, payment.buyer_locale) == (BUYER_EMAIL, "pt_BR")
    assert [str(o.estimated_delivery) for o in payment.orders] == [
        "2026-12-01/2026-12-03",
        "2026-11-28",
    ]
    assert BUYER_EMAIL not in repr(payment)
    plain = await setup.succeeded_payment(checkout(buyer_email=None), key="k2")
    stored = await setup.payment(plain)
    assert stored.buyer_email is None
    assert stored.created_at == START


class _NotifierPlugin:
    def __init__(self, *notifiers: BuyerNotifier) -> None:
        self.notifiers = notifiers
        self.settings: list[Settings] = []

    @hookimpl
    def paymux_add_notifiers(self, settings: Settings) -> Sequence[BuyerNotifier]:
        self.settings.append(settings)
        return self.notifiers


def test_plugins_offer_notifiers_through_the_hook() -> None:
    settings = Settings()
    first, second = _NotifierPlugin(FakeNotifier("mail")), _NotifierPlugin(FakeNotifier("sms"))
    manager = create_plugin_manager(autoload=False, plugins=[first, second])
    assert sorted(n.name for n in collect_notifiers(manager, settings)) == ["mail", "sms"]
    assert first.settings == [settings]
    twice = create_plugin_manager(
        autoload=False, plugins=[first, _NotifierPlugin(FakeNotifier("mail"))]
    )
    with pytest.raises(PluginError, match="two plugins offer a buyer notifier named 'mail'"):
        collect_notifiers(twice, settings)


async def test_only_succeeded_orders_are_confirmed_and_only_to_a_buyer_with_an_email(
    database: Database,
) -> None:
    setup = build(database)
    payment = await setup.payment(await setup.succeeded_payment())
    first, second = payment.orders
    partly = replace(payment, orders=(replace(first, status=PaymentStatus.FAILED), second))
    notification = PaymentSucceededNotification.of(partly)
    assert notification is not None
    assert [o.reference for o in notification.orders] == ["order-2"]
    assert notification.amount == Money(1250, "EUR")
    assert notification.status_page_url is None
    failed = tuple(replace(o, status=PaymentStatus.FAILED) for o in payment.orders)
    assert PaymentSucceededNotification.of(replace(payment, orders=failed)) is None
    assert PaymentSucceededNotification.of(replace(payment, buyer_email=None)) is None
    assert isinstance(FakeNotifier(), BuyerNotifier)
