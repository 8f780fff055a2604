"""paymux's logging: JSON or text lines with the request or job id, card numbers redacted.

:func:`configure_logging` is called by ``paymux serve``, ``worker`` and ``relay`` (never at
import: an application embedding paymux keeps its own logging, and can install
:class:`CardNumberRedactionFilter` and :class:`LogContextFilter` on its handlers). See
``docs/security/logging.md``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from asgi_correlation_id.context import correlation_id
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from paymux.core.card_numbers import redact_card_numbers
from paymux.core.events_publishers import EVENTS_LOGGER
from paymux.core.log_context import current_job_id, current_job_kind
from paymux.core.settings import Settings

_STANDARD_ATTRIBUTES = frozenset(RESERVED_ATTRS) | {"message", "asctime", "taskName"}
_CONTEXT_FIELDS = ("request_id", "job_id", "job_kind")
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
_MARK = "_paymux_handler"


def _redact_value(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact_card_numbers(value)
    if depth > 20:
        return value
    if isinstance(value, Mapping):
        return {
            _redact_value(key, depth + 1): _redact_value(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(item, depth + 1) for item in value]
    if isinstance(value, bytes | bytearray):
        return redact_card_numbers(value.decode("utf-8", "replace"))
    return value


UNREDACTED_LOGGERS = frozenset({EVENTS_LOGGER})
"""Loggers whose records are data, not diagnostics: the log publisher's events are written as
they are in the outbox (already free of card data: requests carrying it are refused), so that
their random ids, whose digits pass the Luhn check now and then, reach consumers intact."""


class CardNumberRedactionFilter(logging.Filter):
    """Masks card numbers in a record before any handler formats it.

    The message is rendered (``msg % args``) and redacted, the traceback and stack are
    formatted and redacted, and every extra field holding text is redacted. The record is
    changed in place, so handlers after this one see the redacted record too.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record; never drop it."""
        if record.name in UNREDACTED_LOGGERS:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the record
            message = f"{record.msg!s} {record.args!r}"
        record.msg = redact_card_numbers(message)
        record.args = None
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = self._formatter.formatException(record.exc_info)
            record.exc_info = None  # formatters would format the raw traceback again
        if record.exc_text:
            record.exc_text = redact_card_numbers(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_card_numbers(record.stack_info)
        for name, value in list(record.__dict__.items()):
            if name not in _STANDARD_ATTRIBUTES:
                record.__dict__[name] = _redact_value(value)
        return True


class LogContextFilter(logging.Filter):
    """Adds ``request_id`` (the request's ``X-Request-ID``), ``job_id`` and ``job_kind`` (the
    job a worker runs) to records logged while they are bound."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add the bound ids; never drop the record."""
        values = (correlation_id.get(), current_job_id.get(), current_job_kind.get())
        for name, value in zip(_CONTEXT_FIELDS, values, strict=True):
            if value is not None and not hasattr(record, name):
                setattr(record, name, value)
        return True


class RedactingJsonFormatter(JsonFormatter):
    """python-json-logger's formatter; the finished line is redacted once more."""

    def format(self, record: logging.LogRecord) -> str:
        """One JSON object, card numbers masked."""
        line = super().format(record)
        return line if record.name in UNREDACTED_LOGGERS else redact_card_numbers(line)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        """ISO 8601 in UTC, to the millisecond: ``2026-11-24T18:10:53.427+00:00``."""
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class RedactingTextFormatter(logging.Formatter):
    """``time level logger: message [request_id=... job_id=...]``, card numbers masked."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """One line (and a traceback if any), card numbers masked."""
        text = super().format(record)
        context = " ".join(
            f"{name}={getattr(record, name)}" for name in _CONTEXT_FIELDS if hasattr(record, name)
        )
        if context:
            first, newline, rest = text.partition("\n")
            text = f"{first} [{context}]{newline}{rest}"
        return text if record.name in UNREDACTED_LOGGERS else redact_card_numbers(text)


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def json_formatter() -> logging.Formatter:
    """The JSON formatter: ``time``, ``level``, ``logger``, ``message``, the ids and extras."""
    return RedactingJsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        reserved_attrs=[*RESERVED_ATTRS, "taskName"],
    )


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> logging.Handler:
    """Send every logger's records to ``stream`` (standard error) the way ``settings`` say.

    Replaces the handler an earlier call installed; handlers others put on the root logger
    stay and get the redaction filter too. uvicorn's loggers are routed to the root logger
    (run uvicorn with ``log_config=None``). Returns the new handler.
    """
    log_format = settings.log_format
    if log_format == "auto":
        log_format = "text" if (stream or sys.stderr).isatty() else "json"
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    setattr(handler, _MARK, True)
    handler.setFormatter(json_formatter() if log_format == "json" else RedactingTextFormatter())
    handler.addFilter(LogContextFilter())
    handler.addFilter(CardNumberRedactionFilter())

    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
        old.close()
    for other in root.handlers:
        if not any(isinstance(f, CardNumberRedactionFilter) for f in other.filters):
            other.addFilter(CardNumberRedactionFilter())
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in _UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
        uvicorn_logger.setLevel(logging.NOTSET)
    return handler
