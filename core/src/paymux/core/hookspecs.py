"""Hook specifications of paymux's core.

A plugin is a module or object with functions named like the hooks below and marked with
:data:`hookimpl`. First-party and third-party plugins alike are found through the ``paymux``
entry-point group, for example in a plugin's ``pyproject.toml``::

    [project.entry-points.paymux]
    myprovider = "paymux_myprovider.plugin"

Hooks are synchronous and cheap (pluggy has no async hooks): they register things and observe
events. Network work happens on the provider objects they return.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import pluggy

from paymux.core.domain.models import OrderStatusChange
from paymux.core.events_publishers import Publisher
from paymux.core.fx.rates import RateSource
from paymux.core.ledger.journal import JournalEntry
from paymux.core.ledger.rules import LedgerEvent
from paymux.core.notifications import BuyerNotifier
from paymux.core.providers import ProviderSpec
from paymux.core.reconciliation.alerts import ReconciliationAlerter
from paymux.core.reconciliation.parsers import SettlementParser
from paymux.core.settings import Settings

AsgiApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[MutableMapping[str, Any]]],
        Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]


@dataclass(frozen=True, slots=True)
class AsgiMount:
    """An ASGI application a plugin serves under ``path`` beside paymux's API."""

    path: str
    app: AsgiApp
    name: str
    aclose: Callable[[], Awaitable[None]] | None = None
    """Called once when the host application shuts down (mounted apps get no lifespan)."""


PROJECT_NAME = "paymux"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def paymux_add_providers() -> Sequence[ProviderSpec]:
    """Return the payment providers this plugin offers.

    Called once when paymux builds its provider registry (at application start-up, never at
    import). Return :class:`~paymux.core.providers.ProviderSpec` objects: a unique ``name``
    and a ``build`` factory. Do not build clients or open connections here; paymux calls
    ``build`` only for providers enabled in the settings, with their configuration.

    Two plugins offering the same name are an error reported at start-up.
    """
    raise NotImplementedError


@hookspec
def paymux_order_status_changed(change: OrderStatusChange) -> None:
    """Observe a payment order's status change, after it was committed.

    Called once per change, synchronously, in the process that made it. Keep it cheap and do
    not raise: an exception is logged and ignored, the change stands. For reliable delivery to
    other services use the outbox events, not this hook.
    """


@hookspec(firstresult=True)
def paymux_ledger_entry(event: LedgerEvent) -> JournalEntry | None:
    """Return the journal entry to record for a ledger event, or ``None`` to let others decide.

    The first non-``None`` answer wins; paymux's default rules
    (:func:`paymux.core.ledger.rules.default_entry`) answer last. Called inside the database
    transaction of the state change the event comes from, so it must be pure and quick: no
    I/O. The entry must balance per currency and keep its ``reference`` (one entry per fact);
    an entry that takes a seller's balance below zero makes the state change fail.

    ``event`` is one of the events of :mod:`paymux.core.ledger.rules`: ``PaymentSucceeded``,
    ``ShipmentConfirmed``, ``RefundSucceeded``, ``ReceivableRecovered``, ``PayoutInitiated``,
    ``PayoutPaid``, ``PayoutFailed``, the chargeback events, ``LatePayment``, or one of
    reconciliation's: ``PspFeeCharged`` (fees of a settlement batch and currency) and
    ``SettlementPaidOut`` (a provider paid the platform's bank).
    """
    raise NotImplementedError


@hookspec
def paymux_asgi_mounts(settings: Settings) -> Sequence[AsgiMount]:
    """Return ASGI applications to serve beside paymux's API, each under its own path.

    Called once by ``create_runtime`` (and so by ``create_app``, which mounts them; a host
    using ``create_router`` mounts ``runtime.mounts`` itself). The sandbox plugin uses it to
    serve its PSP simulator (hosted payment pages, a status endpoint) in sandbox mode.
    Return ``[]`` when the settings do not call for it (for example in live mode). Paths
    must start with ``/`` and must not clash with ``/v1`` or another plugin's path.
    """
    raise NotImplementedError


@hookspec
def paymux_cli_commands(cli: object) -> None:
    """Add commands to the ``paymux`` command line.

    ``cli`` is the ``typer.Typer`` of the ``paymux`` command (the core imports no CLI
    library, so it is typed ``object``): add a command group with
    ``cli.add_typer(group, name="myprovider")`` or a command with ``cli.command()(function)``.
    Called once, when the ``paymux`` command is assembled, before its arguments are parsed:
    every invocation (``paymux --help`` too) pays for it, so only declare commands here and
    import heavy modules, read settings and build the runtime inside the commands
    themselves. Use names of your own (for example your provider's name) that do not
    clash with paymux's commands (``serve``, ``migrate``, ``relay``, ``payouts``, ``markets``) or
    another plugin's. An exception raised here is reported on standard error and the
    command line goes on without the failing plugin (paymux's own commands keep working).
    """


@hookspec
def paymux_add_publishers(settings: Settings) -> Sequence[Publisher]:
    """Return event publishers: where the outbox relay (``paymux relay``) delivers events.

    Called once when the relay starts, with the settings; read your own configuration from
    the environment here and build the publishers (do not connect yet: connect lazily in
    ``publish``). Each is a :class:`~paymux.core.events_publishers.Publisher`: ``name``,
    ``async publish(events)`` that delivers a batch of
    :class:`~paymux.core.events.CloudEvent` in order or raises, and ``async aclose()``
    called when the relay stops. Every event goes to every publisher; if one raises, the
    batch stays unpublished and is delivered again (to all of them) after a back-off, so
    deliveries are at least once. Return ``[]`` when your broker is not configured. Without
    any publisher the relay logs events (``PAYMUX_LOG_PUBLISHER``, see ``docs/events.md``).
    """
    raise NotImplementedError


@hookspec
def paymux_add_notifiers(settings: Settings) -> Sequence[BuyerNotifier]:
    """Return buyer notifiers: how buyers hear that their payment succeeded.

    Called once when paymux builds its runtime (``create_runtime``: the API, ``paymux serve``
    and ``paymux worker``), with the settings; read your own configuration from the
    environment here and build the notifiers (do not connect yet: connect when sending).
    Each is a :class:`~paymux.core.notifications.BuyerNotifier`: a unique ``name``,
    ``async notify_payment_succeeded(notification)`` that delivers a
    :class:`~paymux.core.notifications.PaymentSucceededNotification` (payment id, buyer id
    and e-mail, locale, amount, one line per order with its estimated delivery) or raises,
    and ``async aclose()`` called when the application stops.

    A ``notify_buyer`` job runs once per succeeded payment whose buyer gave an e-mail and
    calls every notifier; one that raises is called again after a back-off (a
    :class:`~paymux.core.notifications.NotificationRejectedError` dead-letters the job
    instead), one that delivered is not called again for that payment. Deliveries are at
    least once. The payment never waits for a notifier. Return ``[]`` when your channel is
    not configured; without any notifier the job only logs. Two notifiers with the same
    name are an error reported at start-up. See ``docs/notifications.md``.
    """
    raise NotImplementedError


@hookspec
def paymux_add_settlement_parsers() -> Sequence[SettlementParser]:
    """Return the settlement-file parsers this plugin offers, one per format it reads.

    Called once when paymux builds its runtime (never at import); do no I/O here. Each is
    a :class:`~paymux.core.reconciliation.parsers.SettlementParser`: the ``provider`` whose
    files it reads, a ``format`` name, the provider's ``settlement_delay``, ``accepts(head)``
    that recognizes the format from the file's first bytes, and ``parse(path)`` that yields
    batches of normalized lines (polars ``DataFrame`` objects with the columns of
    :data:`~paymux.core.reconciliation.lines.LINE_SCHEMA`; build small ones with
    :func:`~paymux.core.reconciliation.lines.lines_frame`). Find columns by header name,
    never by position; convert decimal text with
    :func:`~paymux.core.reconciliation.amounts.to_minor` (never through a float); raise
    :class:`~paymux.core.reconciliation.errors.MalformedSettlementError` with the line
    number for a malformed line. paymux parses and checks the whole file before it writes
    anything, so a parser need not be transactional. See ``docs/reconciliation.md``.
    """
    raise NotImplementedError


@hookspec
def paymux_add_reconciliation_alerters(settings: Settings) -> Sequence[ReconciliationAlerter]:
    """Return reconciliation alerters: how operators hear of new discrepancies.

    Called once when paymux builds its runtime, with the settings; read your own
    configuration from the environment here and build the alerters (do not connect yet).
    Each is a :class:`~paymux.core.reconciliation.alerts.ReconciliationAlerter`: a unique
    ``name``, ``async alert(alert)`` that delivers a
    :class:`~paymux.core.reconciliation.alerts.ReconciliationAlert` (the run, its provider
    and period, the number of new discrepancies per class and the first of them) or
    raises, and ``async aclose()``. After a run that opened new discrepancies a
    ``send_reconciliation_alert`` job calls every alerter once; one that raises is retried
    after a back-off, one that delivered is not called again. A run that opened nothing
    new (the same file again) alerts nobody. Return ``[]`` when your channel is not
    configured. Two alerters with the same name are an error reported at start-up.
    """
    raise NotImplementedError


@hookspec
def paymux_add_rate_sources(settings: Settings) -> Sequence[RateSource]:
    """Return the exchange-rate sources this plugin offers.

    Called once when paymux builds its runtime, with the settings; read your own
    configuration here and build the sources (do not connect yet). Each is a
    :class:`~paymux.core.fx.rates.RateSource`: a unique ``name`` (stored with every quote
    it priced) and ``async rate(base, quote)`` that returns a
    :class:`~paymux.core.fx.rates.Rate` (``1 base = value quote`` as a ``Decimal``, never a
    float, with the date it holds for) or raises
    :class:`~paymux.core.fx.rates.RateUnavailableError`. It may fetch over the network and
    should cache what it fetched: paymux calls it outside any database transaction, each
    time it locks a quote. Derive a rate you do not publish directly (a cross rate through
    a common currency, an inverse) with :func:`~paymux.core.fx.rates.cross_rate` and
    :func:`~paymux.core.fx.rates.round_rate`. Two sources with one name are an error
    reported at start-up. See ``docs/concepts/fx.md``.
    """
    raise NotImplementedError
