"""``GET /metrics``: the Prometheus exposition (see docs/operations/metrics.md)."""

from __future__ import annotations

import hmac
import logging
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from paymux.app.metrics import PaymuxMetrics
from paymux.app.problems import Problem
from paymux.app.routes.common import problem_responses
from paymux.app.runtime import PaymuxRuntime
from paymux.core.storage.operations_snapshot import read_operations_snapshot

log = logging.getLogger(__name__)

_EXPOSITION = {
    "description": "The metrics in Prometheus' text format (OpenMetrics when asked for)",
    "content": {"text/plain": {"schema": {"type": "string"}}},
}


def metrics_router(runtime: PaymuxRuntime, metrics: PaymuxMetrics) -> APIRouter:
    """The scrape route; with ``settings.metrics_token`` set, scrapers must send it as a
    bearer token (API keys are not accepted: a scraper needs no access to payments)."""
    router = APIRouter(tags=["operations"])
    secret = runtime.settings.metrics_token
    token = None if secret is None else secret.get_secret_value().encode()
    if token is None and runtime.settings.mode == "live":
        log.warning("GET /metrics is open: set PAYMUX_METRICS_TOKEN or block it at the proxy")

    @router.get(
        "/metrics",
        response_class=Response,
        responses={200: _EXPOSITION, **problem_responses({401: "The metrics token is missing"})},
    )
    async def scrape(request: Request) -> Response:
        """Request latency, payment orders per status, job queue depth, dead letters and
        open reconciliation discrepancies, counted when scraped."""
        if token is not None:
            scheme, _, sent = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), token):
                raise Problem(
                    "unauthorized",
                    "send 'Authorization: Bearer <PAYMUX_METRICS_TOKEN>'",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        snapshot = await read_operations_snapshot(runtime.database, now=datetime.now(UTC))
        body, media_type = metrics.exposition(snapshot, accept=request.headers.get("accept", ""))
        return Response(body, media_type=media_type)

    return router
