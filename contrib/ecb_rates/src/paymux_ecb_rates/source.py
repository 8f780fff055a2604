"""The ECB rate source: euro reference rates, cross rates through the euro."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import httpx

from paymux.core.fx.rates import Rate, RateUnavailableError, cross_rate
from paymux_ecb_rates.reference_xml import ReferenceDay, ReferenceRatesError, parse_reference_rates

Fetch = Callable[[], Awaitable[bytes]]

MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
"""The largest document fetched (the daily file is about 2 KB, the full history 6 MB)."""

RETRY_SECONDS = 60.0
"""After a failed refresh the day already read answers this long before the next try."""


def fetch_url(url: str, *, timeout_seconds: float = 10.0) -> Fetch:
    """A fetch that GETs ``url`` (a new HTTP client per fetch: it happens once an hour)."""

    async def fetch() -> bytes:
        async with (
            httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=True) as client,
            client.stream("GET", url) as response,
        ):
            response.raise_for_status()
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise ReferenceRatesError(f"{url} sent more than {MAX_DOCUMENT_BYTES} bytes")
            return bytes(body)

    return fetch


def read_file(path: Path) -> Fetch:
    """A fetch that reads ``path``."""

    async def fetch() -> bytes:
        return await asyncio.to_thread(path.read_bytes)

    return fetch


class EcbRateSource:
    """``1 EUR = x`` from the ECB's newest day; other pairs crossed through the euro.

    The document is fetched on the first rate asked for and again ``refresh_seconds``
    later; when a refresh fails the day already read keeps answering (the quoter refuses
    it once it is too old) and the next try is a minute later. Only one fetch runs at a
    time.
    """

    def __init__(
        self,
        fetch: Fetch,
        *,
        name: str = "ecb",
        refresh_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._name = name
        self._refresh = refresh_seconds
        self._clock = clock
        self._day: ReferenceDay | None = None
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return self._name

    async def rate(self, base: str, quote: str) -> Rate:
        day = await self._newest_day()
        return cross_rate(self._from_euro(day, base), self._from_euro(day, quote))

    def _from_euro(self, day: ReferenceDay, currency: str) -> Rate:
        if currency == "EUR":
            return Rate("EUR", "EUR", Decimal(1), self._name, day.day)
        if currency not in day.rates:
            raise RateUnavailableError(f"the ECB publishes no reference rate for {currency}")
        return Rate("EUR", currency, day.rates[currency], self._name, day.day)

    async def _newest_day(self) -> ReferenceDay:
        async with self._lock:
            if self._day is None or self._clock() - self._fetched_at >= self._refresh:
                try:
                    self._day = parse_reference_rates(await self._fetch())[0]
                    self._fetched_at = self._clock()
                except (httpx.HTTPError, OSError, ReferenceRatesError) as error:
                    if self._day is None:
                        raise RateUnavailableError(
                            f"the ECB rates could not be read: {error}"
                        ) from error
                    # keep answering with the day read; try again in a minute, not per quote
                    retry_in = min(RETRY_SECONDS, self._refresh)
                    self._fetched_at = self._clock() - self._refresh + retry_in
            return self._day
