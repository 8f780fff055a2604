"""A JPY payment settled in USD, end to end through the API and the sandbox.

The sandbox account settles in USD (``settlement_currency``) and converts at paymux's fixed
rate less a 1 % spread, so what it settles differs from paymux's quote. paymux locks the
quote when the payment is created, shows it, books the payment through the FX position,
and reconciliation books the difference as an FX loss, once, with every ledger transaction
balanced per currency.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from paymux_fx_support import assert_balanced_per_currency, balance, postings, run_nightly
from paymux_test_support import (
    SUCCESS_CARD,
    auth,
    count_rows,
    live_service,
    pay_on_hosted_page,
    payment_body,
    wait_for_status,
)

PROBLEM = "https://paymux.dev/problems/"
FX = {"fx": {"fixed_rates": {"JPY/USD": "0.0066"}}}
"""paymux's quote: 1 JPY = 0.0066 USD."""


def nightly(database_url: str, service_url: str, day: datetime) -> int:
    """Run the worker's nightly reconciliation of ``day`` now, in a runtime of its own."""
    return run_nightly(
        database_url, service_url, day, settings=FX, settlement_currency="USD", fx_spread="0.01"
    )


def yen_body() -> dict[str, Any]:
    return payment_body(
        currency="JPY",
        country="JP",
        orders=[
            {"seller_id": "seller-a", "amount": "1000", "commission": "100",
             "logistics_fee": "50", "reference": "order-1"},
            {"seller_id": "seller-b", "amount": "2333", "reference": "order-2"},
        ],
    )  # fmt: skip


def pay_yen(client: httpx.Client) -> tuple[dict[str, Any], str]:
    """:func:`yen_body` paid on the hosted page: the succeeded payment and its sandbox token."""
    created = client.post("/v1/payments", json=yen_body(), headers=auth(idempotency_key="p1"))
    assert created.status_code == 201, created.text
    redirect_url = created.json()["redirect_url"]
    pay_on_hosted_page(redirect_url, SUCCESS_CARD)
    paid = wait_for_status(client, created.json()["id"], "succeeded", timeout=5.0)
    return paid, redirect_url.rsplit("/")[-1]


def open_dispute(disputes_url: str, token: str, **extra: Any) -> str:
    """The id of a dispute the sandbox opens for the payment of ``token``."""
    opened = httpx.post(disputes_url, json={"token": token, **extra})
    assert opened.status_code == 201, opened.text
    return str(opened.json()["id"])


def resolve_dispute(disputes_url: str, dispute_id: str, outcome: str) -> None:
    resolved = httpx.post(f"{disputes_url}/{dispute_id}/resolve", json={"outcome": outcome})
    assert resolved.status_code == 200, resolved.text


def upload(
    client: httpx.Client, content: bytes, *, key: str, file_name: str | None = None
) -> httpx.Response:
    """``POST /v1/reconciliations`` of a sandbox settlement file."""
    named = {} if file_name is None else {"file_name": file_name}
    return client.post(
        "/v1/reconciliations",
        params={"provider": "sandbox", **named},
        content=content,
        headers={"Content-Type": "text/csv", "Idempotency-Key": key},
    )


def test_a_jpy_payment_settled_in_usd_books_its_fx_loss_once(database_url: str) -> None:
    with (
        live_service(
            database_url, settings=FX, settlement_currency="USD", fx_spread="0.01"
        ) as service,
        service.client() as client,
    ):
        created = client.post("/v1/payments", json=yen_body(), headers=auth(idempotency_key="p1"))
        assert created.status_code == 201, created.text
        body = created.json()
        assert (body["currency"], body["amount"], body["settlement_currency"]) == (
            "JPY",
            "3333",
            "USD",
        )
        # 3333 JPY * 0.0066 = 21.9978 USD: one rounding step to 22.00, shared 1000 : 2333
        assert body["settlement_amount"] == "22.00"
        assert [o["settlement_amount"] for o in body["orders"]] == ["6.60", "15.40"]
        quote = body["fx_quote"]
        assert (quote["base"], quote["quote"], quote["rate"], quote["source"]) == (
            "JPY",
            "USD",
            "0.0066",
            "fixed",
        )
        assert quote["rate_date"] == datetime.now(UTC).date().isoformat()
        assert quote["created_at"] < quote["expires_at"]

        replay = client.post("/v1/payments", json=yen_body(), headers=auth(idempotency_key="p1"))
        assert replay.content == created.content
        assert replay.headers["idempotent-replayed"] == "true"

        pay_on_hosted_page(body["redirect_url"], SUCCESS_CARD)
        paid = wait_for_status(client, body["id"], "succeeded", timeout=5.0)
        assert paid["fx_quote"] == quote
        shown = client.get(f"/v1/payments/{body['id']}", headers={"Accept-Language": "en-US"})
        display = shown.json()["display"]
        assert (display["amount"], display["settlement_amount"]) == ("¥3,333", "$22.00")
        assert [o["display"]["settlement_amount"] for o in shown.json()["orders"]] == [
            "$6.60",
            "$15.40",
        ]
        wallet = client.get("/v1/wallets/seller-a").json()["balances"]
        assert [(w["currency"], w["pending"]) for w in wallet] == [("JPY", "1000")]

        rows = postings(database_url)
        assert_balanced_per_currency(rows)
        assert balance(rows, "psp_clearing", "USD") == 2200
        assert balance(rows, "psp_clearing", "JPY") == 0
        assert balance(rows, "fx_conversion", "USD") == -2200
        assert balance(rows, "fx_conversion", "JPY") == 3333
        assert balance(rows, "seller_pending", "JPY") == -3333

        # The sandbox settles at 0.0066 * 0.99: 3333 JPY -> 21.78 USD, fee 0.55 USD
        day = datetime.now(UTC).date().isoformat()
        settlement = client.get(f"/sandbox-psp/_admin/settlements/{day}")
        assert settlement.status_code == 200, settlement.text
        lines = list(csv.DictReader(io.StringIO(settlement.text)))
        (capture,) = [line for line in lines if line["type"] == "capture"]
        assert (capture["currency"], capture["gross"], capture["settlement_currency"]) == (
            "JPY",
            "3333",
            "USD",
        )
        assert (capture["fee"], capture["net"]) == ("0.55", "21.23")
        (payout,) = [line for line in lines if line["type"] == "payout"]
        assert (payout["currency"], payout["net"]) == ("USD", "-21.23")

        # the worker's nightly job fetches the day's file from the sandbox and reconciles it
        assert nightly(database_url, service.url, datetime.now(UTC)) >= 1
        (run,) = client.get("/v1/reconciliations").json()["reconciliations"]
        assert (run["source"], run["new_discrepancies"], run["lines_matched"]) == (
            "nightly",
            0,
            2,
        )
        # gross counts in JPY, fee and net in USD (the capture and the payout line)
        assert run["summary"]["totals"] == {
            "JPY": {"lines": 1, "gross_minor": 3333, "fee_minor": 0, "net_minor": 0},
            "USD": {"lines": 1, "gross_minor": -2123, "fee_minor": 55, "net_minor": 0},
        }
        (difference,) = run["summary"]["fx_differences"]
        assert difference == {
            "payment_id": body["id"],
            "currency": "USD",
            "settled_minor": 2178,
            "expected_minor": 2200,
            "difference_minor": -22,
        }
        rows = postings(database_url)
        assert_balanced_per_currency(rows)
        # the loss is the difference between quote and settlement, to the cent
        assert balance(rows, "fx_gain_loss", "USD") == 22
        assert balance(rows, "psp_fees", "USD") == 55
        assert balance(rows, "bank", "USD") == 2123
        assert balance(rows, "psp_clearing", "USD") == 0  # all of it accounted for

        again = upload(client, settlement.content, key="r2", file_name="again.csv")
        assert again.status_code == 201, again.text
        assert again.json()["new_discrepancies"] == 0
        assert sorted(postings(database_url)) == sorted(rows)  # nothing booked again

        # a corrected file re-lists the same capture under a new line id: the payment's FX
        # settlement is booked once per payment, never again
        text = settlement.text
        reissued = text.replace(capture["line_id"], capture["line_id"] + "-corrected")
        assert reissued != text
        corrected = upload(client, reissued.encode(), key="r3", file_name="corrected.csv")
        assert corrected.status_code == 201, corrected.text
        after = postings(database_url)
        assert_balanced_per_currency(after)
        assert balance(after, "fx_gain_loss", "USD") == 22
        assert [r for r in after if r[1] == "fx_gain_loss"] == [
            r for r in rows if r[1] == "fx_gain_loss"
        ]


def test_a_line_settled_in_another_currency_is_a_currency_mismatch(database_url: str) -> None:
    with (
        live_service(database_url, settings=FX, settlement_currency="USD") as service,
        service.client() as client,
    ):
        created = client.post("/v1/payments", json=yen_body(), headers=auth(idempotency_key="p1"))
        assert created.status_code == 201, created.text
        pay_on_hosted_page(created.json()["redirect_url"], SUCCESS_CARD)
        wait_for_status(client, created.json()["id"], "succeeded", timeout=5.0)
        day = datetime.now(UTC).date().isoformat()
        settlement = client.get(f"/sandbox-psp/_admin/settlements/{day}").text
        # the provider settled it in EUR instead: 3333 JPY -> 20.00 EUR
        changed = settlement.replace(",0.55,21.23,", ",0.53,19.47,").replace(",USD\n", ",EUR\n")
        assert changed != settlement
        before = postings(database_url)
        run = upload(client, changed.encode(), key="r1")
        assert run.status_code == 201, run.text
        found = client.get(f"/v1/reconciliations/{run.json()['id']}/discrepancies").json()
        kinds = [(d["kind"], d["subject_id"]) for d in found["discrepancies"]]
        assert kinds == [("currency_mismatch", created.json()["id"])]
        (mismatch,) = found["discrepancies"]
        assert (mismatch["currency"], mismatch["expected_currency"]) == ("EUR", "USD")
        assert mismatch["details"].endswith("paymux has USD, the provider EUR")
        # what the provider settled (net + fee), in the currency it settled in
        line = next(r for r in csv.DictReader(io.StringIO(changed)) if r["type"] == "capture")
        settled = int(Decimal(line["net"]) * 100 + Decimal(line["fee"]) * 100)
        assert (mismatch["expected_minor"], mismatch["actual_minor"]) == (None, settled)
        shown = client.get(
            f"/v1/reconciliations/{run.json()['id']}/discrepancies",
            headers={"Accept-Language": "en-US"},
        ).json()["discrepancies"][0]["display"]
        assert shown["actual_minor"] == f"€{Decimal(settled) / 100:.2f}"
        assert "expected_minor" not in shown
        after = postings(database_url)
        assert [r for r in after if r[1] == "fx_gain_loss"] == []
        assert_balanced_per_currency(after)
        assert len(after) > len(before)  # the fee and the payout are booked, no FX


def test_a_refund_of_a_converted_order_gives_back_its_settlement_share(
    database_url: str,
) -> None:
    with (
        live_service(
            database_url, settings=FX, settlement_currency="USD", fx_spread="0.01"
        ) as service,
        service.client() as client,
    ):
        created = client.post("/v1/payments", json=yen_body(), headers=auth(idempotency_key="p1"))
        assert created.status_code == 201, created.text
        pay_on_hosted_page(created.json()["redirect_url"], SUCCESS_CARD)
        paid = wait_for_status(client, created.json()["id"], "succeeded", timeout=5.0)
        order = paid["orders"][0]["id"]
        refund = client.post(
            f"/v1/payments/{paid['id']}/refunds",
            json={"amount": "500", "payment_order_id": order},
            headers={"Idempotency-Key": "rf1"},
        )
        assert refund.status_code == 201, refund.text
        assert refund.json()["status"] == "succeeded", refund.text
        rows = postings(database_url)
        assert_balanced_per_currency(rows)
        refunded = sorted(r[1:] for r in rows if r[0].startswith("refund_succeeded:"))
        assert refunded == sorted(
            [
                ("seller_pending", "seller-a", "JPY", 500),
                ("psp_clearing", "sandbox", "USD", -330),  # half of its 6.60
                ("fx_conversion", "platform", "USD", 330),
                ("fx_conversion", "platform", "JPY", -500),
            ]
        )

        # The sandbox settles the refund at its own rate too: -500 JPY * 0.006534 = -3.267,
        # so it takes back 3.27 USD where paymux gave back 3.30 at the quote: a 0.03 gain
        day = datetime.now(UTC).date().isoformat()
        settlement = client.get(f"/sandbox-psp/_admin/settlements/{day}")
        assert settlement.status_code == 200, settlement.text
        lines = list(csv.DictReader(io.StringIO(settlement.text)))
        (refund_line,) = [line for line in lines if line["type"] == "refund"]
        assert (refund_line["currency"], refund_line["gross"]) == ("JPY", "-500")
        assert (refund_line["settlement_currency"], refund_line["fee"], refund_line["net"]) == (
            "USD",
            "0.00",
            "-3.27",
        )
        (payout,) = [line for line in lines if line["type"] == "payout"]
        assert payout["net"] == "-17.96"  # 21.23 - 3.27

        assert nightly(database_url, service.url, datetime.now(UTC)) >= 1
        (run,) = client.get("/v1/reconciliations").json()["reconciliations"]
        assert (run["new_discrepancies"], run["lines_matched"]) == (0, 3)
        assert sorted(run["summary"]["fx_differences"], key=lambda d: d.get("refund_id", "")) == [
            {
                "payment_id": paid["id"],
                "currency": "USD",
                "settled_minor": 2178,
                "expected_minor": 2200,
                "difference_minor": -22,
            },
            {
                "payment_id": paid["id"],
                "refund_id": refund.json()["id"],
                "currency": "USD",
                "settled_minor": -327,
                "expected_minor": -330,
                "difference_minor": 3,
            },
        ]
        rows = postings(database_url)
        assert_balanced_per_currency(rows)
        fx_refund = f"fx_settled:sandbox:refund:{refund.json()['id']}:USD"
        assert sorted(r[1:] for r in rows if r[0] == fx_refund) == [
            ("fx_gain_loss", "platform", "USD", -3),
            ("psp_clearing", "sandbox", "USD", 3),
        ]
        assert balance(rows, "fx_gain_loss", "USD") == 22 - 3
        assert balance(rows, "psp_fees", "USD") == 55
        assert balance(rows, "bank", "USD") == 1796
        # +22.00 - 3.30 (refund) - 0.55 (fee) - 17.96 (bank) - 0.22 (loss) + 0.03 (gain)
        assert balance(rows, "psp_clearing", "USD") == 0

        # the same file again, and a re-issued one listing the refund under a new line id:
        # the refund's FX difference is booked once
        reissued = settlement.text.replace(
            refund_line["line_id"], refund_line["line_id"] + "-corrected"
        )
        assert reissued != settlement.text
        for key, content in (("r2", settlement.content), ("r3", reissued.encode())):
            again = upload(client, content, key=key, file_name=f"{key}.csv")
            assert again.status_code == 201, again.text
        after = postings(database_url)
        assert_balanced_per_currency(after)
        assert [r for r in after if r[0].startswith("fx_settled:")] == [
            r for r in rows if r[0].startswith("fx_settled:")
        ]
        assert balance(after, "fx_gain_loss", "USD") == 19


def test_without_a_rate_source_a_converted_payment_is_refused(database_url: str) -> None:
    with (
        live_service(database_url, settlement_currency="USD") as service,
        service.client() as client,
    ):
        refused = client.post("/v1/payments", json=yen_body(), headers=auth(idempotency_key="p1"))
        assert refused.status_code == 422, refused.text
        assert refused.json()["type"] == PROBLEM + "fx-rate-unavailable"
        counts = count_rows(database_url)
        assert (counts["payment_event"], counts["idempotency_key"]) == (0, 0)
        # a payment in the settlement currency itself needs no rate
        usd = payment_body(currency="USD")
        accepted = client.post("/v1/payments", json=usd, headers=auth(idempotency_key="p2"))
        assert accepted.status_code == 201, accepted.text
        assert accepted.json()["settlement_currency"] == "USD"
        assert accepted.json()["fx_quote"] is None


def test_a_lost_chargeback_of_a_converted_payment_moves_the_provider_side_in_usd(
    database_url: str,
) -> None:
    with (
        live_service(database_url, settings=FX, settlement_currency="USD") as service,
        service.client() as client,
    ):
        payment, token = pay_yen(client)
        sandbox = f"{service.url}/sandbox-psp/_admin/disputes"
        dispute = open_dispute(sandbox, token)
        wait_for_chargeback(client, payment["id"], "opened")
        rows = postings(database_url)
        assert_balanced_per_currency(rows)
        assert balance(rows, "psp_disputed", "USD") == 2200  # 6.60 + 15.40, as settled
        assert balance(rows, "psp_clearing", "USD") == 0
        assert balance(rows, "seller_disputed", "JPY") == -3333
        resolve_dispute(sandbox, dispute, "lost")
        wait_for_chargeback(client, payment["id"], "lost")
        rows = postings(database_url)
        assert_balanced_per_currency(rows)
        assert balance(rows, "psp_disputed", "USD") == 0
        assert balance(rows, "seller_disputed", "JPY") == 0
        # the position opened by the payment is closed again in both currencies
        assert balance(rows, "fx_conversion", "USD") == 0
        assert balance(rows, "fx_conversion", "JPY") == 0


def wait_for_chargeback(client: httpx.Client, payment_id: str, status: str) -> None:
    deadline = time.monotonic() + 3.0
    while True:
        found = client.get(f"/v1/payments/{payment_id}/chargebacks").json()["chargebacks"]
        if found and found[-1]["status"] == status:
            return
        assert time.monotonic() < deadline, f"no {status} chargeback: {found}"
        time.sleep(0.05)


KRW = {"fx": {"fixed_rates": {"KRW/USD": "0.00072"}}}
"""1 KRW = 0.00072 USD: a few won convert to less than a cent."""


def test_a_chargeback_whose_unallocated_part_converts_to_zero_is_still_recorded(
    database_url: str,
) -> None:
    with (
        live_service(database_url, settings=KRW, settlement_currency="USD") as service,
        service.client() as client,
    ):
        body = payment_body(
            currency="KRW",
            country="KR",
            orders=[{"seller_id": "seller-a", "amount": "10000", "reference": "order-1"}],
        )
        created = client.post("/v1/payments", json=body, headers=auth(idempotency_key="p1"))
        assert created.status_code == 201, created.text
        assert created.json()["settlement_amount"] == "7.20"
        redirect_url = created.json()["redirect_url"]
        pay_on_hosted_page(redirect_url, SUCCESS_CARD)
        paid = wait_for_status(client, created.json()["id"], "succeeded", timeout=5.0)
        refund = client.post(
            f"/v1/payments/{paid['id']}/refunds",
            json={"amount": "5", "payment_order_id": paid["orders"][0]["id"]},
            headers={"Idempotency-Key": "rf1"},
        )
        assert refund.status_code == 201, refund.text
        # a dispute for the full 10000 KRW: 5 KRW of it is no order's (unallocated), and
        # converts to 0.0036 USD, i.e. 0.00: nothing to post for it, the rest still books
        sandbox = f"{service.url}/sandbox-psp/_admin/disputes"
        dispute = open_dispute(sandbox, redirect_url.rsplit("/")[-1])
        wait_for_chargeback(client, paid["id"], "opened")
        (chargeback,) = client.get(f"/v1/payments/{paid['id']}/chargebacks").json()["chargebacks"]
        assert chargeback["amount"] == "10000"
        rows = postings(database_url)
        assert_balanced_per_currency(rows)
        assert balance(rows, "seller_disputed", "KRW") == -9995
        resolve_dispute(sandbox, dispute, "lost")
        wait_for_chargeback(client, paid["id"], "lost")
        rows = postings(database_url)
        assert_balanced_per_currency(rows)
        assert balance(rows, "seller_disputed", "KRW") == 0
        assert balance(rows, "psp_disputed", "USD") == 0


def test_a_converted_payment_that_settles_to_zero_is_refused(database_url: str) -> None:
    with (
        live_service(database_url, settings=KRW, settlement_currency="USD") as service,
        service.client() as client,
    ):
        body = payment_body(
            currency="KRW",
            country="KR",
            orders=[{"seller_id": "seller-a", "amount": "5", "reference": "order-1"}],
        )
        refused = client.post("/v1/payments", json=body, headers=auth(idempotency_key="p1"))
        assert refused.status_code == 422, refused.text
        assert refused.json()["type"] == PROBLEM + "invalid-amount"
        assert "too small to settle in USD" in refused.json()["detail"]
        counts = count_rows(database_url)
        assert (counts["payment_event"], counts["idempotency_key"]) == (0, 0)
        # 7 KRW is 0.00504 USD, one cent: accepted
        body["orders"][0]["amount"] = "7"
        accepted = client.post("/v1/payments", json=body, headers=auth(idempotency_key="p2"))
        assert accepted.status_code == 201, accepted.text
        assert accepted.json()["settlement_amount"] == "0.01"


def test_a_converted_capture_line_with_a_huge_amount_is_a_malformed_file(
    database_url: str,
) -> None:
    with (
        live_service(database_url, settings=FX, settlement_currency="USD") as service,
        service.client() as client,
    ):
        created = client.post("/v1/payments", json=yen_body(), headers=auth(idempotency_key="p1"))
        assert created.status_code == 201, created.text
        pay_on_hosted_page(created.json()["redirect_url"], SUCCESS_CARD)
        wait_for_status(client, created.json()["id"], "succeeded", timeout=5.0)
        day = datetime.now(UTC).date().isoformat()
        settlement = client.get(f"/sandbox-psp/_admin/settlements/{day}").text
        lines = settlement.splitlines()
        (number,) = [i + 1 for i, line in enumerate(lines) if ",capture," in line]
        before = postings(database_url)
        # each fits 64 bits in minor units, their sum (net + fee) does not
        huge = with_capture(settlement, fee="90000000000000000.00", net="9000000000000000.00")
        refused = upload(client, huge.encode(), key="r1")
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert problem["type"] == PROBLEM + "settlement-file-malformed"
        assert f"line {number}" in problem["detail"]
        assert "too large" in problem["detail"]
        assert postings(database_url) == before
        # the largest amount paymux stores (10**15 minor units) is still an amount
        ok = with_capture(settlement, fee="0.55", net="10000000000000.00")
        accepted = upload(client, ok.encode(), key="r2")
        assert accepted.status_code == 201, accepted.text


def with_capture(settlement: str, *, fee: str, net: str) -> str:
    """``settlement`` (the sandbox's CSV) with its capture line's fee and net replaced."""
    rows = list(csv.DictReader(io.StringIO(settlement)))
    for row in rows:
        if row["type"] == "capture":
            row["fee"], row["net"] = fee, net
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def test_an_order_refunded_in_parts_gives_back_exactly_its_settlement_amount(
    database_url: str,
) -> None:
    with (
        live_service(
            database_url, settings=FX, settlement_currency="USD", fx_spread="0.01"
        ) as service,
        service.client() as client,
    ):
        created = client.post("/v1/payments", json=yen_body(), headers=auth(idempotency_key="p1"))
        assert created.status_code == 201, created.text
        pay_on_hosted_page(created.json()["redirect_url"], SUCCESS_CARD)
        paid = wait_for_status(client, created.json()["id"], "succeeded", timeout=5.0)
        order = paid["orders"][0]["id"]  # 1000 JPY settling 6.60 USD
        given = []
        for number, amount in enumerate(("5", "5", "990")):
            refund = client.post(
                f"/v1/payments/{paid['id']}/refunds",
                json={"amount": amount, "payment_order_id": order},
                headers={"Idempotency-Key": f"rf{number}"},
            )
            assert refund.status_code == 201, refund.text
            assert refund.json()["status"] == "succeeded", refund.text
            rows = postings(database_url)
            assert_balanced_per_currency(rows)
            (clearing,) = [
                r[4]
                for r in rows
                if r[0].startswith(f"refund_succeeded:{refund.json()['id']}:")
                and r[1] == "psp_clearing"
            ]
            given.append(-clearing)
        # cumulative: round(660*5/1000) = 3, round(660*10/1000) - 3 = 4, 660 - 7 = 653
        assert given == [3, 4, 653]
        assert sum(given) == 660
        rows = postings(database_url)
        # the order's USD is all given back: only order 2's 15.40 is left in clearing
        assert balance(rows, "psp_clearing", "USD") == 1540
        assert balance(rows, "seller_pending", "JPY") == -2333


def test_a_chargeback_and_its_reversal_of_a_converted_payment_book_their_fx_once(
    database_url: str,
) -> None:
    with (
        live_service(
            database_url, settings=FX, settlement_currency="USD", fx_spread="0.01"
        ) as service,
        service.client() as client,
    ):
        paid, token = pay_yen(client)
        sandbox = f"{service.url}/sandbox-psp/_admin/disputes"
        dispute = open_dispute(sandbox, token)
        wait_for_chargeback(client, paid["id"], "opened")
        resolve_dispute(sandbox, dispute, "won")
        wait_for_chargeback(client, paid["id"], "won")
        (chargeback,) = client.get(f"/v1/payments/{paid['id']}/chargebacks").json()["chargebacks"]
        rows = postings(database_url)
        assert_balanced_per_currency(rows)
        # paymux took the orders' 6.60 + 15.40 USD from clearing when opened, gave it back won
        for kind, posted in (("chargeback_opened", -2200), ("chargeback_won", 2200)):
            prefix = f"{kind}:{chargeback['id']}:"
            assert posted == sum(
                r[4] for r in rows if r[0].startswith(prefix) and r[1] == "psp_clearing"
            )

        # The sandbox settles the dispute at its own rate: 3333 JPY -> 21.78 USD both ways.
        # Its chargeback line charges a 15.00 USD fee on top: net -36.78, net + fee -21.78.
        day = datetime.now(UTC).date().isoformat()
        settlement = client.get(f"/sandbox-psp/_admin/settlements/{day}")
        assert settlement.status_code == 200, settlement.text
        lines = list(csv.DictReader(io.StringIO(settlement.text)))
        (taken,) = [line for line in lines if line["type"] == "chargeback"]
        (given,) = [line for line in lines if line["type"] == "chargeback_reversal"]
        assert taken["modification_reference"] == given["modification_reference"]
        assert (taken["currency"], taken["gross"], taken["settlement_currency"]) == (
            "JPY",
            "-3333",
            "USD",
        )
        assert (taken["fee"], taken["net"], given["fee"], given["net"]) == (
            "0.00",
            "-21.78",
            "0.00",
            "21.78",
        )
        (payout,) = [line for line in lines if line["type"] == "payout"]
        assert payout["net"] == "-21.23"
        for line in lines:
            if line["type"] == "chargeback":
                line["fee"], line["net"] = "15.00", "-36.78"
            if line["type"] == "payout":  # 21.23 - 36.78 + 21.78
                line["gross"] = line["net"] = "-6.23"
        content = settlement_text(lines).encode()
        first = upload(client, content, key="r1", file_name="day.csv")
        assert first.status_code == 201, first.text
        run = first.json()
        assert (run["new_discrepancies"], run["lines_matched"]) == (0, 4)
        assert sorted(run["summary"]["fx_differences"], key=lambda d: d.get("line_type", "")) == [
            {
                "payment_id": paid["id"],
                "currency": "USD",
                "settled_minor": 2178,
                "expected_minor": 2200,
                "difference_minor": -22,
            },
            {
                "payment_id": paid["id"],
                "chargeback_id": chargeback["id"],
                "line_type": "chargeback",
                "currency": "USD",
                "settled_minor": -2178,  # -36.78 + 15.00
                "expected_minor": -2200,
                "difference_minor": 22,
            },
            {
                "payment_id": paid["id"],
                "chargeback_id": chargeback["id"],
                "line_type": "chargeback_reversal",
                "currency": "USD",
                "settled_minor": 2178,
                "expected_minor": 2200,
                "difference_minor": -22,
            },
        ]
        rows = postings(database_url)
        assert_balanced_per_currency(rows)
        booked = {
            reference: sorted(r[1:] for r in rows if r[0] == reference)
            for reference in {r[0] for r in rows if r[0].startswith("fx_settled:")}
        }
        assert booked == {
            f"fx_settled:sandbox:capture:{paid['id']}:USD": [
                ("fx_gain_loss", "platform", "USD", 22),
                ("psp_clearing", "sandbox", "USD", -22),
            ],
            f"fx_settled:sandbox:chargeback:{chargeback['id']}:USD": [
                ("fx_gain_loss", "platform", "USD", -22),
                ("psp_clearing", "sandbox", "USD", 22),
            ],
            f"fx_settled:sandbox:chargeback_reversal:{chargeback['id']}:USD": [
                ("fx_gain_loss", "platform", "USD", 22),
                ("psp_clearing", "sandbox", "USD", -22),
            ],
        }
        assert balance(rows, "fx_gain_loss", "USD") == 22 - 22 + 22
        assert balance(rows, "psp_fees", "USD") == 55 + 1500
        assert balance(rows, "bank", "USD") == 623
        # +22.00 - 22.00 + 22.00 (payment, opened, won) - 15.55 (fees) - 6.23 (bank)
        # - 0.22 + 0.22 - 0.22 (FX): all of it accounted for
        assert balance(rows, "psp_clearing", "USD") == 0
        assert balance(rows, "psp_disputed", "USD") == 0

        # the same file again, and a re-issued one listing the lines under new line ids:
        # each chargeback line's FX difference is booked once
        reissued = content.decode()
        for line in (taken, given):
            reissued = reissued.replace(line["line_id"], line["line_id"] + "-corrected")
        assert reissued.encode() != content
        for key, again in (("r2", content), ("r3", reissued.encode())):
            rerun = upload(client, again, key=key, file_name=f"{key}.csv")
            assert rerun.status_code == 201, rerun.text
        after = postings(database_url)
        assert_balanced_per_currency(after)
        assert sorted(r for r in after if r[0].startswith("fx_settled:")) == sorted(
            r for r in rows if r[0].startswith("fx_settled:")
        )
        assert balance(after, "fx_gain_loss", "USD") == 22


def test_chargeback_lines_settle_the_chargeback_their_dispute_id_names(database_url: str) -> None:
    with (
        live_service(
            database_url, settings=FX, settlement_currency="USD", fx_spread="0.01"
        ) as service,
        service.client() as client,
    ):
        paid, token = pay_yen(client)
        # two disputes of one payment: 1000 JPY (lost) and 2333 JPY (won)
        sandbox = f"{service.url}/sandbox-psp/_admin/disputes"
        disputes = []
        for amount in (1000, 2333):
            disputes.append(open_dispute(sandbox, token, amount=amount))
            wait_for_dispute(client, paid["id"], disputes[-1], "opened")
        chargebacks = []
        for dispute, outcome in zip(disputes, ("lost", "won"), strict=True):
            resolve_dispute(sandbox, dispute, outcome)
            chargebacks.append(wait_for_dispute(client, paid["id"], dispute, outcome))
        small, large = chargebacks
        assert (small["amount"], large["amount"]) == ("1000", "2333")
        rows = postings(database_url)
        # paymux's USD share of each, from clearing: 1.98 + 4.62 and 4.62 + 10.78
        opened_of = {
            c["id"]: sum(
                r[4]
                for r in rows
                if r[0].startswith(f"chargeback_opened:{c['id']}:") and r[1] == "psp_clearing"
            )
            for c in (small, large)
        }
        assert opened_of == {small["id"]: -660, large["id"]: -1540}

        # the sandbox settles -1000 JPY as -6.53 USD, -2333 JPY as -15.24 USD and back
        day = datetime.now(UTC).date().isoformat()
        settlement = client.get(f"/sandbox-psp/_admin/settlements/{day}")
        assert settlement.status_code == 200, settlement.text
        lines = list(csv.DictReader(io.StringIO(settlement.text)))
        disputed = [line for line in lines if line["type"].startswith("chargeback")]
        assert [
            (line["type"], line["modification_reference"], line["net"]) for line in disputed
        ] == [
            ("chargeback", disputes[0], "-6.53"),
            ("chargeback", disputes[1], "-15.24"),
            ("chargeback_reversal", disputes[1], "15.24"),
        ]

        # A file whose chargeback lines name no dispute (under other line ids): the payment
        # has two chargebacks, which each line settles is ambiguous: no FX booked for them
        unnamed = [
            {**line, "modification_reference": "", "line_id": line["line_id"] + "-unnamed"}
            if line["type"].startswith("chargeback")
            else line
            for line in lines
        ]
        first = upload(client, settlement_text(unnamed).encode(), key="r1", file_name="unnamed.csv")
        assert first.status_code == 201, first.text
        assert first.json()["new_discrepancies"] == 0
        assert [d.get("line_type") for d in first.json()["summary"]["fx_differences"]] == [None]
        rows = postings(database_url)
        assert [r[0] for r in rows if r[0].startswith("fx_settled:")] == [
            f"fx_settled:sandbox:capture:{paid['id']}:USD"
        ] * 2

        # the file as the sandbox wrote it: each line settles the chargeback it names
        second = upload(client, settlement.content, key="r2", file_name="day.csv")
        assert second.status_code == 201, second.text
        differences = [
            (d["line_type"], d["chargeback_id"], d["settled_minor"], d["difference_minor"])
            for d in second.json()["summary"]["fx_differences"]
        ]
        assert differences == [
            ("chargeback", small["id"], -653, 7),  # -6.53 - (-6.60)
            ("chargeback", large["id"], -1524, 16),  # -15.24 - (-15.40)
            ("chargeback_reversal", large["id"], 1524, -16),
        ]
        rows = postings(database_url)
        assert_balanced_per_currency(rows)
        assert balance(rows, "fx_gain_loss", "USD") == 22 - 7 - 16 + 16
        assert balance(rows, "bank", "USD") == 1470  # 21.23 - 6.53 - 15.24 + 15.24
        # +22.00 - 6.60 - 15.40 + 15.40 - 0.55 (fee) - 14.70 (bank) - 0.22 + 0.07 + 0.16 - 0.16
        assert balance(rows, "psp_clearing", "USD") == 0
        assert balance(rows, "psp_disputed", "USD") == 0


def test_a_reversal_line_of_a_chargeback_not_won_yet_books_nothing_until_it_is(
    database_url: str,
) -> None:
    with (
        live_service(
            database_url, settings=FX, settlement_currency="USD", fx_spread="0.01"
        ) as service,
        service.client() as client,
    ):
        paid, token = pay_yen(client)
        sandbox = f"{service.url}/sandbox-psp/_admin/disputes"
        dispute = open_dispute(sandbox, token)
        chargeback = wait_for_dispute(client, paid["id"], dispute, "opened")
        day = datetime.now(UTC).date().isoformat()
        settlement = client.get(f"/sandbox-psp/_admin/settlements/{day}")
        lines = list(csv.DictReader(io.StringIO(settlement.text)))
        # the provider's file already gives the dispute back: paymux holds it as opened
        (taken,) = [line for line in lines if line["type"] == "chargeback"]
        given = {**taken, "type": "chargeback_reversal", "line_id": taken["line_id"] + "-won"}
        given.update(gross="3333", net="21.78")
        for line in lines:
            if line["type"] == "payout":  # 21.23 - 21.78 + 21.78
                line["gross"] = line["net"] = "-21.23"
        content = settlement_text([*lines[:-1], given, lines[-1]]).encode()

        def reconcile(key: str) -> dict[str, Any]:
            run = upload(client, content, key=key, file_name="day.csv")
            assert run.status_code == 201, run.text
            return dict(run.json())

        first = reconcile("r1")
        assert first["new_discrepancies"] == 0
        assert [d.get("line_type") for d in first["summary"]["fx_differences"]] == [
            None,
            "chargeback",
        ]
        reversal = f"fx_settled:sandbox:chargeback_reversal:{chargeback['id']}:USD"
        assert [r for r in postings(database_url) if r[0] == reversal] == []

        resolve_dispute(sandbox, dispute, "won")
        wait_for_dispute(client, paid["id"], dispute, "won")
        # the same file again, now that paymux put the 22.00 USD back: the reversal's loss
        again = reconcile("r2")
        assert [
            (d.get("line_type"), d["difference_minor"]) for d in again["summary"]["fx_differences"]
        ] == [(None, -22), ("chargeback", 22), ("chargeback_reversal", -22)]
        rows = postings(database_url)
        assert_balanced_per_currency(rows)
        assert sorted(r[1:] for r in rows if r[0] == reversal) == [
            ("fx_gain_loss", "platform", "USD", 22),
            ("psp_clearing", "sandbox", "USD", -22),
        ]
        assert balance(rows, "fx_gain_loss", "USD") == 22
        assert balance(rows, "psp_clearing", "USD") == 0


def wait_for_dispute(
    client: httpx.Client, payment_id: str, dispute_id: str, status: str
) -> dict[str, Any]:
    """The payment's chargeback of the provider's dispute ``dispute_id`` once in ``status``."""
    deadline = time.monotonic() + 3.0
    while True:
        found = client.get(f"/v1/payments/{payment_id}/chargebacks").json()["chargebacks"]
        named = [c for c in found if c["dispute_id"] == dispute_id and c["status"] == status]
        if named:
            return dict(named[0])
        assert time.monotonic() < deadline, f"no {status} chargeback {dispute_id}: {found}"
        time.sleep(0.05)


def settlement_text(rows: list[dict[str, str]]) -> str:
    """``rows`` (a sandbox settlement file's lines) as the file's CSV again."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
