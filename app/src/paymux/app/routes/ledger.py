"""Wallets and the ledger, read-only: ``/v1/wallets`` and ``/v1/ledger``.

No ``from __future__ import annotations`` here: FastAPI resolves the local scope aliases.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, Security

from paymux.app.localization import DisplayLocale, display_headers, localize, requested_locale
from paymux.app.routes.common import api_router, problem_responses
from paymux.app.routes.paging import page_limit
from paymux.app.runtime import PaymuxRuntime
from paymux.app.schemas import (
    AccountOut,
    EntriesPage,
    EntryOut,
    LedgerTransactionOut,
    WalletBalanceOut,
    WalletOut,
)
from paymux.core.domain.api_keys import Scope

_NOT_FOUND = problem_responses({404: "No such ledger account or transaction for this client"})


def ledger_router(runtime: PaymuxRuntime) -> APIRouter:
    """The wallet and ledger endpoints, bound to ``runtime``."""
    router = api_router(prefix="/v1", tags=["ledger"])
    Payer = Annotated[str, Security(runtime.api_keys, scopes=[Scope.PAYOUTS])]  # noqa: N806
    Admin = Annotated[str, Security(runtime.api_keys, scopes=[Scope.ADMIN])]  # noqa: N806
    Locale = Annotated[DisplayLocale | None, Depends(requested_locale)]  # noqa: N806

    def shown(response: Response, locale: DisplayLocale | None) -> None:
        response.headers.update(display_headers(locale))

    @router.get("/wallets/{seller_id}", response_model=WalletOut)
    async def wallet(
        seller_id: str, client_id: Payer, locale: Locale, response: Response
    ) -> WalletOut:
        """The seller's money per currency, derived from the ledger: pending, available, in
        transit and paid out, in every currency they have money in or were paid in."""
        balances = await runtime.ledger.wallet(client_id, seller_id)
        shown(response, locale)
        view = WalletOut(
            seller_id=seller_id,
            balances=[
                WalletBalanceOut(
                    currency=b.currency,
                    pending=b.pending.amount_str,
                    available=b.available.amount_str,
                    in_transit=b.in_transit.amount_str,
                    paid_out=b.paid_out.amount_str,
                    disputed=b.disputed.amount_str,
                    receivable=b.receivable.amount_str,
                )
                for b in balances
            ],
        )
        return localize(view, locale)

    @router.get("/ledger/accounts/{account_id}", response_model=AccountOut, responses=_NOT_FOUND)
    async def account(
        account_id: str, client_id: Admin, locale: Locale, response: Response
    ) -> AccountOut:
        """One ledger account and its balance."""
        found = await runtime.ledger.account(client_id, account_id)
        shown(response, locale)
        return localize(AccountOut.of(found), locale)

    @router.get(
        "/ledger/accounts/{account_id}/entries", response_model=EntriesPage, responses=_NOT_FOUND
    )
    async def entries(
        account_id: str,
        client_id: Admin,
        locale: Locale,
        response: Response,
        limit: Annotated[int, page_limit(100, 500)],
        after: Annotated[
            int | None, Query(ge=0, description="Last entry id of the page before")
        ] = None,
    ) -> EntriesPage:
        """The account's postings, oldest first, a page at a time (``after`` = ``next_after``)."""
        found, rows = await runtime.ledger.entries(
            client_id, account_id, after=after, limit=limit + 1
        )
        page = list(rows[:limit])
        shown(response, locale)
        view = EntriesPage(
            account=AccountOut.of(found),
            data=[EntryOut.of(row) for row in page],
            has_more=len(rows) > limit,
            next_after=page[-1].id if len(rows) > limit else None,
        )
        return localize(view, locale)

    @router.get(
        "/ledger/transactions/{transaction_id}",
        response_model=LedgerTransactionOut,
        responses=_NOT_FOUND,
    )
    async def transaction(
        transaction_id: str, client_id: Admin, locale: Locale, response: Response
    ) -> LedgerTransactionOut:
        """One journal transaction with every posting."""
        found = await runtime.ledger.transaction(client_id, transaction_id)
        shown(response, locale)
        return localize(LedgerTransactionOut.of(found), locale)

    return router
