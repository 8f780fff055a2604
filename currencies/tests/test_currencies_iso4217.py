"""The ISO 4217 table: shipped data, exponents, withdrawn codes and lookups."""

from __future__ import annotations

import csv
import dataclasses
import io
import subprocess
import sys
from collections import Counter
from importlib import resources

import pytest
from babel.numbers import get_currency_precision

from paymux.currencies import (
    ISO4217_VERSION,
    Currency,
    MoneyError,
    UnknownCurrencyError,
    WithdrawnCurrencyError,
    active_currencies,
    get_active_currency,
    get_currency,
    is_active_currency,
)
from paymux.currencies.iso4217 import _parse_table

NO_MINOR_UNIT = [
    "XAG",
    "XAU",
    "XBA",
    "XBB",
    "XBC",
    "XBD",
    "XDR",
    "XPD",
    "XPT",
    "XSU",
    "XTS",
    "XUA",
    "XXX",
]
ZERO_EXPONENT = [
    "BIF",
    "CLP",
    "DJF",
    "GNF",
    "ISK",
    "JPY",
    "KMF",
    "KRW",
    "PYG",
    "RWF",
    "UGX",
    "UYI",
    "VND",
    "VUV",
    "XAF",
    "XOF",
    "XPF",
]
THREE_EXPONENT = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"]
WITHDRAWN = [
    "ANG",
    "BGN",
    "BYR",
    "CUC",
    "DEM",
    "EEK",
    "FRF",
    "HRK",
    "LTL",
    "LVL",
    "MRO",
    "SKK",
    "SLL",
    "STD",
    "VEF",
    "ZMK",
    "ZWL",
]


def _csv_rows() -> list[dict[str, str]]:
    text = resources.files("paymux.currencies").joinpath("data", "iso4217.csv").read_text("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize(
    ("code", "numeric", "exponent", "name"),
    [
        ("USD", "840", 2, "US Dollar"),
        ("EUR", "978", 2, "Euro"),
        ("JPY", "392", 0, "Yen"),
        ("KWD", "414", 3, "Kuwaiti Dinar"),
        ("IQD", "368", 3, "Iraqi Dinar"),
        ("MGA", "969", 2, "Malagasy Ariary"),
        ("CLF", "990", 4, "Unidad de Fomento"),
        ("UYW", "927", 4, "Unidad Previsional"),
        ("ALL", "008", 2, "Lek"),
        ("MRU", "929", 2, "Ouguiya"),
        ("XCG", "532", 2, "Caribbean Guilder"),
        ("ZWG", "924", 2, "Zimbabwe Gold"),
        ("SLE", "925", 2, "Leone"),
    ],
)
def test_known_currency_facts(code: str, numeric: str, exponent: int, name: str) -> None:
    assert get_currency(code) == Currency(code, numeric, exponent, name, withdrawn=False)
    assert get_active_currency(code).exponent == exponent
    assert is_active_currency(code)


@pytest.mark.parametrize("code", ZERO_EXPONENT)
def test_zero_exponent_currencies(code: str) -> None:
    assert get_currency(code).exponent == 0


@pytest.mark.parametrize("code", THREE_EXPONENT)
def test_three_exponent_currencies(code: str) -> None:
    assert get_currency(code).exponent == 3


def test_exponent_census_matches_the_published_list() -> None:
    # ISO 4217 List One of ISO4217_VERSION has 178 distinct codes: 165 with a
    # minor unit (17 with 0, 139 with 2, 7 with 3, 2 with 4) and 13 "N.A.".
    assert ISO4217_VERSION == "2026-01-01"
    active = active_currencies()
    assert len(active) == 165
    assert Counter(c.exponent for c in active) == {0: 17, 2: 139, 3: 7, 4: 2}
    assert sorted(c.code for c in active if c.exponent == 0) == ZERO_EXPONENT
    assert sorted(c.code for c in active if c.exponent == 3) == THREE_EXPONENT
    assert sorted(c.code for c in active if c.exponent == 4) == ["CLF", "UYW"]
    rows = _csv_rows()
    listed = [r for r in rows if r["withdrawn"] == "no"]
    assert len(listed) == 178
    assert sorted(r["code"] for r in listed if r["exponent"] == "") == NO_MINOR_UNIT


def test_exponents_are_iso_not_cldr() -> None:
    # Babel (CLDR) formats these with no decimals; ISO 4217 defines decimals.
    assert get_currency_precision("IQD") == 0
    assert get_currency("IQD").exponent == 3
    assert get_currency_precision("MGA") == 0
    assert get_currency("MGA").exponent == 2


@pytest.mark.parametrize("code", NO_MINOR_UNIT)
def test_codes_without_minor_unit_are_not_money_currencies(code: str) -> None:
    with pytest.raises(UnknownCurrencyError, match="has no minor unit"):
        get_currency(code)
    assert not is_active_currency(code)


@pytest.mark.parametrize("code", WITHDRAWN)
def test_withdrawn_currencies_are_known_but_not_active(code: str) -> None:
    currency = get_currency(code)
    assert currency.withdrawn
    assert not is_active_currency(code)
    with pytest.raises(WithdrawnCurrencyError, match=f"{code} .* has been withdrawn"):
        get_active_currency(code)
    assert code not in {c.code for c in active_currencies()}


def test_withdrawn_historical_exponents() -> None:
    assert get_currency("HRK") == Currency("HRK", "191", 2, "Kuna", withdrawn=True)
    assert get_currency("BYR").exponent == 0
    assert get_currency("DEM").numeric == "276"
    assert get_currency("ITL").exponent == 0


def test_lookup_is_exact_upper_case() -> None:
    with pytest.raises(UnknownCurrencyError, match="upper-case, did you mean 'EUR'"):
        get_currency("eur")
    with pytest.raises(UnknownCurrencyError, match="upper-case"):
        get_currency("Usd")
    assert not is_active_currency("eur")


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("ZZZ", "not in the ISO 4217 table"),
        ("EURO", "expected three upper-case letters"),
        ("", "expected three upper-case letters"),
        (" EUR", "expected three upper-case letters"),
        ("zzz", "expected three upper-case letters"),
    ],
)
def test_unknown_codes(code: str, fragment: str) -> None:
    with pytest.raises(UnknownCurrencyError, match=fragment):
        get_currency(code)
    assert not is_active_currency(code)


@pytest.mark.parametrize("code", [978, None, b"EUR"])
def test_non_string_code_is_unknown(code: object) -> None:
    with pytest.raises(UnknownCurrencyError, match="must be a three-letter code string"):
        get_currency(code)  # type: ignore[arg-type]
    assert not is_active_currency(code)  # type: ignore[arg-type]


def test_error_codes_and_hierarchy() -> None:
    assert UnknownCurrencyError.code == "unknown-currency"
    assert WithdrawnCurrencyError.code == "withdrawn-currency"
    assert issubclass(UnknownCurrencyError, MoneyError)
    assert issubclass(WithdrawnCurrencyError, MoneyError)
    assert issubclass(MoneyError, ValueError)


def test_active_currencies_is_sorted_and_a_copy() -> None:
    first = active_currencies()
    codes = [c.code for c in first]
    assert codes == sorted(codes)
    assert all(not c.withdrawn for c in first)
    first.clear()
    assert len(active_currencies()) == 165


def test_currency_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_currency("EUR").exponent = 3  # type: ignore[misc]


def test_shipped_csv_is_well_formed() -> None:
    rows = _csv_rows()
    assert list(rows[0]) == ["code", "numeric", "exponent", "name", "withdrawn"]
    codes = [r["code"] for r in rows]
    assert codes == sorted(codes)
    assert len(set(codes)) == len(codes)
    active_numerics = [r["numeric"] for r in rows if r["withdrawn"] == "no"]
    assert len(set(active_numerics)) == len(active_numerics)
    assert all(len(r["numeric"]) == 3 and r["numeric"].isdigit() for r in rows)
    assert {r["withdrawn"] for r in rows} == {"yes", "no"}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("code,numeric,exponent,name\nEUR,978,2,Euro\n", "header"),
        ("code,numeric,exponent,name,withdrawn\nEUR,978,2,Euro\n", "expected 5 columns"),
        ("code,numeric,exponent,name,withdrawn\neur,978,2,Euro,no\n", "bad code"),
        ("code,numeric,exponent,name,withdrawn\nEUR,97,2,Euro,no\n", "bad numeric"),
        ("code,numeric,exponent,name,withdrawn\nEUR,978,x,Euro,no\n", "bad exponent"),
        ("code,numeric,exponent,name,withdrawn\nEUR,978,2,Euro,maybe\n", "yes/no"),
        ("code,numeric,exponent,name,withdrawn\nEUR,978,2, Euro,no\n", "bad name"),
        (
            "code,numeric,exponent,name,withdrawn\nEUR,978,2,Euro,no\nEUR,978,2,Euro,no\n",
            "line 3: duplicate code EUR",
        ),
    ],
)
def test_table_parser_rejects_bad_data(text: str, fragment: str) -> None:
    with pytest.raises(RuntimeError, match=fragment):
        _parse_table(text)


def test_import_is_lazy_and_pulls_in_no_web_framework_or_orm() -> None:
    script = (
        "import sys\n"
        "import paymux.currencies\n"
        "from paymux.currencies.iso4217 import _table\n"
        "assert _table.cache_info().currsize == 0, 'table loaded at import time'\n"
        "banned = ('fastapi', 'starlette', 'flask', 'django', 'aiohttp', 'litestar',\n"
        "          'sqlalchemy', 'sqlmodel', 'peewee', 'tortoise', 'psycopg', 'asyncpg')\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in banned)\n"
        "assert not loaded, loaded\n"
        "paymux.currencies.get_currency('EUR')\n"
        "assert _table.cache_info().currsize == 1\n"
        "print('ok')\n"
    )
    result = subprocess.run(  # noqa: S603 - fixed script, current interpreter
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
