"""The ECB's reference-rate XML read from files in this repository, and the rate source."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from paymux.core.fx.rates import RateUnavailableError
from paymux.core.plugins import collect_rate_sources, create_plugin_manager
from paymux.core.settings import Settings
from paymux_ecb_rates import plugin
from paymux_ecb_rates.reference_xml import ReferenceRatesError, parse_reference_rates
from paymux_ecb_rates.source import EcbRateSource, fetch_url, read_file

DATA = Path(__file__).parent / "data"
DAILY = (DATA / "eurofxref-daily.xml").read_bytes()


def test_the_daily_file_gives_one_day_of_exact_rates() -> None:
    (day,) = parse_reference_rates(DAILY)
    assert day.day == date(2026, 11, 23)
    assert len(day.rates) == 25
    assert day.rates["USD"] == Decimal("1.0812")
    assert day.rates["ISK"] == Decimal("148.90")
    assert all(isinstance(rate, Decimal) for rate in day.rates.values())


def test_currencies_no_longer_in_iso_4217_are_skipped() -> None:
    document = DAILY.replace(b"currency='HUF'", b"currency='HRK'")
    (day,) = parse_reference_rates(document)
    assert "HRK" not in day.rates
    assert len(day.rates) == 24
    only_old = (
        DAILY.split(b"<Cube currency=")[0]
        + b"<Cube currency='CYP' rate='0.58'/></Cube></Cube></gesmes:Envelope>"
    )
    with pytest.raises(ReferenceRatesError, match="no rates"):
        parse_reference_rates(only_old)


def test_a_history_file_gives_its_days_newest_first() -> None:
    days = parse_reference_rates((DATA / "eurofxref-hist-3d.xml").read_bytes())
    assert [d.day for d in days] == [date(2026, 11, 23), date(2026, 11, 20), date(2026, 11, 19)]
    assert days[2].rates == {"USD": Decimal("1.0790"), "JPY": Decimal("162.88")}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"not xml", "not XML"),
        (b"<rates/>", "root element"),
        (DAILY.replace(b"<Cube time='2026-11-23'>", b"<Cube time='yesterday'>"), "not a date"),
        (DAILY.replace(b"rate='1.0812'", b"rate='1,0812'"), "USD: rate '1,0812' is not a number"),
        (DAILY.replace(b"rate='1.0812'", b"rate='-1'"), "not positive"),
        (DAILY.replace(b"<?xml", b"<!DOCTYPE x [<!ENTITY a 'b'>]><?xml"), "document type"),
        (DAILY.replace(b"currency='JPY'", b"currency='USD'"), "USD appears twice"),
    ],
)
def test_a_wrong_document_is_refused_with_what_is_wrong(document: bytes, message: str) -> None:
    with pytest.raises(ReferenceRatesError, match=message):
        parse_reference_rates(document)


async def test_rates_from_the_euro_to_it_and_across_it() -> None:
    source = EcbRateSource(read_file(DATA / "eurofxref-daily.xml"))
    eur_usd = await source.rate("EUR", "USD")
    assert (eur_usd.value, eur_usd.source, eur_usd.as_of) == (
        Decimal("1.0812"),
        "ecb",
        date(2026, 11, 23),
    )
    assert (await source.rate("USD", "EUR")).value == Decimal("0.924898261191")
    assert (await source.rate("JPY", "USD")).value == Decimal("0.00661486693178")
    assert (await source.rate("EUR", "EUR")).value == 1
    with pytest.raises(RateUnavailableError, match="KWD"):
        await source.rate("EUR", "KWD")


async def test_the_document_is_fetched_once_per_refresh_and_a_failed_refresh_keeps_the_day() -> (
    None
):
    now = [0.0]
    served: list[int] = []
    status = [200]

    def handler(request: httpx.Request) -> httpx.Response:
        served.append(status[0])
        return httpx.Response(status[0], content=DAILY)

    transport = httpx.MockTransport(handler)

    async def fetch() -> bytes:
        async with httpx.AsyncClient(transport=transport) as client:
            response = await client.get("https://ecb.example/eurofxref-daily.xml")
            response.raise_for_status()
            return response.content

    source = EcbRateSource(fetch, refresh_seconds=3600, clock=lambda: now[0])
    await source.rate("EUR", "USD")
    await source.rate("EUR", "JPY")
    assert served == [200]
    now[0] = 3600.0
    status[0] = 503
    assert (await source.rate("EUR", "USD")).value == Decimal("1.0812")
    assert (await source.rate("EUR", "JPY")).value == Decimal("163.45")
    assert served == [200, 503]  # a failed refresh is tried again a minute later, not per rate
    now[0] = 3660.0
    status[0] = 200
    await source.rate("EUR", "USD")
    assert served == [200, 503, 200]


async def test_without_any_document_no_rate_is_given() -> None:
    source = EcbRateSource(fetch_url("http://127.0.0.1:9/eurofxref-daily.xml", timeout_seconds=2))
    with pytest.raises(RateUnavailableError, match="could not be read"):
        await source.rate("EUR", "USD")


def test_the_plugin_offers_the_ecb_source_reading_the_configured_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYMUX_ECB__FILE", str(DATA / "eurofxref-daily.xml"))
    manager = create_plugin_manager(autoload=False, plugins=[plugin])
    (source,) = collect_rate_sources(manager, Settings())
    assert source.name == "ecb"
