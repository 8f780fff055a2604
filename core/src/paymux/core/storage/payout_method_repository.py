"""Sellers' payout methods, within a unit of work's transaction."""

from __future__ import annotations

import json
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from paymux.core.domain.payouts import SellerPayoutMethod
from paymux.core.storage.tables import SellerPayoutMethodRow, table_of

_method = table_of(SellerPayoutMethodRow)


class PayoutMethodRepository:
    """Reads and writes sellers' payout methods in one open transaction."""

    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._session = session
        self._dialect = dialect

    async def put(self, method: SellerPayoutMethod) -> None:
        """Create or replace the seller's payout method (``created_at`` is kept)."""
        insert = (postgresql.insert if self._dialect == "postgresql" else sqlite.insert)(_method)
        values = {
            "client_id": method.client_id,
            "seller_id": method.seller_id,
            "provider": method.provider,
            "account": method.account,
            "holder_name": method.holder_name,
            "details": json.dumps(method.details, sort_keys=True),
            "created_at": method.created_at,
            "updated_at": method.updated_at,
            "currency": method.currency,
        }
        changing = {k: v for k, v in values.items() if k not in ("client_id", "seller_id")}
        changing.pop("created_at")
        await self._session.execute(
            insert.values(**values).on_conflict_do_update(
                index_elements=["client_id", "seller_id"], set_=changing
            )
        )

    async def get(self, client_id: str, seller_id: str) -> SellerPayoutMethod | None:
        """The seller's payout method, if one is configured."""
        row: Any = (
            cast(
                sa.CursorResult[Any],
                await self._session.execute(
                    sa.select(_method).where(
                        _method.c.client_id == client_id, _method.c.seller_id == seller_id
                    )
                ),
            )
        ).one_or_none()
        if row is None:
            return None
        return SellerPayoutMethod(
            client_id=row.client_id,
            seller_id=row.seller_id,
            provider=row.provider,
            account=row.account,
            holder_name=row.holder_name,
            details=dict(json.loads(row.details)),
            created_at=row.created_at,
            updated_at=row.updated_at,
            currency=row.currency,
        )
