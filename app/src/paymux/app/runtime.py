"""The objects a running paymux needs, built from settings by one factory (never at import)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pluggy

from paymux.app.auth import ApiKeys
from paymux.app.status_links import StatusLinks
from paymux.core.domain.models import OrderStatusChange
from paymux.core.events_publishers import Publisher, choose_publishers
from paymux.core.hookspecs import AsgiMount
from paymux.core.ledger.journal import JournalEntry
from paymux.core.ledger.rules import LedgerEvent
from paymux.core.markets_setup import load_markets_setup
from paymux.core.outbox_relay import OutboxRelay
from paymux.core.plugins import (
    build_provider_registry,
    collect_provider_specs,
    create_plugin_manager,
)
from paymux.core.providers import ProviderRegistry
from paymux.core.routing import CapabilityRouter, MarketRouter, Router
from paymux.core.services.chargebacks import ChargebackService
from paymux.core.services.ledger import LedgerService
from paymux.core.services.payments import PaymentService
from paymux.core.services.payouts import PayoutService
from paymux.core.services.refunds import RefundService
from paymux.core.services.shipments import ShipmentService
from paymux.core.services.webhooks import WebhookService
from paymux.core.settings import Settings
from paymux.core.storage.database import Database
from paymux.core.storage.unit_of_work import PaymentStore

log = logging.getLogger(__name__)


@dataclass
class PaymuxRuntime:
    """Settings, database, providers and use cases of one paymux application."""

    settings: Settings
    plugin_manager: pluggy.PluginManager
    database: Database
    providers: ProviderRegistry
    router: Router
    """Routes checkouts to providers (the markets file's chains, or capabilities)."""
    payments: PaymentService
    shipments: ShipmentService
    refunds: RefundService
    payouts: PayoutService
    chargebacks: ChargebackService
    webhooks: WebhookService
    ledger: LedgerService
    api_keys: ApiKeys
    status_links: StatusLinks
    mounts: list[AsgiMount] = field(default_factory=list)

    async def aclose(self) -> None:
        """Close providers, mounted apps and the database pool."""
        for mount in self.mounts:
            if mount.aclose is not None:
                await mount.aclose()
        await self.providers.aclose()
        await self.database.dispose()


def create_runtime(
    settings: Settings, *, plugin_manager: pluggy.PluginManager | None = None
) -> PaymuxRuntime:
    """Build a runtime. ``plugin_manager`` defaults to one that loads installed plugins.

    With ``settings.markets_file`` the file is loaded and checked first (a
    :class:`~paymux.core.markets_config.MarketsConfigError` lists every problem); the
    runtime's ``settings.providers`` are then the file's enabled providers.
    """
    manager = plugin_manager or create_plugin_manager()
    sandboxed: frozenset[str] = frozenset()
    markets = None
    if settings.markets_file is not None:
        markets = load_markets_setup(settings, offered=collect_provider_specs(manager))
        settings = settings.model_copy(update={"providers": markets.providers})
        sandboxed = markets.sandboxed
    providers = build_provider_registry(
        manager,
        enabled=settings.providers,
        mode=settings.mode,
        public_url=settings.public_url,
        sandboxed=sandboxed,
    )
    router: Router = (
        MarketRouter(markets.config, providers) if markets else CapabilityRouter(providers)
    )
    database = Database(settings.database_url)
    links = StatusLinks(
        public_url=settings.public_url, secret=settings.secret_key.get_secret_value()
    )

    def notify(change: OrderStatusChange) -> None:
        manager.hook.paymux_order_status_changed(change=change)

    def ledger_entry(event: LedgerEvent) -> JournalEntry:
        entry: JournalEntry = manager.hook.paymux_ledger_entry(event=event)
        return entry

    store = PaymentStore(database)
    payments = PaymentService(
        store=store,
        providers=providers,
        router=router,
        buyer_return_url=links.url,
        lock_seconds=settings.idempotency_lock_seconds,
        on_status_changed=notify,
        ledger_entry=ledger_entry,
    )
    mounts = [
        mount for offered in manager.hook.paymux_asgi_mounts(settings=settings) for mount in offered
    ]
    refunds = RefundService(
        store=store,
        providers=providers,
        lock_seconds=settings.idempotency_lock_seconds,
        ledger_entry=ledger_entry,
    )
    payouts = PayoutService(
        store=store,
        providers=providers,
        lock_seconds=settings.idempotency_lock_seconds,
        ledger_entry=ledger_entry,
    )
    chargebacks = ChargebackService(store=store, ledger_entry=ledger_entry)
    return PaymuxRuntime(
        settings=settings,
        plugin_manager=manager,
        database=database,
        providers=providers,
        router=router,
        payments=payments,
        shipments=ShipmentService(store=store, ledger_entry=ledger_entry),
        payouts=payouts,
        refunds=refunds,
        chargebacks=chargebacks,
        webhooks=WebhookService(
            store=store,
            payments=payments,
            refunds=refunds,
            payouts=payouts,
            chargebacks=chargebacks,
        ),
        ledger=LedgerService(store=store),
        api_keys=ApiKeys(settings.api_keys),
        status_links=links,
        mounts=mounts,
    )


def create_relay(
    settings: Settings,
    *,
    plugin_manager: pluggy.PluginManager | None = None,
    database: Database | None = None,
) -> OutboxRelay:
    """Build the outbox relay: the plugins' publishers (``paymux_add_publishers``) and,
    by ``settings.log_publisher``, the log publisher. Close it with ``aclose`` and dispose
    ``relay.database``."""
    manager = plugin_manager or create_plugin_manager()
    offered: list[Publisher] = [
        publisher
        for publishers in manager.hook.paymux_add_publishers(settings=settings)
        for publisher in publishers
    ]
    return OutboxRelay(
        database or Database(settings.database_url),
        choose_publishers(offered, log_publisher=settings.log_publisher),
        source=settings.event_source,
        batch_size=settings.relay_batch_size,
    )
