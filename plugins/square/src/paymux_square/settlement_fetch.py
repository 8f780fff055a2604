"""Downloading a day's payouts document from Square (the nightly settlement fetch).

``GET /v2/payouts`` for the location, ``begin_time``/``end_time`` the UTC day (Square filters
on the payout's creation time: begin inclusive, end exclusive), every page; then
``GET /v2/payouts/{payout_id}/payout-entries`` of each payout, every page. The objects are
kept as Square sent them and written as the document :mod:`paymux_square.settlement`
parses: ``{"payouts": [...], "payout_entries": [...]}``.

A day without payouts gives ``None``, not an empty document: Square creates a day's payout
when it sends it, so "none" usually means "not yet", and the nightly job asks again.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel
from square.core.pagination import AsyncPager
from square.core.request_options import RequestOptions
from square.payouts.client import AsyncPayoutsClient

from paymux.core.ports.provider import ProviderUnavailableError

T = TypeVar("T")

MAX_PAGES = 10_000
"""A bound on the pages of one listing (a cursor that never ends is Square's fault)."""


class SquareCaller(Protocol):
    """Runs one SDK call with the provider's options and timeout, mapping its failures to
    ``ProviderError``\\s (``SquareProvider._call``)."""

    async def __call__(
        self, operation: str, send: Callable[[RequestOptions], Awaitable[T]]
    ) -> T: ...


Pager = AsyncPager[Any, Any]
Page = Callable[[str | None, RequestOptions], Awaitable[Pager]]
"""Fetches the page at a cursor (``None``: the first)."""


async def fetch_payouts_document(
    payouts: AsyncPayoutsClient, call: SquareCaller, *, location_id: str, day: date
) -> bytes | None:
    """The payouts Square created on the UTC ``day`` at ``location_id`` and their entries
    (see the module doc); ``None`` when there are none."""
    begin = datetime.combine(day, time(), UTC)
    begin_time, end_time = _rfc3339(begin), _rfc3339(begin + timedelta(days=1))

    async def payouts_page(cursor: str | None, options: RequestOptions) -> Pager:
        return await payouts.list(
            location_id=location_id,
            begin_time=begin_time,
            end_time=end_time,
            cursor=cursor,
            request_options=options,
        )

    found = await _all_pages(call, "list payouts", payouts_page)
    if not found:
        return None
    entries: list[dict[str, Any]] = []
    for payout in found:
        payout_id = payout.get("id")
        if not isinstance(payout_id, str) or not payout_id:
            raise ProviderUnavailableError("Square listed a payout without id")
        operation = f"list payout entries of {payout_id}"
        entries += await _all_pages(call, operation, partial(_entries_page, payouts, payout_id))
    return json.dumps({"payouts": found, "payout_entries": entries}).encode()


async def _all_pages(call: SquareCaller, operation: str, page: Page) -> list[dict[str, Any]]:
    """Every object of a listing, following ``cursor`` page by page (each page one call
    under the provider's timeout)."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        pager = await call(operation, partial(page, cursor))
        items += [_plain(item) for item in pager.items or ()]
        cursor = getattr(pager.response, "cursor", None) or None
        if cursor is None:
            return items
    raise ProviderUnavailableError(f"Square's {operation} did not end after {MAX_PAGES} pages")


async def _entries_page(
    payouts: AsyncPayoutsClient, payout_id: str, cursor: str | None, options: RequestOptions
) -> Pager:
    return await payouts.list_entries(payout_id, cursor=cursor, request_options=options)


def _plain(item: object) -> dict[str, Any]:
    """An SDK object as the JSON Square sent (unset fields left out, unknown ones kept)."""
    if isinstance(item, BaseModel):
        dumped: dict[str, Any] = item.model_dump(mode="json")
        return dumped
    if isinstance(item, dict):
        return item
    raise ProviderUnavailableError(f"Square listed {type(item).__name__}, not an object")


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
