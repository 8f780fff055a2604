"""Prometheus metrics of one paymux application (see docs/operations/metrics.md).

Each application gets its own :class:`~prometheus_client.CollectorRegistry` from
:func:`create_metrics`: nothing is registered in the process-wide default registry, so two
apps in one process (tests, a host mounting paymux) never share or clash on a metric.

Request latency is observed by :class:`RequestMetricsMiddleware`, labelled with the route's
template (``/v1/payments/{payment_id}``), never the raw path, so ids do not multiply series.
The database-derived gauges are counted at scrape time (the ``/metrics`` route reads an
:class:`~paymux.core.storage.operations_snapshot.OperationsSnapshot` first) and exposed by a
collector that reads the snapshot it is handed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paymux.core.domain.jobs import JobKind
from paymux.core.domain.status import PaymentStatus
from paymux.core.storage.operations_snapshot import OperationsSnapshot

UNMATCHED_ROUTE = "unmatched"
"""The ``route`` label of requests no route matched (404s on unknown paths)."""

QUEUE_STATES = ("ready", "scheduled", "running")


HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods that get their own ``method`` label."""


class _SnapshotCollector(Collector):
    """Gauges from the latest :class:`OperationsSnapshot` (nothing before the first)."""

    def __init__(self) -> None:
        self.snapshot: OperationsSnapshot | None = None

    def collect(self) -> Iterator[Metric]:
        snapshot = self.snapshot
        if snapshot is None:
            return
        orders = GaugeMetricFamily(
            "paymux_payment_orders",
            "Payment orders (one seller's part of a checkout) per status.",
            labels=["status"],
        )
        for status in sorted({*PaymentStatus, *snapshot.payment_orders}):
            orders.add_metric([status], snapshot.payment_orders.get(status, 0))
        yield orders

        jobs = GaugeMetricFamily(
            "paymux_jobs",
            "Unfinished jobs per kind: ready (due now), scheduled (due later), running.",
            labels=["kind", "state"],
        )
        kinds = sorted({*JobKind, *(kind for kind, _ in snapshot.jobs)})
        for kind in kinds:
            for state in QUEUE_STATES:
                jobs.add_metric([kind, state], snapshot.jobs.get((kind, state), 0))
        yield jobs

        dead = GaugeMetricFamily(
            "paymux_dead_letters", "Dead-lettered jobs waiting for a replay.", labels=["kind"]
        )
        for kind in sorted({*JobKind, *snapshot.dead_letters}):
            dead.add_metric([kind], snapshot.dead_letters.get(kind, 0))
        yield dead

        discrepancies = GaugeMetricFamily(
            "paymux_reconciliation_open_discrepancies",
            "Reconciliation discrepancies not resolved yet.",
            labels=["provider", "kind"],
        )
        for (provider, kind), count in sorted(snapshot.open_discrepancies.items()):
            discrepancies.add_metric([provider, kind], count)
        yield discrepancies


class PaymuxMetrics:
    """The registry, the request histogram and the snapshot gauges of one application."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.request_duration = Histogram(
            "paymux_http_request_duration_seconds",
            "Time to answer an HTTP request, per method, route template and status class.",
            labelnames=["method", "route", "status"],
            registry=self.registry,
        )
        self._snapshot = _SnapshotCollector()
        self.registry.register(self._snapshot)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one answered request (``status``: the HTTP status code). A method outside
        :data:`HTTP_METHODS` counts as ``other``: clients choose it, and every value would
        be new series."""
        label = method if method in HTTP_METHODS else "other"
        self.request_duration.labels(label, route, f"{status // 100}xx").observe(seconds)

    def exposition(self, snapshot: OperationsSnapshot, *, accept: str = "") -> tuple[bytes, str]:
        """The exposition with the gauges of ``snapshot`` and its media type, in the format
        the scraper's ``Accept`` header asks for (Prometheus text, or OpenMetrics).

        Synchronous from setting the snapshot to rendering it: two concurrent scrapes on the
        event loop never render each other's snapshot.
        """
        encode, media_type = choose_encoder(accept)
        self._snapshot.snapshot = snapshot
        return encode(self.registry), media_type


def create_metrics() -> PaymuxMetrics:
    """A new, empty set of paymux metrics with a registry of its own."""
    return PaymuxMetrics()


def route_template(scope: Scope, root_path: str) -> str:
    """The template of the route that answered (after the app ran), ``unmatched`` if none.

    ``root_path`` is the scope's root path before routing: a mounted app's routes are
    prefixed by what its mount added (``/sandbox/...``).
    """
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED_ROUTE
    prefix = str(scope.get("root_path", ""))[len(root_path) :]
    if isinstance(route, Mount):
        # a plain ASGI app mounted: the mount itself matched; its own paths are not templates
        return f"{prefix}/{{path}}"
    return f"{prefix}{path}"


class RequestMetricsMiddleware:
    """Pure ASGI middleware: observes each HTTP request's duration when it is answered."""

    def __init__(self, app: ASGIApp, *, metrics: PaymuxMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        root_path = str(scope.get("root_path", ""))
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500}

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.observe_request(
                str(scope["method"]),
                route_template(scope, root_path),
                status["code"],
                time.perf_counter() - started,
            )
