"""The objects a running paymux needs, built from settings by one factory (never at import)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

import pluggy

from paymux.app.auth import ApiKeys
from paymux.app.status_links import StatusLinks
from paymux.core.domain.jobs import JobKind
from paymux.core.domain.models import OrderStatusChange
from paymux.core.events_publishers import Publisher, choose_publishers
from paymux.core.fx.quotes import Quoter
from paymux.core.fx.setup import build_quoter
from paymux.core.hookspecs import AsgiMount
from paymux.core.jobs.circuit import CircuitBreakers
from paymux.core.jobs.janitor import DEFAULT_SCHEDULES, JanitorSchedule
from paymux.core.jobs.payment_jobs import (
    payment_job_handlers,
    payout_job_handlers,
    refund_job_handlers,
)
from paymux.core.jobs.reconciliation_jobs import (
    fetching_providers,
    reconcile_announced_handler,
    reconcile_nightly_handler,
    schedule_nightly,
    send_alert_handler,
)
from paymux.core.jobs.retry import RetryPolicy
from paymux.core.jobs.worker import Worker
from paymux.core.ledger.journal import JournalEntry
from paymux.core.ledger.rules import LedgerEvent
from paymux.core.markets_config import check_chain_currencies
from paymux.core.markets_setup import load_markets_setup
from paymux.core.notifications import BuyerNotifier
from paymux.core.outbox_relay import OutboxRelay
from paymux.core.plugins import (
    build_provider_registry,
    collect_alerters,
    collect_notifiers,
    collect_provider_specs,
    collect_rate_sources,
    collect_settlement_parsers,
    create_plugin_manager,
)
from paymux.core.providers import ProviderRegistry, settlement_currencies
from paymux.core.reconciliation.alerts import ReconciliationAlerter
from paymux.core.routing import CapabilityRouter, MarketRouter, Router
from paymux.core.services.chargebacks import ChargebackService
from paymux.core.services.ledger import LedgerService
from paymux.core.services.payments import PaymentService
from paymux.core.services.payouts import PayoutService
from paymux.core.services.reconciliation import ReconciliationService
from paymux.core.services.refunds import RefundService
from paymux.core.services.shipments import ShipmentService
from paymux.core.services.webhooks import WebhookService
from paymux.core.settings import Settings
from paymux.core.storage.api_key_repository import ApiKeyStore
from paymux.core.storage.database import Database
from paymux.core.storage.job_repository import JobQueue
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
    quoter: Quoter | None
    """Locks exchange-rate quotes from the configured rate source (``None``: no source, no
    conversions; see ``docs/concepts/fx.md``)."""
    shipments: ShipmentService
    refunds: RefundService
    payouts: PayoutService
    chargebacks: ChargebackService
    webhooks: WebhookService
    ledger: LedgerService
    reconciliation: ReconciliationService
    api_keys: ApiKeys
    status_links: StatusLinks
    jobs: JobQueue
    """The durable jobs and the dead-letter queue."""
    breakers: CircuitBreakers
    """Circuit breakers per provider, shared by the router, the API and this process's
    worker."""
    mounts: list[AsgiMount] = field(default_factory=list)
    notifiers: list[BuyerNotifier] = field(default_factory=list)
    """The plugins' buyer notifiers (``paymux_add_notifiers``), used by this runtime's
    workers."""
    alerters: list[ReconciliationAlerter] = field(default_factory=list)
    """The plugins' reconciliation alerters (``paymux_add_reconciliation_alerters``)."""

    def create_worker(self, *, worker_id: str | None = None) -> Worker:
        """A job worker on this runtime's database, providers and breakers."""
        return Worker(
            self.jobs,
            {
                **payment_job_handlers(
                    self.payments,
                    notifiers=self.notifiers,
                    status_page_url=self.status_links.for_payment,
                ),
                **refund_job_handlers(self.refunds),
                **payout_job_handlers(self.payouts),
                JobKind.SEND_RECONCILIATION_ALERT.value: send_alert_handler(
                    self.reconciliation, self.alerters
                ),
                JobKind.RECONCILE_NIGHTLY.value: reconcile_nightly_handler(
                    self.reconciliation,
                    self.providers,
                    self.jobs,
                    hour=self.settings.reconciliation_hour,
                ),
                JobKind.RECONCILE_ANNOUNCED_REPORT.value: reconcile_announced_handler(
                    self.reconciliation,
                    self.providers,
                    resolve_client=self.reconciliation_client_id,
                ),
            },
            policies=retry_policies(self.settings),
            breakers=self.breakers,
            worker_id=worker_id,
            lease_seconds=self.settings.worker_lease_seconds,
            batch_size=self.settings.worker_batch_size,
        )

    async def schedule_nightly_reconciliation(self) -> int:
        """Queue yesterday's ``reconcile_nightly`` job of every provider that can fetch its
        settlement report, unless queued before (each run queues the next day's)."""
        providers = fetching_providers(self.providers, self.reconciliation)
        if not providers:
            return 0
        client_id = await self.reconciliation_client_id()
        if client_id is None:
            log.warning(
                "nightly reconciliation is off: several API clients and no "
                "PAYMUX_RECONCILIATION_CLIENT"
            )
            return 0
        return await schedule_nightly(
            self.jobs, providers, hour=self.settings.reconciliation_hour, client_id=client_id
        )

    async def reconciliation_client_id(self) -> str | None:
        """The client reconciliation runs for: ``PAYMUX_RECONCILIATION_CLIENT``, else the only
        client with a key (configured or valid in the database); ``None`` when there are
        several."""
        if self.settings.reconciliation_client is not None:
            return self.settings.reconciliation_client
        clients = self.settings.configured_clients | await self.api_keys.database_clients()
        return next(iter(clients)) if len(clients) == 1 else None

    @property
    def runs_embedded_worker(self) -> bool:
        """Whether ``paymux serve`` runs a worker in its own process (see settings)."""
        if self.settings.embedded_worker == "auto":
            return self.database.dialect == "sqlite"
        return self.settings.embedded_worker == "always"

    async def aclose(self) -> None:
        """Close providers, notifiers, mounted apps and the database pool."""
        for mount in self.mounts:
            if mount.aclose is not None:
                await mount.aclose()
        for notifier in self.notifiers:
            try:
                await notifier.aclose()
            except Exception:
                log.exception("closing the buyer notifier %s failed", notifier.name)
        for alerter in self.alerters:
            try:
                await alerter.aclose()
            except Exception:
                log.exception("closing the alerter %s failed", alerter.name)
        await self.providers.aclose()
        await self.database.dispose()


def create_runtime(
    settings: Settings, *, plugin_manager: pluggy.PluginManager | None = None
) -> PaymuxRuntime:
    """Build a runtime. ``plugin_manager`` defaults to one that loads installed plugins.

    With ``settings.markets_file`` the file is loaded and checked first (a
    :class:`~paymux.core.markets_config.MarketsConfigError` lists every problem); the
    runtime's ``settings.providers`` are then the file's enabled providers. Once they are
    built, a chain none of whose enabled providers claims its currency is refused the same
    way (:func:`~paymux.core.markets_config.check_chain_currencies`).
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
    if markets is not None:
        check_chain_currencies(
            markets.config,
            {name: providers.get(name).capabilities().currencies for name in providers.names()},
        )
    database = Database(settings.database_url)
    breakers = CircuitBreakers(
        threshold=settings.circuit_failure_threshold, open_seconds=settings.circuit_open_seconds
    )
    availability = breakers.unavailable_reason
    router: Router = (
        MarketRouter(markets.config, providers, availability=availability)
        if markets
        else CapabilityRouter(providers, availability=availability)
    )
    links = StatusLinks(
        public_url=settings.public_url,
        secret=settings.secret_key.get_secret_value(),
        ttl_seconds=settings.status_link_ttl_seconds,
    )

    def notify(change: OrderStatusChange) -> None:
        manager.hook.paymux_order_status_changed(change=change)

    def ledger_entry(event: LedgerEvent) -> JournalEntry:
        entry: JournalEntry = manager.hook.paymux_ledger_entry(event=event)
        return entry

    quoter = build_quoter(collect_rate_sources(manager, settings), settings.fx)
    store = PaymentStore(database)
    payments = PaymentService(
        store=store,
        providers=providers,
        router=router,
        buyer_return_url=links.for_payment,
        lock_seconds=settings.idempotency_lock_seconds,
        on_status_changed=notify,
        ledger_entry=ledger_entry,
        breakers=breakers,
        janitor=JanitorSchedule({**DEFAULT_SCHEDULES, **settings.janitor_schedule}),
        refund_late_payments=settings.late_payments == "refund",
        retry_policies=retry_policies(settings),
        quoter=quoter,
        settlement_currencies=settlement_currencies(settings.providers),
    )
    mounts = [
        mount for offered in manager.hook.paymux_asgi_mounts(settings=settings) for mount in offered
    ]
    refunds = RefundService(
        store=store,
        providers=providers,
        lock_seconds=settings.idempotency_lock_seconds,
        ledger_entry=ledger_entry,
        retry_policies=retry_policies(settings),
    )
    payouts = PayoutService(
        store=store,
        providers=providers,
        lock_seconds=settings.idempotency_lock_seconds,
        ledger_entry=ledger_entry,
        retry_policies=retry_policies(settings),
        quoter=quoter,
    )
    chargebacks = ChargebackService(store=store, ledger_entry=ledger_entry)
    return PaymuxRuntime(
        settings=settings,
        plugin_manager=manager,
        database=database,
        providers=providers,
        router=router,
        payments=payments,
        quoter=quoter,
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
            reconciliation_client=settings.reconciliation_client,
        ),
        ledger=LedgerService(store=store),
        reconciliation=ReconciliationService(
            store=store,
            parsers=collect_settlement_parsers(manager),
            ledger_entry=ledger_entry,
            lookback=timedelta(days=settings.reconciliation_lookback_days),
        ),
        api_keys=ApiKeys(
            settings.api_keys,
            store=ApiKeyStore(database),
            cache_seconds=settings.api_key_cache_seconds,
        ),
        status_links=links,
        jobs=JobQueue(database),
        breakers=breakers,
        mounts=mounts,
        notifiers=collect_notifiers(manager, settings),
        alerters=collect_alerters(manager, settings),
    )


def retry_policies(settings: Settings) -> dict[str, RetryPolicy]:
    """The settings' retry policies per job kind."""
    return {
        kind: RetryPolicy(
            max_attempts=policy.max_attempts,
            base_seconds=policy.base_seconds,
            cap_seconds=policy.cap_seconds,
        )
        for kind, policy in settings.job_retry.items()
    }


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
