"""The buyer's status page and its signed links."""

from __future__ import annotations

from fastapi.testclient import TestClient

from paymux.app import create_app
from paymux.app.status_links import StatusLinks
from paymux_test_support import auth, make_settings, payment_body


def test_links_are_signed_per_payment_and_secret() -> None:
    links = StatusLinks(public_url="http://h/", secret="s1")
    url = links.url("pay_1")
    assert url.startswith("http://h/checkout/pay_1?sig=")
    assert links.verify("pay_1", url.split("sig=")[1])
    assert not links.verify("pay_2", url.split("sig=")[1])
    assert not StatusLinks(public_url="http://h", secret="s2").verify("pay_1", url.split("sig=")[1])


def test_status_page_needs_the_signature(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url)
    with TestClient(create_app(settings)) as client:
        # The provider is unreachable at this public URL: the payment stays unknown.
        created = client.post(
            "/v1/payments", json=payment_body(), headers=auth(idempotency_key="s1")
        )
        assert created.status_code == 503
        payment_id = created.json()["payment_id"]
        good = StatusLinks(
            public_url=settings.public_url, secret=settings.secret_key.get_secret_value()
        ).url(payment_id)
        page = client.get(good.replace(settings.public_url, ""))
        assert page.status_code == 200
        assert 'data-status="unknown"' in page.text
        assert "€30.00" in page.text
        assert '<meta http-equiv="refresh"' in page.text
        forged = client.get(f"/checkout/{payment_id}?sig=00000000")
        assert forged.status_code == 404
        assert "€30.00" not in forged.text
