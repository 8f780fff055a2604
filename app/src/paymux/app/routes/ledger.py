"""Wallets and the ledger, read-only: ``/v1/wallets`` and ``/v1/ledger``.

No ``from __future__ import annotations`` here: FastAPI resolves the local ``Client`` alias.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from paymux.app.problems import ProblemRoute
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


def ledger_router(runtime: PaymuxRuntime) -> APIRouter:
    """The wallet and ledger endpoints, bound to ``runtime``."""
    router = APIRouter(prefix="/v1", tags=["ledger"], route_class=ProblemRoute)
    Client = Annotated[str, Depends(runtime.api_keys)]  # noqa: N806 - a type alias

    @router.get("/wallets/{seller_id}", response_model=WalletOut)
    async def wallet(seller_id: str, client_id: Client) -> WalletOut:
        """The seller's pending and available money per currency, derived from the ledger."""
        balances = await runtime.ledger.wallet(client_id, seller_id)
        return WalletOut(
            seller_id=seller_id,
            balances=[
                WalletBalanceOut(
                    currency=b.currency,
                    pending=b.pending.amount_str,
                    available=b.available.amount_str,
                    paid_out=b.paid_out.amount_str,
                    disputed=b.disputed.amount_str,
                    receivable=b.receivable.amount_str,
                )
                for b in balances
            ],
        )

    @router.get("/ledger/accounts/{account_id}", response_model=AccountOut)
    async def account(account_id: str, client_id: Client) -> AccountOut:
        """One ledger account and its balance."""
        return AccountOut.of(await runtime.ledger.account(client_id, account_id))

    @router.get("/ledger/accounts/{account_id}/entries", response_model=EntriesPage)
    async def entries(
        account_id: str,
        client_id: Client,
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
        return EntriesPage(
            account=AccountOut.of(found),
            data=[EntryOut.of(row) for row in page],
            has_more=len(rows) > limit,
            next_after=page[-1].id if len(rows) > limit else None,
        )

    @router.get("/ledger/transactions/{transaction_id}", response_model=LedgerTransactionOut)
    async def transaction(transaction_id: str, client_id: Client) -> LedgerTransactionOut:
        """One journal transaction with every posting."""
        return LedgerTransactionOut.of(await runtime.ledger.transaction(client_id, transaction_id))

    return router
