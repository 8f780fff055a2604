"""The buyer's status page and its signed links."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from unittest.mock import patch
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from paymux.app import create_app
from paymux.app.status_links import LinkCheck, StatusLinks
from paymux.core.domain.status import PaymentStatus
from paymux.core.hookspecs import hookimpl
from paymux.core.plugins import create_plugin_manager
from paymux.core.providers import ProviderSpec
from paymux.core.settings import Settings
from paymux_fakes import FakeProvider
from paymux_test_support import API_KEY, auth, make_settings, payment_body


def _query(url: str) -> tuple[str, int]:
    query = parse_qs(urlsplit(url).query)
    return query["sig"][0], int(query["exp"][0])


def test_links_are_signed_per_payment_secret_and_expiry() -> None:
    now = [1_000_000.0]
    links = StatusLinks(public_url="http://h/", secret="s1", ttl_seconds=60, clock=lambda: now[0])
    url = links.url("pay_1", issued_at=datetime.fromtimestamp(now[0], UTC))
    assert links.url("pay_1", issued_at=datetime.fromtimestamp(now[0], UTC)) == url  # stable
    assert url.startswith("http://h/checkout/pay_1?sig=")
    sig, expires = _query(url)
    assert expires == 1_000_060
    assert links.check("pay_1", sig, expires) is LinkCheck.VALID
    assert links.check("pay_2", sig, expires) is LinkCheck.FORGED
    assert links.check("pay_1", sig, expires + 3600) is LinkCheck.FORGED  # a longer life is forged
    assert links.check("pay_1", sig, None) is LinkCheck.FORGED
    assert links.check("pay_1", "\u00e9" + sig[1:], expires) is LinkCheck.FORGED  # not TypeError
    other = StatusLinks(public_url="http://h", secret="s2", clock=lambda: now[0])
    assert other.check("pay_1", sig, expires) is LinkCheck.FORGED
    now[0] = 1_000_059.0
    assert links.check("pay_1", sig, expires) is LinkCheck.VALID
    now[0] = 1_000_060.0
    assert links.check("pay_1", sig, expires) is LinkCheck.EXPIRED
    forged_late = links.check("pay_1", "0" * 32, expires)
    assert forged_late is LinkCheck.FORGED  # expiry is told only to holders of a real link


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
        ).url(payment_id, issued_at=datetime.now(UTC))
        page = client.get(good.replace(settings.public_url, ""))
        assert page.status_code == 200
        assert 'data-status="unknown"' in page.text
        assert "€30.00" in page.text
        # every 3 s, not every second: buyers behind one NAT share the per-IP budget
        assert '<meta http-equiv="refresh" content="3">' in page.text
        forged = client.get(f"/checkout/{payment_id}?sig=00000000")
        assert forged.status_code == 404
        # non-ASCII digits in the expiry, non-ASCII text in the signature: forged, not a 500
        assert client.get(f"/checkout/{payment_id}?sig=a&exp=\u00b2").status_code == 404
        assert client.get(f"/checkout/{payment_id}?sig=\u00e9&exp=123").status_code == 404
        assert client.get(f"/checkout/{payment_id}?sig=\u00e9&exp=\u00b2").status_code == 404
        assert "€30.00" not in forged.text
        sig, expires = _query(good)
        unexpiring = client.get(f"/checkout/{payment_id}?sig={sig}")
        assert unexpiring.status_code == 404
        stretched = client.get(f"/checkout/{payment_id}?sig={sig}&exp={expires + 1}")
        assert stretched.status_code == 404


def test_an_expired_link_answers_410_without_the_payment(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url)
    with TestClient(create_app(settings)) as client:
        created = client.post(
            "/v1/payments", json=payment_body(), headers=auth(idempotency_key="s1")
        )
        payment_id = created.json()["payment_id"]
        links = StatusLinks(
            public_url=settings.public_url, secret=settings.secret_key.get_secret_value()
        )
        past = links.url(payment_id, issued_at=datetime.now(UTC) - timedelta(days=31))
        page = client.get(past.replace(settings.public_url, ""))
        assert page.status_code == 410
        assert "expired" in page.text
        assert "€30.00" not in page.text


class _FakePlugin:
    def __init__(self, provider: FakeProvider) -> None:
        self.provider = provider

    @hookimpl
    def paymux_add_providers(self) -> Sequence[ProviderSpec]:
        return [ProviderSpec("fake", lambda _context: self.provider)]


def test_the_buyers_return_asks_the_provider_once_in_a_while(sqlite_url: str) -> None:
    provider = FakeProvider()
    manager = create_plugin_manager(autoload=False, plugins=[_FakePlugin(provider)])
    settings = Settings(
        database_url=sqlite_url,
        api_keys={API_KEY: "dev"},
        providers={"fake": {}},
        embedded_worker="never",
    )
    with TestClient(create_app(settings, plugin_manager=manager)) as client:
        body = payment_body()
        created = client.post("/v1/payments", json=body, headers=auth(idempotency_key="b1"))
        assert created.status_code == 201, created.text
        link = created.json()["status_page_url"]
        # one link per payment: the PSP's return URL, the API's answers (a retried
        # registration must send the PSP the same body under the same idempotency key)
        assert provider.return_urls == [link]
        payment_url = f"/v1/payments/{created.json()['id']}"
        assert client.get(payment_url, headers=auth()).json()["status_page_url"] == link
        page_url = link.replace(settings.public_url, "")
        waiting = client.get(page_url)
        assert 'data-status="pending"' in waiting.text
        assert "waiting for your payment" in waiting.text
        assert 'id="pay"' in waiting.text or "id='pay'" in waiting.text
        asked = len(provider.status_checks)
        assert asked == 1
        # the buyer paid; no webhook came; the buyer's return finds out (not on every refresh)
        provider.status = PaymentStatus.SUCCEEDED
        assert 'data-status="pending"' in client.get(page_url).text
        assert len(provider.status_checks) == asked
        with patch("paymux.app.routes.status_page.ASK_PROVIDER_EVERY_SECONDS", 0.0):
            paid = client.get(page_url)
        assert 'data-status="succeeded"' in paid.text
        shown = client.get(f"/v1/payments/{created.json()['id']}", headers=auth())
        assert shown.json()["pending"] is None


NBSP = "\u00a0"
RLM = "\u200f"


def _status_page(
    client: TestClient, settings: Settings, key: str, language: str | None = None, **body: object
) -> str:
    """The status page of a new payment (its provider unreachable: the payment is unknown)."""
    created = client.post(
        "/v1/payments", json=payment_body(**body), headers=auth(idempotency_key=key)
    )
    assert created.status_code == 503, created.text
    link = StatusLinks(
        public_url=settings.public_url, secret=settings.secret_key.get_secret_value()
    ).url(created.json()["payment_id"], issued_at=datetime.now(UTC))
    headers = {} if language is None else {"Accept-Language": language}
    page = client.get(link.replace(settings.public_url, ""), headers=headers)
    assert page.status_code == 200
    assert page.headers["vary"] == "Accept-Language"
    text: str = page.text
    return text


def _shown(text: str, tag: str) -> str:
    return f'<bdi lang="{tag}">{text}</bdi>'


def test_the_status_page_shows_money_and_dates_in_the_buyers_locale(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url)
    orders = payment_body()["orders"]
    orders[0]["estimated_delivery"] = "2026-12-01/2026-12-03"
    with TestClient(create_app(settings)) as client:
        # the payment's buyer_locale wins over the browser's
        german = _status_page(client, settings, "de", "ja-JP", buyer_locale="de-DE", orders=orders)
        assert 'data-locale="de-DE"' in german
        assert _shown(f"42,50{NBSP}€", "de-DE") in german  # total
        assert _shown(f"30,00{NBSP}€", "de-DE") in german
        assert _shown("1.–3. Dez. 2026", "de-DE") in german
        created = re.search(r'<span id="created"><bdi lang="de-DE">([^<]+)</bdi>', german)
        assert created is not None
        assert re.fullmatch(r"\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2}:\d{2} UTC", created.group(1))
        # the words stay English, and say so
        assert '<html lang="en"' in german
        assert "Estimated delivery" in german

        # no buyer_locale: the browser's language; JPY has no decimals
        yen = [{"seller_id": "s", "amount": "10000", "reference": "o1"}]
        japanese = _status_page(
            client, settings, "ja", "ja-JP,en;q=0.5", currency="JPY", country="JP", orders=yen
        )
        assert _shown("￥10,000", "ja-JP") in japanese
        assert "Estimated delivery" not in japanese  # no order has an estimate

        # a buyer_locale CLDR does not know: the browser's; KWD keeps three decimals
        dinar = [{"seller_id": "s", "amount": "1.5", "reference": "o1"}]
        arabic = _status_page(
            client, settings, "kw", "ar-KW", buyer_locale="xx-YY", currency="KWD",
            country="KW", orders=dinar,
        )  # fmt: skip
        assert _shown(f"{RLM}1.500{NBSP}د.ك.{RLM}", "ar-KW") in arabic

        # neither: English, still with the ISO exponent (CLDR would show IQD without decimals)
        dinars = [{"seller_id": "s", "amount": "1.005", "reference": "o1"}]
        english = _status_page(client, settings, "iq", currency="IQD", country="IQ", orders=dinars)
        assert 'data-locale="en"' in english
        assert _shown("IQD1.005", "en") in english
        unreadable = _status_page(
            client, settings, "x", "@@;q=zz", currency="JPY", country="JP", orders=yen
        )
        assert _shown("¥10,000", "en") in unreadable
