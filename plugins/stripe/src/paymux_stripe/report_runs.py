"""Stripe's nightly settlement report, fetched through the Reporting API.

One call of :meth:`ReportRunFetcher.fetch` never waits for Stripe: it asks once and answers.

1. ``GET /v1/reporting/report_types/balance_change_from_activity.itemized.3``: if Stripe's
   data does not reach the end of the day yet, ``None``.
2. ``POST /v1/reporting/report_runs`` for the UTC day with the columns the parser reads,
   under an idempotency key derived from the day (and the request), so a second call within
   Stripe's 24 hours of key retention gets the same run; the run id is also kept in memory
   per day, and then only ``GET /v1/reporting/report_runs/{id}`` is asked.
3. ``pending``: ``None`` (the worker asks again later). ``failed``: a retryable
   :class:`~paymux.core.ports.provider.ProviderUnavailableError`, and the next call starts a
   new run. ``succeeded``: the result file downloaded from Stripe's files host with the secret
   key, its bytes returned.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import stripe

from paymux.core.ports.provider import ProviderRejectedError, ProviderUnavailableError
from paymux_stripe.settlement import BALANCE_REPORT, OPTIONAL_COLUMNS, REQUIRED_COLUMNS

_T = TypeVar("_T")

REPORT_TYPE = BALANCE_REPORT.report_type
"""The report run every night: ``balance_change_from_activity.itemized.3``."""

REPORT_COLUMNS: tuple[str, ...] = (*REQUIRED_COLUMNS, "created_utc", *OPTIONAL_COLUMNS)
"""Asked explicitly (Stripe's defaults differ between report versions): every column the
parser reads, including ``payment_intent_id`` and paymux's metadata ids."""

STRIPE_FILES_BASE = "https://files.stripe.com"

Call = Callable[[Awaitable[Any]], Awaitable[Any]]


def day_interval(day: date) -> tuple[int, int]:
    """``interval_start`` and ``interval_end`` (exclusive) of the UTC ``day``, Unix seconds."""
    start = datetime.combine(day, time(), UTC)
    return int(start.timestamp()), int((start + timedelta(days=1)).timestamp())


def report_run_params(day: date) -> dict[str, Any]:
    """The ``POST /v1/reporting/report_runs`` parameters of ``day``'s report."""
    start, end = day_interval(day)
    return {
        "report_type": REPORT_TYPE,
        "parameters": {
            "interval_start": start,
            "interval_end": end,
            "timezone": "Etc/UTC",
            "columns": list(REPORT_COLUMNS),
        },
    }


def idempotency_key(day: date, params: dict[str, Any], attempt: int) -> str:
    """The same key for the same day, request and attempt (another request: another key)."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    return f"paymux-report-{REPORT_TYPE}-{day.isoformat()}-{attempt}-{digest}"


class ReportRunFetcher:
    """Fetches the balance report of a day from Stripe (see the module docstring)."""

    def __init__(
        self,
        client: stripe.StripeClient,
        http: stripe.HTTPXClient,
        *,
        api_key: str,
        files_base: str | None,
        call: Call,
    ) -> None:
        """``call`` wraps every SDK awaitable (timeout, Stripe errors as provider errors);
        ``files_base`` is where files are downloaded (Stripe's files host when ``None``)."""
        self._client = client
        self._http = http
        self._api_key = api_key
        self._files_base = (files_base or STRIPE_FILES_BASE).rstrip("/")
        self._call = call
        self._runs: dict[date, str] = {}
        self._attempts: dict[date, int] = {}

    async def fetch(self, day: date) -> bytes | None:
        """The CSV of ``day``'s balance report, or ``None`` while it is not ready."""
        run_id = self._runs.get(day)
        if run_id is None:
            run = await self._create(day)
            if run is None:
                return None
            self._runs[day] = str(run["id"])
        else:
            found = await self._call(self._client.v1.reporting.report_runs.retrieve_async(run_id))
            run = found.to_dict()
        status = run.get("status")
        if status == "succeeded":
            return await self._download(run)
        if status == "failed":
            self._runs.pop(day, None)
            self._attempts[day] = self._attempts.get(day, 0) + 1
            raise ProviderUnavailableError(
                f"Stripe report run {run['id']} failed: {run.get('error') or 'no reason given'}"
            )
        return None

    async def _create(self, day: date) -> dict[str, Any] | None:
        report_type = await self._call(
            self._client.v1.reporting.report_types.retrieve_async(REPORT_TYPE)
        )
        params = report_run_params(day)
        available_end = report_type.to_dict().get("data_available_end")
        if available_end is None or int(available_end) < params["parameters"]["interval_end"]:
            return None
        run = await self._call(
            self._client.v1.reporting.report_runs.create_async(
                params=params,  # type: ignore[arg-type]
                options={
                    "idempotency_key": idempotency_key(day, params, self._attempts.get(day, 0))
                },
            )
        )
        data: dict[str, Any] = run.to_dict()
        return data

    async def _download(self, run: dict[str, Any]) -> bytes:
        """The run's result file, from the files host only (the secret key goes nowhere else)."""
        result = run.get("result")
        url = result.get("url") if isinstance(result, dict) else None
        if not url:
            raise ProviderRejectedError(
                f"Stripe report run {run['id']} succeeded without a file", code="no-report-file"
            )
        path = urlsplit(str(url)).path
        if not path.startswith("/v1/files/"):
            raise ProviderRejectedError(
                f"unexpected report file URL {url!r}", code="no-report-file"
            )
        body, status, _headers = await self._call(
            self._http.request_async(
                "get", f"{self._files_base}{path}", {"Authorization": f"Bearer {self._api_key}"}
            )
        )
        if status >= 500 or status in (409, 429):
            raise ProviderUnavailableError(f"Stripe's files host answered {status}")
        if status != 200:
            raise ProviderRejectedError(
                f"Stripe's files host answered {status} for {path}", code="report-file-refused"
            )
        content: bytes = body
        return content
