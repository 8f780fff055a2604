"""The plugin offers exactly the alerters its environment switches on."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from paymux.core.plugins import create_plugin_manager
from paymux.core.reconciliation.alerts import ReconciliationAlerter
from paymux.core.settings import Settings
from paymux_alerts import plugin
from paymux_alerts.email_alerter import EmailAlerter
from paymux_alerts.log_alerter import LogAlerter
from paymux_alerts.plugin import paymux_add_reconciliation_alerters
from paymux_alerts.settings import AlertsSettings
from paymux_alerts.slack_alerter import SlackWebhookAlerter

WEBHOOK = "https://hooks.slack.example/services/T1/B2/pl4ginS3cret"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PAYMUX_ALERTS__"):
            monkeypatch.delenv(name)


def offered() -> list[ReconciliationAlerter]:
    return list(paymux_add_reconciliation_alerters(Settings()))


def test_by_default_only_the_log_alerter() -> None:
    [alerter] = offered()
    assert isinstance(alerter, LogAlerter)
    assert alerter.name == "log"


def test_the_log_alerter_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMUX_ALERTS__LOG", "false")
    assert offered() == []


def test_every_channel_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMUX_ALERTS__EMAIL__HOST", "smtp.ops.example")
    monkeypatch.setenv("PAYMUX_ALERTS__EMAIL__PORT", "2525")
    monkeypatch.setenv("PAYMUX_ALERTS__EMAIL__USERNAME", "ops")
    monkeypatch.setenv("PAYMUX_ALERTS__EMAIL__PASSWORD", "pw")
    monkeypatch.setenv("PAYMUX_ALERTS__EMAIL__STARTTLS", "false")
    monkeypatch.setenv("PAYMUX_ALERTS__EMAIL__FROM", "paymux <paymux@ops.example>")
    monkeypatch.setenv("PAYMUX_ALERTS__EMAIL__TO", "a@ops.example, b@ops.example")
    monkeypatch.setenv("PAYMUX_ALERTS__SLACK__WEBHOOK_URL", WEBHOOK)
    monkeypatch.setenv("PAYMUX_ALERTS__SLACK__CHANNEL", "#ops")
    email, slack, log = offered()
    assert (type(email), type(slack), type(log)) == (EmailAlerter, SlackWebhookAlerter, LogAlerter)
    assert [alerter.name for alerter in (email, slack, log)] == ["email", "slack", "log"]

    settings = AlertsSettings()
    assert settings.email.envelope_recipients == ["a@ops.example", "b@ops.example"]
    assert (settings.email.effective_port, settings.email.starttls) == (2525, False)
    assert settings.email.username == "ops"
    assert settings.slack.channel == "#ops"
    assert "pl4ginS3cret" not in repr(settings) + repr(slack)


def test_the_entry_point_offers_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMUX_ALERTS__SLACK__WEBHOOK_URL", WEBHOOK)
    manager = create_plugin_manager()
    assert manager.is_registered(plugin)  # found through the ``paymux`` entry point
    answers = manager.hook.paymux_add_reconciliation_alerters(settings=Settings())
    ours = [
        alerter
        for answer in answers
        for alerter in answer
        if type(alerter).__module__.startswith("paymux_alerts.")
    ]
    assert sorted(alerter.name for alerter in ours) == ["log", "slack"]


def test_recipients_as_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMUX_ALERTS__EMAIL__HOST", "smtp.ops.example")
    monkeypatch.setenv("PAYMUX_ALERTS__EMAIL__FROM", "paymux@ops.example")
    monkeypatch.setenv("PAYMUX_ALERTS__EMAIL__TO", '["Ops <ops@shop.example>"]')
    assert AlertsSettings().email.envelope_recipients == ["ops@shop.example"]


@pytest.mark.parametrize(
    ("environment", "problem"),
    [
        ({"HOST": "smtp.ops.example"}, "EMAIL__HOST needs PAYMUX_ALERTS__EMAIL__TO"),
        ({"TO": "ops@shop.example"}, "EMAIL__TO needs PAYMUX_ALERTS__EMAIL__HOST"),
        ({"HOST": "smtp.ops.example", "TO": "ops@shop.example"}, "EMAIL__FROM must be"),
        (
            {"HOST": "h", "FROM": "p@ops.example", "TO": "not an address"},
            "EMAIL__TO must list e-mail addresses",
        ),
        (
            {"HOST": "h", "FROM": "p@ops.example", "TO": "o@ops.example", "PASSWORD": "x"},
            "PASSWORD needs PAYMUX_ALERTS__EMAIL__USERNAME",
        ),
    ],
)
def test_a_half_configured_email_channel_is_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], problem: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(f"PAYMUX_ALERTS__EMAIL__{name}", value)
    with pytest.raises(ValidationError, match=problem):
        offered()


def test_a_bad_webhook_url_is_refused_without_repeating_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYMUX_ALERTS__SLACK__WEBHOOK_URL", "hooks.example/T1/B2/n0tAUrlS3cret")
    with pytest.raises(ValidationError, match="must be an http") as raised:
        offered()
    assert "n0tAUrlS3cret" not in str(raised.value)


def test_a_blank_webhook_url_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMUX_ALERTS__SLACK__WEBHOOK_URL", " ")
    monkeypatch.setenv("PAYMUX_ALERTS__LOG", "0")
    assert offered() == []
