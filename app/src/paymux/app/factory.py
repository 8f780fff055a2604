"""``create_app`` and ``create_router``: the only ways paymux's HTTP side is built."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pluggy
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from paymux.app.card_data import CardDataGuard
from paymux.app.hardening import add_hardening
from paymux.app.metrics import RequestMetricsMiddleware, create_metrics
from paymux.app.problems import Problem, as_problem, problem_response
from paymux.app.request_ids import add_request_ids
from paymux.app.routes.chargebacks import chargebacks_router
from paymux.app.routes.dead_letters import dead_letters_router
from paymux.app.routes.ledger import ledger_router
from paymux.app.routes.metrics import metrics_router
from paymux.app.routes.payments import payments_router
from paymux.app.routes.payout_methods import payout_methods_router
from paymux.app.routes.payouts import payouts_router
from paymux.app.routes.reconciliations import reconciliations_router
from paymux.app.routes.refunds import refunds_router
from paymux.app.routes.routing import routing_router
from paymux.app.routes.shipments import shipments_router
from paymux.app.routes.status_page import status_page_router
from paymux.app.routes.webhooks import webhooks_router
from paymux.app.runtime import PaymuxRuntime, create_runtime
from paymux.core.jobs.worker import default_worker_id
from paymux.core.settings import Settings

_RESERVED = ("/v1", "/checkout", "/docs", "/openapi.json", "/healthz", "/metrics")


def create_router(runtime: PaymuxRuntime) -> APIRouter:
    """paymux's routes for a host application (``app.include_router(create_router(rt))``).

    Every route answers errors as problem+json by itself. The host owns the runtime: build it
    with :func:`paymux.app.runtime.create_runtime` and close it with ``await runtime.aclose()``
    at shutdown. Mounted plugin apps (the sandbox PSP) come only with :func:`create_app`.
    """
    router = APIRouter()
    router.include_router(payments_router(runtime))
    router.include_router(webhooks_router(runtime))
    router.include_router(shipments_router(runtime))
    router.include_router(refunds_router(runtime))
    router.include_router(payouts_router(runtime))
    router.include_router(payout_methods_router(runtime))
    router.include_router(chargebacks_router(runtime))
    router.include_router(ledger_router(runtime))
    router.include_router(dead_letters_router(runtime))
    router.include_router(reconciliations_router(runtime))
    router.include_router(routing_router(runtime))
    router.include_router(status_page_router(runtime))
    return router


def create_app(
    settings: Settings | None = None, *, plugin_manager: pluggy.PluginManager | None = None
) -> FastAPI:
    """A complete paymux application: API, buyer status page, and plugins' mounted apps.

    ``settings`` defaults to ``Settings()`` (the environment). A host app can mount the
    result under a prefix: ``host.mount("/payments", create_app(settings))``, with
    ``settings.public_url`` ending in that prefix.

    With ``settings.embedded_worker`` (on SQLite by default) the app's lifespan also runs a
    job worker in this process.
    """
    settings = settings or Settings()
    runtime = create_runtime(settings, plugin_manager=plugin_manager)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        worker_task: asyncio.Task[None] | None = None
        if runtime.runs_embedded_worker:
            worker = runtime.create_worker(worker_id=f"{default_worker_id()}:embedded")
            await runtime.schedule_nightly_reconciliation()
            worker_task = asyncio.create_task(
                worker.run(stop, idle_seconds=settings.worker_idle_seconds)
            )
        try:
            yield
        finally:
            stop.set()
            if worker_task is not None:
                await worker_task
            await runtime.aclose()

    app = FastAPI(
        title="paymux",
        version="0.1.0",
        summary="Payments for marketplaces",
        lifespan=lifespan,
    )
    app.state.paymux = runtime
    app.include_router(create_router(runtime))
    # innermost: it reads bodies only after the rate and size limits let them through
    app.add_middleware(
        CardDataGuard, exempt_paths=[mount.path for mount in runtime.mounts], max_body_bytes=None
    )
    add_hardening(app, settings, runtime.providers)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    metrics = create_metrics()
    app.state.metrics = metrics
    app.include_router(metrics_router(runtime, metrics))

    for mount in runtime.mounts:
        if not mount.path.startswith("/") or mount.path.startswith(_RESERVED):
            raise ValueError(f"plugin mount path {mount.path!r} is not allowed")
        app.mount(mount.path, mount.app, name=mount.name)

    async def http_error(request: Request, error: Exception) -> Response:
        return problem_response(as_problem(error), instance=request.url.path)

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, http_error)
    app.add_exception_handler(Problem, http_error)
    add_request_ids(app)  # outside the hardening: 429s and 413s carry the id too
    # the last one added is the outermost: the latency counts every other middleware's time
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    return app
