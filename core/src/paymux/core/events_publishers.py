"""The publisher port and the default log publisher.

A publisher delivers CloudEvents to a broker. Plugins offer theirs through the
``paymux_add_publishers`` hook; :class:`LogPublisher` writes one JSON line per event to the
``paymux.events`` logger and is used when no plugin offers one (see
:func:`choose_publishers`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

from paymux.core.events import CloudEvent

EVENTS_LOGGER = "paymux.events"
"""The logger :class:`LogPublisher` writes to."""

LogPublisherMode = Literal["auto", "always", "never"]


@runtime_checkable
class Publisher(Protocol):
    """Delivers events to one destination (a broker, a log ...).

    ``publish`` gets a batch in order; it returns once every event is durably accepted and
    raises if any was not (the relay then publishes the whole batch again later, so
    publishing must tolerate duplicates: consumers deduplicate on the event id). It is
    called outside any database transaction, never concurrently with itself.
    """

    @property
    def name(self) -> str:
        """A short name for logs (``log``, ``kafka`` ...)."""
        ...

    async def publish(self, events: Sequence[CloudEvent]) -> None:
        """Deliver ``events`` in their order, or raise."""
        ...

    async def aclose(self) -> None:
        """Release connections; called once when the relay stops."""
        ...


class LogPublisher:
    """Logs each event as one JSON line at INFO on the ``paymux.events`` logger."""

    name = "log"

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or logging.getLogger(EVENTS_LOGGER)

    async def publish(self, events: Sequence[CloudEvent]) -> None:
        """Log every event."""
        for event in events:
            self._log.info("%s", event.to_json())

    async def aclose(self) -> None:
        """Nothing to release."""


def choose_publishers(
    offered: Sequence[Publisher], *, log_publisher: LogPublisherMode = "auto"
) -> list[Publisher]:
    """The publishers the relay uses: the plugins' and, by ``log_publisher``, the log one.

    ``auto`` adds :class:`LogPublisher` only when no plugin offers a publisher; ``always``
    adds it beside them; ``never`` leaves it out (an error if nothing else is offered,
    since the relay would have nowhere to publish).
    """
    chosen = list(offered)
    if log_publisher == "always" or (log_publisher == "auto" and not chosen):
        chosen.append(LogPublisher())
    if not chosen:
        raise ValueError("no event publisher: install a publisher plugin or allow the log one")
    return chosen
