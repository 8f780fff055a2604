"""Downloading the settlement reports that ``REPORT_AVAILABLE`` notifications announce.

Adyen serves a report at the URL the notification gives in ``reason`` (for example
``https://ca-test.adyen.com/reports/download/MerchantAccount/<account>/<file>``) to an HTTP
``GET`` authenticated either with the basic auth of a report service user
(``report_username``/``report_password``) or with the ``x-api-key`` header of a credential
with the *Merchant Report Download* role (``report_api_key``, default ``api_key``). The
URL is checked again against the configured reports origin before any credential is sent,
redirects are not followed, and the body is streamed to disk (a report may hold millions of
lines, written from a thread so the worker's other jobs go on).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from paymux.core.ports.provider import (
    ProviderError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    SettlementReportAvailable,
    parse_retry_after,
)
from paymux_adyen.config import AdyenConfig
from paymux_adyen.notifications import report_url_is_at

CHUNK_BYTES = 1 << 20


class ReportDownloads:
    """Downloads announced reports with the configured report credentials.

    A client per download: reports come a few times a day, and a client bound to no event
    loop suits workers and tests that run several loops.
    """

    def __init__(self, config: AdyenConfig) -> None:
        self._config = config

    def _auth(self) -> tuple[httpx.BasicAuth | None, dict[str, str]]:
        config = self._config
        if config.report_username is not None and config.report_password is not None:
            return httpx.BasicAuth(config.report_username, config.report_password), {}
        return None, {"x-api-key": config.report_api_key or config.api_key}

    async def download(self, report: SettlementReportAvailable, destination: Path) -> None:
        """Stream the report to ``destination``; raise a port error if Adyen does not serve it."""
        origin = self._config.reports_origin
        if not report_url_is_at(report.download_url, origin, report.report_name):
            raise ProviderRejectedError(
                f"the URL of Adyen report {report.report_name} is not at {origin}: "
                f"{report.download_url!r}",
                code="adyen-report-url-refused",
            )
        auth, headers = self._auth()
        try:
            async with (
                httpx.AsyncClient(
                    timeout=self._config.request_timeout_seconds,
                    follow_redirects=False,
                ) as client,
                client.stream("GET", report.download_url, auth=auth, headers=headers) as answer,
            ):
                if answer.status_code != 200:
                    raise _refusal(report.report_name, answer)
                file = await asyncio.to_thread(destination.open, "wb")
                try:
                    async for chunk in answer.aiter_bytes(CHUNK_BYTES):
                        await asyncio.to_thread(file.write, chunk)
                finally:
                    await asyncio.to_thread(file.close)
        except httpx.TimeoutException as error:
            raise ProviderTimeoutError(
                f"Adyen did not serve report {report.report_name} in time: {error!r}"
            ) from error
        except httpx.TransportError as error:
            raise ProviderUnavailableError(
                f"Adyen could not be reached for report {report.report_name}: {error!r}"
            ) from error


def _refusal(name: str, answer: httpx.Response) -> ProviderError:
    status = answer.status_code
    header = answer.headers.get("retry-after")
    retry_after = parse_retry_after(header)
    message = f"Adyen answered {status} to the download of report {name}"
    if status == 429:
        return ProviderRateLimitedError(message, retry_after_seconds=retry_after)
    if status >= 500:
        return ProviderUnavailableError(message, retry_after_seconds=retry_after)
    if status in (401, 403):
        return ProviderRejectedError(
            f"{message}: check the report credentials (report_username/report_password "
            "or report_api_key)",
            code="adyen-report-unauthorized",
        )
    if status == 404:
        return ProviderRejectedError(message, code="adyen-report-not-found")
    return ProviderRejectedError(message, code=f"adyen-http-{status}")
