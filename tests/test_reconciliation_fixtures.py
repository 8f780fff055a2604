"""Each provider's fixture file, in the PSP's documented format, is parsed and matched.

paymux's records are seeded to agree with the file's lines: the file then matches with no
discrepancy, fees and payouts are booked per batch and currency, and the same file again
changes nothing. One payment changed by one minor unit gives exactly one amount mismatch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import polars as pl
import pytest

from paymux.core.plugins import collect_settlement_parsers, create_plugin_manager
from paymux.core.reconciliation.lines import SettlementLine, SettlementLineType, frame_lines
from paymux.core.reconciliation.parsers import check_batch, choose_parser
from paymux.core.services.reconciliation import ReconciliationService
from paymux.core.storage.database import Database
from paymux.core.storage.unit_of_work import PaymentStore
from paymux_recon_support import seed_from_lines

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = {
    "stripe": ROOT / "plugins/stripe/tests/fixtures/balance_change_from_activity.csv",
    "stripe_payouts": ROOT / "plugins/stripe/tests/fixtures/payout_reconciliation.csv",
    "square": ROOT / "plugins/square/tests/fixtures/payouts.json",
    "adyen": ROOT / "plugins/adyen/tests/fixtures/settlement_detail_report_batch_42.csv",
    "bank_transfer": ROOT / "plugins/bank_transfer/tests/fixtures/camt053_statement.xml",
}


def provider_of(name: str) -> str:
    return name.removesuffix("_payouts")


def parsed(provider: str, path: Path) -> list[SettlementLine]:
    parsers = collect_settlement_parsers(create_plugin_manager())
    parser = choose_parser(parsers, provider, path)
    frames = [check_batch(batch, provider) for batch in parser.parse(path)]
    return frame_lines(pl.concat(frames))


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[tuple[PaymentStore, ReconciliationService]]:
    database = Database(database_url)
    store = PaymentStore(database)
    parsers = collect_settlement_parsers(create_plugin_manager())
    yield store, ReconciliationService(store=store, parsers=parsers)
    async with store.begin() as uow:
        assert set((await uow.ledger.totals_by_currency()).values()) <= {0}
    await database.dispose()


@pytest.mark.parametrize("name", sorted(FIXTURES))
async def test_a_fixture_file_matches_records_that_agree_with_it(
    name: str, service: tuple[PaymentStore, ReconciliationService]
) -> None:
    store, reconciliation = service
    provider, path = provider_of(name), FIXTURES[name]
    lines = parsed(provider, path)
    assert lines, "the fixture has lines"
    await seed_from_lines(store, provider, lines)
    result = await reconciliation.reconcile(path, provider=provider, client_id="dev")
    found = await reconciliation.run_discrepancies(result.run.id, client_id="dev")
    assert [(d.kind, d.psp_reference, d.details) for d in found] == []
    assert result.run.lines_total == len(lines)
    assert result.run.lines_matched == len(lines)
    fees = sum(b.amount_minor for b in result.booked if b.kind == "fee")
    assert fees == sum(line.fee_minor for line in lines)
    settled = {
        line.psp_reference
        for line in lines
        if line.type is SettlementLineType.PAYOUT and not line.merchant_reference
    }
    assert {b.kind for b in result.booked} >= ({"payout"} if settled else set())

    again = await reconciliation.reconcile(path, provider=provider, client_id="dev")
    assert (again.opened, again.resolved) == ([], 0)
    async with store.begin() as uow:
        entries = await uow.ledger.totals_by_currency()
    assert set(entries.values()) <= {0}


@pytest.mark.parametrize("name", ["stripe", "square", "adyen", "bank_transfer"])
async def test_one_changed_payment_is_one_amount_mismatch(
    name: str, service: tuple[PaymentStore, ReconciliationService]
) -> None:
    store, reconciliation = service
    provider, path = provider_of(name), FIXTURES[name]
    lines = parsed(provider, path)
    capture = next(line for line in lines if line.type is SettlementLineType.CAPTURE)
    await seed_from_lines(store, provider, lines, amount_delta={capture.psp_reference: 1})
    result = await reconciliation.reconcile(path, provider=provider, client_id="dev")
    found = await reconciliation.run_discrepancies(result.run.id, client_id="dev")
    assert [(d.kind, d.psp_reference, d.line_number) for d in found] == [
        ("amount_mismatch", capture.psp_reference, capture.line_number)
    ]
    assert (found[0].expected_minor, found[0].actual_minor) == (
        capture.gross_minor + 1,
        capture.gross_minor,
    )
