"""Request ids: every request gets one, answered in ``X-Request-ID`` and put in its logs.

asgi-correlation-id's middleware does the work: it takes the caller's ``X-Request-ID`` when it
is sane (:func:`is_sane_request_id`), makes a new one otherwise, binds it for the logs
(:class:`paymux.app.logging_setup.LogContextFilter`) and answers it in the response header.
"""

from __future__ import annotations

import re
from uuid import uuid4

from asgi_correlation_id import CorrelationIdMiddleware
from asgi_correlation_id.context import correlation_id
from starlette.applications import Starlette

from paymux.core.card_numbers import contains_card_number

HEADER = "X-Request-ID"

_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/=+-]{0,127}")


def is_sane_request_id(value: str) -> bool:
    """1 to 128 characters of letters, digits and ``._:/=+-``, and no card number in it (the
    id goes into every log line; a PAN there would be masked in logs but echoed back)."""
    return _SANE.fullmatch(value) is not None and not contains_card_number(value)


def new_request_id() -> str:
    """A fresh id: 32 hex digits."""
    return uuid4().hex


def current_request_id() -> str | None:
    """The id of the request being handled, if any."""
    return correlation_id.get()


def add_request_ids(app: Starlette) -> None:
    """Give every request to ``app`` an id. Add it last, so that it wraps every other
    middleware and their log records and answers carry the id too."""
    app.add_middleware(
        CorrelationIdMiddleware,
        header_name=HEADER,
        generator=new_request_id,
        validator=is_sane_request_id,
    )
