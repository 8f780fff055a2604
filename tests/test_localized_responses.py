"""Amounts and dates for people in API answers, on request (``Accept-Language``), through a
real server: payments, refunds, shipments, payouts, wallets, the ledger, chargebacks, payout
methods, routing and reconciliations; replays; no header, no change."""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from paymux.currencies.display import format_instant
from paymux_test_support import (
    SUCCESS_CARD,
    auth,
    live_service,
    pay_on_hosted_page,
    payment_body,
    wait_for_status,
)

NBSP = "\u00a0"
RLM = "\u200f"


def _without_display(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_display(v) for k, v in node.items() if k != "display"}
    if isinstance(node, list):
        return [_without_display(item) for item in node]
    return node


def _displays(node: Any) -> list[dict[str, str]]:
    """Every ``display`` object in an answer."""
    if isinstance(node, dict):
        own = [node["display"]] if "display" in node else []
        return own + [d for k, v in node.items() if k != "display" for d in _displays(v)]
    if isinstance(node, list):
        return [d for item in node for d in _displays(item)]
    return []


def _shown_at(machine: str, babel_locale: str) -> str:
    return format_instant(datetime.fromisoformat(machine), babel_locale)


def _post(client: httpx.Client, path: str, key: str, body: Any, language: str | None) -> Any:
    headers = {"Idempotency-Key": key}
    if language is not None:
        headers["Accept-Language"] = language
    return client.post(path, json=body, headers=headers)


def _get(client: httpx.Client, path: str, language: str | bytes | None) -> httpx.Response:
    if language is None:
        return client.get(path)
    value = language if isinstance(language, bytes) else language.encode("latin-1")
    return client.get(path, headers=[(b"Accept-Language", value)])


def _localized(response: httpx.Response, tag: str) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    assert response.headers["content-language"] == tag
    assert response.headers["vary"] == "Accept-Language"
    body: dict[str, Any] = response.json()
    assert body["display"]["locale"] == tag
    assert {d["locale"] for d in _displays(body)} == {tag}
    return body


def _plain(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    assert "content-language" not in response.headers
    assert response.headers["vary"] == "Accept-Language"
    body: dict[str, Any] = response.json()
    assert _displays(body) == []
    return body


def test_payments_are_localized_and_replays_follow_the_replaying_request(
    database_url: str,
) -> None:
    jpy = payment_body(
        currency="JPY",
        country="JP",
        orders=[
            {"seller_id": "s1", "amount": "10000", "commission": "1000",
             "reference": "o1", "estimated_delivery": "2026-12-01/2026-12-03"},
            {"seller_id": "s2", "amount": "500", "reference": "o2"},
        ],
    )  # fmt: skip
    with live_service(database_url) as service, service.client() as client:
        created = _post(client, "/v1/payments", "jpy-1", jpy, "ja-JP,ja;q=0.9,en;q=0.8")
        body = _localized(created, "ja-JP")
        assert body["amount"] == "10500"  # the machine fields as ever
        assert body["display"] == {
            "locale": "ja-JP",
            "amount": "￥10,500",
            "created_at": _shown_at(body["created_at"], "ja_JP"),
        }
        assert re.fullmatch(
            r"\d{4}/\d{2}/\d{2} \d{1,2}:\d{2}:\d{2} UTC", body["display"]["created_at"]
        )
        assert [o["display"] for o in body["orders"]] == [
            {"locale": "ja-JP", "amount": "￥10,000", "commission": "￥1,000",
             "logistics_fee": "￥0", "estimated_delivery": "2026年12月1日～3日"},
            {"locale": "ja-JP", "amount": "￥500", "commission": "￥0", "logistics_fee": "￥0"},
        ]  # fmt: skip

        # The stored answer is the machine form: a replay without the header is exactly it,
        # and a replay with another language is shown in that one.
        plain_replay = _post(client, "/v1/payments", "jpy-1", jpy, None)
        assert plain_replay.headers["idempotent-replayed"] == "true"
        assert _plain(plain_replay) == _without_display(body)
        german = _post(client, "/v1/payments", "jpy-1", jpy, "de-DE")
        assert german.headers["idempotent-replayed"] == "true"
        german_body = _localized(german, "de-DE")
        assert german_body["display"]["amount"] == f"10.500{NBSP}¥"
        assert _without_display(german_body) == _without_display(body)

        # GET: with a header (private use dropped; an unknown region falls back to the
        # language), and without
        path = f"/v1/payments/{body['id']}"
        shown = _localized(_get(client, path, "de-LI-x-shop, en;q=0.1"), "de-LI")
        assert shown["orders"][0]["display"]["estimated_delivery"] == "1.–3. Dez. 2026"
        assert _localized(_get(client, path, "de-XX"), "de")["display"]["amount"] == (
            f"10.500{NBSP}¥"
        )
        unchanged = _plain(_get(client, path, None))
        assert _without_display(shown) == unchanged
        for header in (
            "",
            "xx-YY",
            "*;q=0",
            "de;q=2",
            "\u00e9t\u00e9".encode("latin-1"),
            "a" * 5000,
            ";,;",
        ):
            assert _plain(_get(client, path, header)) == unchanged, header

        kwd = payment_body(
            currency="KWD",
            country="KW",
            orders=[{"seller_id": "s1", "amount": "1.234", "reference": "o1"}],
            buyer_locale="ar-KW",
        )
        kwd_body = _localized(_post(client, "/v1/payments", "kwd-1", kwd, "ar-KW"), "ar-KW")
        assert kwd_body["amount"] == "1.234"
        assert kwd_body["display"]["amount"] == f"{RLM}1.234{NBSP}د.ك.{RLM}"
        assert kwd_body["orders"][0]["display"]["commission"] == f"{RLM}0.000{NBSP}د.ك.{RLM}"
        assert (
            _localized(_get(client, f"/v1/payments/{kwd_body['id']}", "en-US"), "en-US")["display"][
                "amount"
            ]
            == "KWD1.234"
        )


def test_refunds_shipments_payouts_wallets_and_the_ledger_are_localized(
    database_url: str,
) -> None:
    with live_service(database_url) as service, service.client() as client:
        created = client.post(
            "/v1/payments", json=payment_body(), headers=auth(idempotency_key="p1")
        )
        pay_on_hosted_page(created.json()["redirect_url"], SUCCESS_CARD)
        payment = wait_for_status(client, created.json()["id"], "succeeded")
        order_a, order_b = payment["orders"]

        too_much = _post(
            client,
            f"/v1/payments/{payment['id']}/refunds",
            "r0",
            {"payment_order_id": order_b["id"], "amount": "1234.56"},
            "de-DE",
        )
        assert too_much.status_code == 422  # problems are never localized
        assert "display" not in too_much.json()
        assert "content-language" not in too_much.headers

        refunded = _localized(
            _post(
                client,
                f"/v1/payments/{payment['id']}/refunds",
                "r1",
                {"payment_order_id": order_b["id"], "amount": "10.00"},
                "de-DE",
            ),
            "de-DE",
        )
        assert refunded["display"] == {
            "locale": "de-DE",
            "amount": f"10,00{NBSP}€",
            "created_at": _shown_at(refunded["created_at"], "de_DE"),
        }
        assert [p["display"]["amount"] for p in refunded["parts"]] == [f"10,00{NBSP}€"]
        refund_path = f"/v1/refunds/{refunded['id']}"
        assert _localized(_get(client, refund_path, "en-US"), "en-US")["display"]["amount"] == (
            "€10.00"
        )
        assert _plain(_get(client, refund_path, None)) == _without_display(refunded)

        shipped = _localized(
            _post(client, f"/v1/payment-orders/{order_a['id']}/shipment", "s1", {}, "ja-JP"),
            "ja-JP",
        )
        assert shipped["display"] == {
            "locale": "ja-JP",
            "shipped_at": _shown_at(shipped["shipped_at"], "ja_JP"),
            "released": "€22.50",
            "commission": "€3.00",
            "logistics_fee": "€4.50",
        }

        payout = _localized(
            _post(client, "/v1/payouts", "out-1", {"seller_id": "seller-a", "currency": "EUR"},
                  "fr-CH"),
            "fr-CH",
        )  # fmt: skip
        assert payout["amount"] == "22.50"
        assert payout["display"] == {
            "locale": "fr-CH",
            "amount": f"22,50{NBSP}€",
            "payout_amount": f"22,50{NBSP}€",
            "created_at": _shown_at(payout["created_at"], "fr_CH"),
        }
        assert payout["display"]["created_at"].endswith(" TU")  # UTC, said in French
        payout_path = f"/v1/payouts/{payout['id']}"
        assert _localized(_get(client, payout_path, "fr-CH"), "fr-CH") == payout
        assert _plain(_get(client, payout_path, None)) == _without_display(payout)

        wallet = _localized(_get(client, "/v1/wallets/seller-b", "de-DE"), "de-DE")
        (balance,) = wallet["balances"]
        assert balance["pending"] == "2.50"
        assert balance["display"] == {
            "locale": "de-DE",
            "pending": f"2,50{NBSP}€",
            "available": f"0,00{NBSP}€",
            "in_transit": f"0,00{NBSP}€",
            "paid_out": f"0,00{NBSP}€",
            "disputed": f"0,00{NBSP}€",
            "receivable": f"0,00{NBSP}€",
        }
        assert _plain(_get(client, "/v1/wallets/seller-b", None)) == _without_display(wallet)

        journal = f"/v1/ledger/transactions/{shipped['ledger_transaction_id']}"
        transaction = _localized(_get(client, journal, "de-DE"), "de-DE")
        postings = transaction["postings"]
        assert [p["display"]["amount"] for p in postings] == [
            f"{p['amount'].replace('.', ',')}{NBSP}€" for p in postings
        ]
        assert _plain(_get(client, journal, None)) == _without_display(transaction)


MARKETS = """
version = 1
[providers.sandbox]
sandbox = true
[markets.de]
name = "Germany"
countries = ["DE"]
[markets.de.currencies.EUR]
methods.card = ["sandbox"]
commission = { percent = "12.5", minimum = "0.50" }
logistics_fee = "4.90"
"""


def _chargebacks_of(client: httpx.Client, payment_id: str) -> None:
    deadline = time.monotonic() + 3.0
    while not client.get(f"/v1/payments/{payment_id}/chargebacks").json()["chargebacks"]:
        assert time.monotonic() < deadline, "no chargeback"
        time.sleep(0.05)


def test_chargebacks_payout_methods_routing_and_reconciliations_are_localized(
    database_url: str, tmp_path: Path
) -> None:
    markets = tmp_path / "markets.toml"
    markets.write_text(MARKETS)
    with (
        live_service(database_url, settings={"markets_file": str(markets)}) as service,
        service.client() as client,
    ):
        created = client.post(
            "/v1/payments", json=payment_body(), headers=auth(idempotency_key="p1")
        )
        redirect_url = created.json()["redirect_url"]
        pay_on_hosted_page(redirect_url, SUCCESS_CARD)
        payment = wait_for_status(client, created.json()["id"], "succeeded")
        opened = httpx.post(
            f"{service.url}/sandbox-psp/_admin/disputes",
            json={"token": redirect_url.rsplit("/")[-1]},
        )
        assert opened.status_code == 201, opened.text
        _chargebacks_of(client, payment["id"])

        listing = _localized(
            _get(client, f"/v1/payments/{payment['id']}/chargebacks", "de-DE"), "de-DE"
        )
        (chargeback,) = listing["chargebacks"]
        assert chargeback["display"] == {
            "locale": "de-DE",
            "amount": f"42,50{NBSP}€",
            "unallocated": f"0,00{NBSP}€",
            "created_at": _shown_at(chargeback["created_at"], "de_DE"),
            "updated_at": _shown_at(chargeback["updated_at"], "de_DE"),
        }
        assert sorted(p["display"]["amount"] for p in chargeback["parts"]) == [
            f"12,50{NBSP}€",
            f"30,00{NBSP}€",
        ]
        one = f"/v1/chargebacks/{chargeback['id']}"
        assert _localized(_get(client, one, "en-US"), "en-US")["display"]["amount"] == "€42.50"
        assert _plain(_get(client, one, None)) == _without_display(chargeback)

        method = client.put(
            "/v1/sellers/seller-a/payout-method",
            json={"provider": "sandbox", "account": "acct-a"},
            headers={"Accept-Language": "ja-JP"},
        )
        shown = _localized(method, "ja-JP")
        assert shown["display"] == {
            "locale": "ja-JP",
            "created_at": _shown_at(shown["created_at"], "ja_JP"),
            "updated_at": _shown_at(shown["updated_at"], "ja_JP"),
        }
        path = "/v1/sellers/seller-a/payout-method"
        assert _plain(_get(client, path, None)) == _without_display(shown)

        explained = _localized(
            client.get(
                "/v1/routing/explain",
                params={"country": "DE", "currency": "EUR"},
                headers={"Accept-Language": "de-DE"},
            ),
            "de-DE",
        )
        assert explained["fees"]["display"] == {"locale": "de-DE", "logistics_fee": f"4,90{NBSP}€"}
        assert explained["fees"]["commission"]["display"] == {
            "locale": "de-DE",
            "minimum": f"0,50{NBSP}€",
        }

        unknown = (
            "line_id,type,payment_reference,modification_reference,merchant_reference,"
            "currency,gross,fee,net,booked_at,batch\n"
            "sbxln_1,capture,sbxref_nobody,,,EUR,1234.50,0.00,1234.50,"
            "2026-11-23T09:00:00Z,b1\n"
        )
        uploaded = client.post(
            "/v1/reconciliations",
            params={"provider": "sandbox"},
            content=unknown.encode(),
            headers={"Idempotency-Key": "r1", "Accept-Language": "de-DE"},
        )
        run = _localized(uploaded, "de-DE")
        assert run["display"] == {
            "locale": "de-DE",
            "period_start": "23. Nov. 2026",
            "period_end": "23. Nov. 2026",
            "created_at": _shown_at(run["created_at"], "de_DE"),
            "finished_at": _shown_at(run["finished_at"], "de_DE"),
        }
        runs = f"/v1/reconciliations/{run['id']}"
        assert _localized(_get(client, runs, "de-DE"), "de-DE") == run
        assert _plain(_get(client, runs, None)) == _without_display(run)
        found = _localized(_get(client, f"{runs}/discrepancies", "de-DE"), "de-DE")
        (discrepancy,) = found["discrepancies"]
        assert discrepancy["actual_minor"] == 123450
        assert discrepancy["display"] == {
            "locale": "de-DE",
            "actual_minor": f"1.234,50{NBSP}€",
            "opened_at": _shown_at(discrepancy["opened_at"], "de_DE"),
        }
