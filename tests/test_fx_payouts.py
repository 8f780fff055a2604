"""Payouts in the seller's currency: JPY money paid out in EUR at a locked quote, through the
sandbox with fixed rates (1 JPY = 0.0061 EUR)."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from paymux.app.cli import cli
from paymux.app.factory import create_app
from paymux.core.plugins import create_plugin_manager
from paymux.core.storage.database import sync_url
from paymux_test_support import (
    API_KEY,
    SUCCESS_CARD,
    LiveService,
    auth,
    count_rows,
    free_socket,
    live_service,
    make_settings,
    pay_on_hosted_page,
    payment_body,
    sandbox_stats,
    serve_in_thread,
    wait_for_status,
)

PROBLEM = "https://paymux.dev/problems/"
FX = {"fx": {"fixed_rates": {"JPY/EUR": "0.0061"}}}
FAILING_SELLER = "sandbox-payout-fails"
ECB_FILE = Path(__file__).parents[1] / "contrib/ecb_rates/tests/data/eurofxref-daily.xml"


@contextmanager
def _service_without_rate_sources(database_url: str) -> Iterator[LiveService]:
    """paymux with the sandbox and no rate source at all (the ECB plugin unregistered,
    no fixed rates): ``runtime.quoter`` is ``None``."""
    manager = create_plugin_manager()
    if manager.has_plugin("ecb_rates"):
        manager.unregister(name="ecb_rates")
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(make_settings(database_url, url), plugin_manager=manager)
    assert app.state.paymux.quoter is None
    with serve_in_thread(app, sock):
        yield LiveService(url=url, app=app)


def _sold_in_jpy(client: httpx.Client, key: str, seller: str) -> None:
    """A paid and shipped JPY order: 10000, commission 1000, logistics fee 500: 8500 JPY
    available to ``seller``."""
    body = payment_body(
        currency="JPY",
        orders=[
            {"seller_id": seller, "amount": "10000", "commission": "1000",
             "logistics_fee": "500", "reference": "o1"}
        ],
    )  # fmt: skip
    created = client.post("/v1/payments", json=body, headers=auth(idempotency_key=key))
    assert created.status_code == 201, created.text
    pay_on_hosted_page(created.json()["redirect_url"], SUCCESS_CARD)
    payment = wait_for_status(client, created.json()["id"], "succeeded")
    shipped = client.post(
        f"/v1/payment-orders/{payment['orders'][0]['id']}/shipment",
        headers={"Idempotency-Key": f"ship-{key}"},
    )
    assert shipped.status_code == 201, shipped.text


def _payout(client: httpx.Client, key: str, **body: Any) -> httpx.Response:
    return client.post("/v1/payouts", json=body, headers={"Idempotency-Key": key})


def _wallet(client: httpx.Client, seller: str) -> dict[str, dict[str, str]]:
    balances = client.get(f"/v1/wallets/{seller}").json()["balances"]
    return {
        b["currency"]: {k: b[k] for k in ("pending", "available", "in_transit", "paid_out")}
        for b in balances
    }


def _query(database_url: str, sql: str) -> list[Any]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(sql)).all())
    finally:
        engine.dispose()


def _unbalanced(database_url: str) -> list[Any]:
    """Transactions whose postings do not sum to zero in some currency (none in a sound
    ledger)."""
    return _query(
        database_url,
        "SELECT transaction_id, currency, SUM(amount_minor) FROM ledger_posting "
        "GROUP BY transaction_id, currency HAVING SUM(amount_minor) <> 0",
    )


def _fx_position(database_url: str) -> dict[str, int]:
    """The platform's fx_conversion balance per currency (debit positive)."""
    rows = _query(
        database_url,
        "SELECT a.currency, COALESCE(SUM(p.amount_minor), 0) FROM ledger_account a "
        "LEFT JOIN ledger_posting p ON p.account_id = a.id "
        "WHERE a.purpose = 'fx_conversion' GROUP BY a.currency",
    )
    return {str(currency): int(total) for currency, total in rows}


def _sandbox_payout_lines(service_url: str, payout_id: str) -> list[dict[str, str]]:
    """The sandbox's settlement lines of the seller payout ``payout_id``."""
    day = datetime.now(UTC).date().isoformat()
    answer = httpx.get(f"{service_url}/sandbox-psp/_admin/settlements/{day}")
    assert answer.status_code == 200, answer.text
    rows = csv.DictReader(io.StringIO(answer.text))
    return [row for row in rows if row["merchant_reference"] == payout_id]


def test_jpy_money_is_paid_out_in_eur_at_a_locked_quote(database_url: str) -> None:
    with live_service(database_url, settings=FX) as service, service.client() as client:
        _sold_in_jpy(client, "p1", "seller-a")
        answer = _payout(
            client, "out-1", seller_id="seller-a", currency="JPY", amount="1250",
            payout_currency="EUR",
        )  # fmt: skip
        assert answer.status_code == 201, answer.text
        body = answer.json()
        # 1250 x 0.0061 = 7.625 exactly: rounded once, half to even
        assert {k: body[k] for k in ("status", "currency", "amount")} == {
            "status": "paid",
            "currency": "JPY",
            "amount": "1250",
        }
        assert (body["payout_currency"], body["payout_amount"]) == ("EUR", "7.62")
        quote = body["fx_quote"]
        assert {k: quote[k] for k in ("base", "quote", "rate", "source")} == {
            "base": "JPY",
            "quote": "EUR",
            "rate": "0.0061",
            "source": "fixed",
        }
        assert quote["created_at"] < quote["expires_at"]
        assert _wallet(client, "seller-a") == {
            "EUR": {"pending": "0.00", "available": "0.00", "in_transit": "0.00",
                    "paid_out": "7.62"},
            "JPY": {"pending": "0", "available": "7250", "in_transit": "0", "paid_out": "0"},
        }  # fmt: skip
        assert client.get(f"/v1/payouts/{body['id']}").json() == body
        # the provider was asked to pay 7.62 EUR
        (line,) = _sandbox_payout_lines(service.url, body["id"])
        assert (line["type"], line["currency"], line["gross"]) == ("payout", "EUR", "-7.62")
        assert _unbalanced(database_url) == []
        # the platform kept 1250 JPY and gave 7.62 EUR away
        assert _fx_position(database_url) == {"JPY": -1250, "EUR": 762}
        # reconciliation matches the EUR settlement line to the payout: no discrepancy
        day = datetime.now(UTC).date().isoformat()
        settlement = httpx.get(f"{service.url}/sandbox-psp/_admin/settlements/{day}").content
        run = client.post(
            "/v1/reconciliations", params={"provider": "sandbox"}, content=settlement,
            headers={"Idempotency-Key": "recon-1"},
        )  # fmt: skip
        assert run.status_code == 201, run.text
        found = client.get(f"/v1/reconciliations/{run.json()['id']}/discrepancies").json()
        assert found["discrepancies"] == []


def test_the_payout_method_currency_converts_and_a_replay_needs_no_rate(
    database_url: str,
) -> None:
    with live_service(database_url, settings=FX) as service, service.client() as client:
        _sold_in_jpy(client, "p1", "seller-a")
        iban = {"provider": "sandbox", "account": "DE89370400440532013000"}
        lower = client.put("/v1/sellers/seller-a/payout-method", json={**iban, "currency": "eur"})
        assert (lower.status_code, lower.json()["type"]) == (422, PROBLEM + "unknown-currency")
        method = client.put("/v1/sellers/seller-a/payout-method", json={**iban, "currency": "EUR"})
        assert method.status_code == 200, method.text
        assert method.json()["currency"] == "EUR"
        first = _payout(client, "out-1", seller_id="seller-a", currency="JPY")
        assert first.status_code == 201, first.text
        assert (first.json()["amount"], first.json()["payout_currency"]) == ("8500", "EUR")
        assert first.json()["payout_amount"] == "51.85"  # 8500 x 0.0061
        again = _payout(client, "out-1", seller_id="seller-a", currency="JPY")
        assert (again.status_code, again.content) == (201, first.content)
        # the request's payout_currency comes first: JPY stays JPY (nothing left, though)
        same = _payout(client, "out-2", seller_id="seller-a", currency="JPY", payout_currency="JPY")
        assert same.json()["type"] == PROBLEM + "payout-not-allowed"
    # a process without a rate source still replays the converted payout it stored
    with _service_without_rate_sources(database_url) as service, service.client() as client:
        replay = _payout(client, "out-1", seller_id="seller-a", currency="JPY")
        assert (replay.status_code, replay.content) == (201, first.content)
        assert sandbox_stats(service.url)["payouts"] == 0  # this sandbox was never asked
        assert _wallet(client, "seller-a")["EUR"]["paid_out"] == "51.85"
    assert count_rows(database_url)["payout"] == 1
    assert _unbalanced(database_url) == []


def test_without_a_rate_a_converted_payout_is_a_problem_and_writes_nothing(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _service_without_rate_sources(database_url) as service, service.client() as client:
        _sold_in_jpy(client, "p1", "seller-a")
        before = count_rows(database_url)
        answer = _payout(client, "out-1", seller_id="seller-a", currency="JPY",
                         payout_currency="EUR")  # fmt: skip
        assert (answer.status_code, answer.json()["type"]) == (
            422,
            PROBLEM + "fx-rate-unavailable",
        )
        assert "no rate source" in answer.json()["detail"]
        client.put(
            "/v1/sellers/seller-a/payout-method",
            json={"provider": "sandbox", "account": "DE89370400440532013000", "currency": "EUR"},
        )
        by_method = _payout(client, "out-2", seller_id="seller-a", currency="JPY")
        assert by_method.json()["type"] == PROBLEM + "fx-rate-unavailable"
        assert count_rows(database_url) == before
        assert _wallet(client, "seller-a")["JPY"]["available"] == "8500"
    # only a stale rate: the ECB file's day (2026-11-23) is older than 0 days allows
    monkeypatch.setenv("PAYMUX_ECB__FILE", str(ECB_FILE))
    stale = {"fx": {"source": "ecb", "max_rate_age_days": 0}}
    with live_service(database_url, settings=stale) as service, service.client() as client:
        answer = _payout(client, "out-1", seller_id="seller-a", currency="JPY")
        assert (answer.status_code, answer.json()["type"]) == (
            422,
            PROBLEM + "fx-rate-unavailable",
        )
        assert "too old" in answer.json()["detail"]
        assert count_rows(database_url) == before
    with live_service(database_url, settings=FX) as service, service.client() as client:
        # a rate source without this pair: no JPY/USD rate
        unknown = _payout(client, "out-3", seller_id="seller-a", currency="JPY",
                          payout_currency="USD")  # fmt: skip
        assert (unknown.status_code, unknown.json()["type"]) == (
            422,
            PROBLEM + "fx-rate-unavailable",
        )
        bad = _payout(client, "out-4", seller_id="seller-a", currency="JPY",
                      payout_currency="XYZ")  # fmt: skip
        assert (bad.status_code, bad.json()["type"]) == (422, PROBLEM + "unknown-currency")
        assert count_rows(database_url) == before
        # the key of a refused request is free again: now it converts
        retried = _payout(client, "out-1", seller_id="seller-a", currency="JPY",
                          payout_currency="EUR")  # fmt: skip
        assert retried.status_code == 201, retried.text


def test_a_failed_converted_payout_gives_the_jpy_back(database_url: str) -> None:
    with live_service(database_url, settings=FX) as service, service.client() as client:
        _sold_in_jpy(client, "p1", FAILING_SELLER)
        payout = _payout(client, "out-1", seller_id=FAILING_SELLER, currency="JPY",
                         payout_currency="EUR").json()  # fmt: skip
        assert (payout["status"], payout["failure_code"]) == ("failed", "account_closed")
        assert (payout["amount"], payout["payout_amount"]) == ("8500", "51.85")
        assert _wallet(client, FAILING_SELLER) == {
            "EUR": {"pending": "0.00", "available": "0.00", "in_transit": "0.00",
                    "paid_out": "0.00"},
            "JPY": {"pending": "0", "available": "8500", "in_transit": "0", "paid_out": "0"},
        }  # fmt: skip
        assert _fx_position(database_url) == {"JPY": 0, "EUR": 0}
        assert _unbalanced(database_url) == []
        kinds = _query(
            database_url,
            "SELECT kind FROM ledger_transaction WHERE kind LIKE 'payout%' ORDER BY kind",
        )
        assert [kind for (kind,) in kinds] == ["payout_initiated", "payout_reversed"]


def test_the_batch_pays_in_the_payout_method_currency(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with live_service(database_url, settings=FX) as service, service.client() as client:
        _sold_in_jpy(client, "p1", "seller-a")
        _sold_in_jpy(client, "p2", "seller-b")
        client.put(
            "/v1/sellers/seller-a/payout-method",
            json={"provider": "sandbox", "account": "DE89370400440532013000", "currency": "EUR"},
        )
        monkeypatch.setenv("PAYMUX_DATABASE_URL", database_url)
        monkeypatch.setenv("PAYMUX_PUBLIC_URL", service.url)
        monkeypatch.setenv("PAYMUX_API_KEYS", f'{{"{API_KEY}": "dev"}}')
        monkeypatch.setenv("PAYMUX_FX__FIXED_RATES", '{"JPY/EUR": "0.0061"}')
        arguments = ["payouts", "run", "--currency", "JPY", "--threshold", "1000",
                     "--batch-id", "b1"]  # fmt: skip
        first = CliRunner().invoke(cli, arguments)
        assert first.exit_code == 0, first.output
        assert "paid 2, failed 0 (reversed), pending 0, not paid 0" in first.output
        assert CliRunner().invoke(cli, arguments).exit_code == 0  # replayed, not paid twice
        assert sandbox_stats(service.url)["payouts"] == 2
        assert _wallet(client, "seller-a")["EUR"]["paid_out"] == "51.85"
        assert _wallet(client, "seller-a")["JPY"]["available"] == "0"
        assert _wallet(client, "seller-b") == {
            "JPY": {"pending": "0", "available": "0", "in_transit": "0", "paid_out": "8500"}
        }
        assert _unbalanced(database_url) == []


@pytest.mark.postgres
async def test_concurrent_converted_payouts_never_overdraw_the_jpy(postgres_url: str) -> None:
    with live_service(postgres_url, settings=FX) as service, service.client() as client:
        _sold_in_jpy(client, "p1", "seller-a")  # 8500 JPY available
        async with httpx.AsyncClient(base_url=service.url, headers=auth(), timeout=30) as racer:
            answers = await asyncio.gather(
                *(
                    racer.post(
                        "/v1/payouts",
                        json={
                            "seller_id": "seller-a",
                            "currency": "JPY",
                            "amount": "1000",
                            "payout_currency": "EUR",
                        },
                        headers={"Idempotency-Key": f"race-{i}"},
                    )
                    for i in range(12)
                )
            )
        statuses = [a.status_code for a in answers]
        assert statuses.count(201) == 8, statuses
        assert set(statuses) == {201, 422}
        refused = {a.json()["type"] for a in answers if a.status_code == 422}
        assert refused == {PROBLEM + "payout-not-allowed"}
        assert {a.json()["payout_amount"] for a in answers if a.status_code == 201} == {"6.10"}
        assert _wallet(client, "seller-a") == {
            "EUR": {"pending": "0.00", "available": "0.00", "in_transit": "0.00",
                    "paid_out": "48.80"},
            "JPY": {"pending": "0", "available": "500", "in_transit": "0", "paid_out": "0"},
        }  # fmt: skip
        assert sandbox_stats(service.url)["payouts"] == 8
        assert _unbalanced(postgres_url) == []
        assert _fx_position(postgres_url) == {"JPY": -8000, "EUR": 4880}


def test_a_pending_converted_payout_is_in_transit_in_eur_and_resumes_at_its_quote(
    database_url: str,
) -> None:
    settings = {**FX, "embedded_worker": "never"}
    with live_service(database_url, settings=settings) as service, service.client() as client:
        _sold_in_jpy(client, "p1", "seller-a")
        fault = {"api": [{"fault": "unavailable", "operation": "payout"}]}
        assert httpx.post(f"{service.url}/sandbox-psp/_admin/faults", json=fault).is_success
        request = {"seller_id": "seller-a", "currency": "JPY", "payout_currency": "EUR"}
        unknown = _payout(client, "out-1", **request)
        assert (unknown.status_code, unknown.json()["type"]) == (
            503,
            PROBLEM + "provider-unavailable",
        )
        payout_id = unknown.json()["payout_id"]
        pending = client.get(f"/v1/payouts/{payout_id}").json()
        assert (pending["status"], pending["payout_amount"]) == ("pending", "51.85")
        assert _wallet(client, "seller-a") == {
            "EUR": {"pending": "0.00", "available": "0.00", "in_transit": "51.85",
                    "paid_out": "0.00"},
            "JPY": {"pending": "0", "available": "0", "in_transit": "0", "paid_out": "0"},
        }  # fmt: skip
        resumed = _payout(client, "out-1", **request)
        assert resumed.status_code == 201, resumed.text
        body = resumed.json()
        assert (body["id"], body["status"], body["payout_amount"]) == (payout_id, "paid", "51.85")
        assert body["fx_quote"] == pending["fx_quote"]  # the quote locked the first time
        (line,) = _sandbox_payout_lines(service.url, payout_id)
        assert (line["currency"], line["gross"]) == ("EUR", "-51.85")
        assert _wallet(client, "seller-a")["EUR"] == {
            "pending": "0.00",
            "available": "0.00",
            "in_transit": "0.00",
            "paid_out": "51.85",
        }
        assert _unbalanced(database_url) == []
