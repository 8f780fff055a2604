"""A real SMTP server (aiosmtpd) in a thread, for the SMTP notifier's tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Inbox:
    """An aiosmtpd handler keeping every message; answers can be scripted."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str | None, list[str]]] = field(default_factory=list)
    rcpt_answers: list[str] = field(default_factory=list)
    """Answers to the next RCPT commands (``550 ...``), instead of accepting."""

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.rcpt_answers:
            return self.rcpt_answers.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = cast(bytes, envelope.original_content)
        self.messages.append(message_from_bytes(content, policy=policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


@dataclass
class LocalSmtp:
    """An SMTP server on ``127.0.0.1:port``, started and stopped by the test."""

    port: int
    inbox: Inbox = field(default_factory=Inbox)
    options: dict[str, Any] = field(default_factory=dict)
    _controller: Controller | None = None

    def start(self) -> None:
        """Listen (the port was free, nobody answered on it before)."""
        assert self._controller is None
        self._controller = Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, **self.options
        )
        self._controller.start()

    def stop(self) -> None:
        """Stop listening."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
