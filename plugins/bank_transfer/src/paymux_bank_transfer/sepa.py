"""SEPA facts the plugin relies on: the scheme's countries and IBAN/BIC checks (schwifty)."""

from __future__ import annotations

import re
import unicodedata

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

SEPA_COUNTRIES: frozenset[str] = frozenset(
    {
        # EU member states
        "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
        "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
        # EEA, Switzerland, the United Kingdom and the microstates of the scheme
        "IS", "LI", "NO", "CH", "GB", "MC", "SM", "VA", "AD",
        # Crown dependencies, Gibraltar, French overseas departments and collectivities
        "GG", "IM", "JE", "GI", "GF", "GP", "MQ", "RE", "YT", "BL", "MF", "PM",
    }
)  # fmt: skip
"""Countries (ISO 3166 alpha-2, including territories with their own code) in the SEPA
credit-transfer scheme's geographical scope (EPC409-09). Newer members (for example Albania,
Montenegro, Moldova, North Macedonia) are not listed yet."""


class InvalidAccountError(ValueError):
    """An IBAN or BIC does not validate; ``code`` is the slug reported to paymux."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


def normalize_iban(value: str) -> str:
    """The compact IBAN (``DE89370400440532013000``); :class:`InvalidAccountError` if invalid
    or outside SEPA (code ``invalid-iban``)."""
    try:
        iban = IBAN(value)
    except SchwiftyException as error:
        raise InvalidAccountError(f"not a valid IBAN: {error}", code="invalid-iban") from None
    if iban.country_code not in SEPA_COUNTRIES:
        raise InvalidAccountError(
            f"IBAN of {iban.country_code}, outside the SEPA scheme", code="invalid-iban"
        )
    return str(iban.compact)


def format_iban(value: str) -> str:
    """The IBAN in groups of four, as people write it."""
    return str(IBAN(value).formatted)


def normalize_bic(value: str) -> str:
    """The compact BIC (8 or 11 characters); :class:`InvalidAccountError` (``invalid-bic``)."""
    try:
        return str(BIC(value).compact)
    except SchwiftyException as error:
        raise InvalidAccountError(f"not a valid BIC: {error}", code="invalid-bic") from None


def bic_of(iban: str) -> str | None:
    """The BIC schwifty's bank registry knows for an IBAN's bank, if any."""
    try:
        bic = IBAN(iban).bic
    except SchwiftyException:
        return None
    return str(bic.compact) if bic is not None else None


_NOT_SEPA_TEXT = re.compile(r"[^A-Za-z0-9/\-?:().,'+ ]")


def sepa_text(value: str, limit: int) -> str:
    """``value`` in the SEPA Latin character set, at most ``limit`` long: accents are dropped
    (``"Dupönt"`` -> ``"Dupont"``), other characters become ``-``."""
    decomposed = unicodedata.normalize("NFKD", value)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _NOT_SEPA_TEXT.sub("-", plain)[:limit]
