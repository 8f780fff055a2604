"""The JSON an incoming webhook receives: ``{"text": ..., "blocks": [...]}``.

``text`` carries the whole message in Markdown that Slack, Mattermost and Rocket.Chat all
render (bullets, ``code``), so servers that ignore ``blocks`` show everything; Slack shows
``blocks`` (Block Kit: a header, the counts, the examples, the run's facts) and uses
``text`` for notifications. Values are escaped as Slack asks (``&``, ``<``, ``>``) and kept
within Block Kit's limits.
"""

from __future__ import annotations

from typing import Any

from paymux.core.reconciliation.alerts import ReconciliationAlert
from paymux_alerts.message import details, example_text, headline, kind_counts, more_text
from paymux_alerts.settings import SlackAlertSettings

HEADER_LIMIT = 150
"""Block Kit: at most 150 characters in a header block's text."""
SECTION_LIMIT = 3000
"""Block Kit: at most 3000 characters in a section block's text."""
SLACK_EXAMPLES = 10
"""Examples shown in chat (the e-mail shows all that came with the alert)."""


def build_payload(alert: ReconciliationAlert, settings: SlackAlertSettings) -> dict[str, Any]:
    """The webhook's JSON body for ``alert``."""
    payload: dict[str, Any] = {"text": text(alert)}
    if settings.blocks:
        payload["blocks"] = blocks(alert)
    if settings.channel is not None:
        payload["channel"] = settings.channel
    if settings.username is not None:
        payload["username"] = settings.username
    return payload


def text(alert: ReconciliationAlert) -> str:
    """The whole message as Markdown text (what servers without Block Kit show)."""
    lines = [
        f":warning: {escape(headline(alert))}",
        _facts_line(alert),
        *_count_lines(alert),
    ]
    examples = _example_lines(alert)
    if examples:
        lines += ["Examples:", *examples]
    return "\n".join(lines)


def blocks(alert: ReconciliationAlert) -> list[dict[str, Any]]:
    """Slack Block Kit blocks: header, counts, examples, the run's facts."""
    result: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(headline(alert), HEADER_LIMIT)},
        },
        _section("*New discrepancies by class*\n" + "\n".join(_count_lines(alert))),
    ]
    examples = _example_lines(alert)
    if examples:
        result.append(_section("*Examples*\n" + "\n".join(examples)))
    result.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _facts_line(alert)}]})
    return result


def escape(value: str) -> str:
    """``value`` with ``&``, ``<`` and ``>`` escaped, as Slack's message text requires."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _facts_line(alert: ReconciliationAlert) -> str:
    return " · ".join(f"{label} {_code(value)}" for label, value in details(alert))


def _count_lines(alert: ReconciliationAlert) -> list[str]:
    return [f"• {_code(kind)}: {count}" for kind, count in kind_counts(alert)]


def _example_lines(alert: ReconciliationAlert) -> list[str]:
    shown = alert.examples[:SLACK_EXAMPLES]
    lines = [f"• {escape(example_text(example))}" for example in shown]
    more = more_text(alert, len(shown))
    if more is not None:
        lines.append(escape(more))
    return lines


def _section(markdown: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(markdown, SECTION_LIMIT)}}


def _code(value: str) -> str:
    """``value`` as inline code (a backtick inside would end it: it becomes a quote)."""
    return "`" + escape(value.replace("`", "'")) + "`"


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
