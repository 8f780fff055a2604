"""Card data in requests: which field names and values are refused, which pass."""

from __future__ import annotations

from typing import Any

import pytest

from paymux.app.card_data import (
    MAX_SCANNED_BODY_BYTES,
    CardDataGuard,
    is_card_field,
    json_findings,
    request_findings,
)

PAN = "4242424242424242"


@pytest.mark.parametrize(
    ("name", "parent", "card"),
    [
        ("card_number", None, True),
        ("cardNumber", None, True),
        ("card[number]", None, True),
        ("cc-num", None, True),
        ("PAN", None, True),
        ("cvc", None, True),
        ("CVV2", None, True),
        ("security_code", None, True),
        ("number", "card", True),
        ("number", "credit_card", True),
        ("card_last4", None, False),
        ("cvc_check", None, False),
        ("account_number", None, False),
        ("number", "house", False),
        ("reference", "card", False),
        ("company", None, False),
    ],
)
def test_card_field_names(name: str, parent: str | None, card: bool) -> None:
    assert is_card_field(name, parent) is card


@pytest.mark.parametrize(
    ("body", "refused"),
    [
        ({"card_number": PAN}, True),
        ({"card": {"number": "4242 4242"}}, True),  # not a card number, but a card number field
        ({"payment": {"cvc": "123"}}, True),
        ({"cvv": 123}, True),
        ({"card_number": "x"}, True),
        ({"card": {"number": "424242******4242"}}, False),  # masked, as PSPs send it back
        ({"card": {"number": "4242"}}, False),  # the last four digits
        ({"card_number": "•••• 4242"}, False),
        ({"card_number": "424242 **** **** 4242"}, False),  # six and four: ten digits
        ({"card_number": "4242424242424242x"}, True),  # a mask sign, but all the digits
        ({"card": {"number": "4242424242424242X"}}, True),
        ({"card_number": "42424242424*"}, True),  # eleven digits shown: more than a mask
        ({"card_number": None, "cvc": ""}, False),  # no value
        ({"card_last4": "4242", "cvc_check": "pass", "account_number": "12345678"}, False),
        ({"iban": "BE68 5390 0754 7034", "phone": "+49 4242 4242 4242 4242"}, False),
        ({"amount": "12.50", "created": 1732471217000, "id": "ord_4242424242424242"}, False),
        ({"nested": [{"note": f"card {PAN}"}]}, True),
        ({"ids": [4242424242424242]}, True),
        ({"ref": 4242424242424242.0}, True),  # a JSON float that is a whole number
        ({"refs": [3.78282246310005e14]}, True),  # 378282246310005, an Amex test card
        ({"amount": 12.5, "rate": 1.0}, False),
        ({PAN: True}, True),
    ],
)
def test_json_bodies_refused_for_card_data(body: dict[str, Any], refused: bool) -> None:
    assert bool(list(json_findings(body))) is refused


def test_tracing_headers_are_not_looked_at_but_every_other_header_is() -> None:
    def scope(name: bytes, value: bytes) -> dict[str, Any]:
        return {
            "type": "http",
            "path": "/v1/payments",
            "query_string": b"",
            "headers": [(name, value)],
        }

    datadog = b"4242424242424242428"  # a decimal trace id that passes the Luhn check
    assert request_findings(scope(b"x-datadog-trace-id", datadog), None) == []
    assert request_findings(scope(b"x-trace", datadog), None) != []
    assert (
        request_findings(scope(b"traceparent", b"00-" + b"4" * 32 + b"-4242424242424242-01"), None)
        == []
    )
    (finding,) = request_findings(scope(b"idempotency-key", PAN.encode()), None)
    assert finding.as_dict() == {"in": "header", "at": "idempotency-key", "detail": "a card number"}


@pytest.mark.parametrize(
    ("body", "status", "content_type"),
    [
        (b"[" * 100_000 + b"]" * 100_000, 200, "application/json"),  # too deep: as text
        (b'{"a": ' * 5000 + b'"4242 4242 4242 4242"' + b"}" * 5000, 422, "application/json"),
        (b"x" * (MAX_SCANNED_BODY_BYTES + 1), 413, "application/json"),
        (b"<Ustrd>Kunde 4242424242424242</Ustrd>", 200, "application/xml"),  # a bank's document
        (b"card 4242 4242 4242 4242", 422, "text/plain"),
    ],
    ids=["deep", "deep-card", "large", "xml-statement", "text"],
)
async def test_odd_bodies_are_answered_not_crashed_on(
    body: bytes, status: int, content_type: str
) -> None:
    import httpx
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"size": len(await request.body())})

    app = Starlette(routes=[Route("/v1/x", echo, methods=["POST"])])
    app.add_middleware(CardDataGuard)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://paymux") as client:
        answer = await client.post("/v1/x", content=body, headers={"content-type": content_type})
    assert answer.status_code == status
    if status == 200:
        assert answer.json() == {"size": len(body)}
