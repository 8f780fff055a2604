"""Seller payouts as one SEPA credit-transfer file: pain.001.001.09, built with sepaxml.

Every file is validated against the XSD sepaxml ships (with xmlschema) before it is kept:
a file the bank would refuse is never handed out.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from importlib.resources import files
from typing import Any

import xmlschema
from sepaxml import SepaTransfer

from paymux_bank_transfer.sepa import sepa_text

SCHEMA = "pain.001.001.09"
"""The 2019 ISO version SEPA schemes use since November 2023 (EPC087-22)."""


@dataclass(frozen=True, slots=True)
class Transfer:
    """One credit transfer of a batch."""

    end_to_end_id: str
    amount_minor: int
    iban: str
    bic: str | None
    holder_name: str
    remittance: str


@dataclass(frozen=True, slots=True)
class Debtor:
    """The platform's account the batch is paid from."""

    name: str
    iban: str
    bic: str


class BatchValidationError(ValueError):
    """sepaxml built a document its XSD refuses (an input it could not represent)."""


@functools.cache
def schema() -> xmlschema.XMLSchema:
    """The pain.001.001.09 XSD shipped in sepaxml (parsed once per process)."""
    return xmlschema.XMLSchema(str(files("sepaxml") / "schemas" / f"{SCHEMA}.xsd"))


def build_batch(
    debtor: Debtor, transfers: Sequence[Transfer], *, execution_date: date, currency: str = "EUR"
) -> tuple[str, bytes]:
    """The batch's message id and its XSD-valid pain.001.001.09 document."""
    if not transfers:
        raise ValueError("a batch needs at least one transfer")
    config: dict[str, Any] = {
        "name": sepa_text(debtor.name, 70),
        "IBAN": debtor.iban,
        "BIC": debtor.bic,
        "batch": True,
        "currency": currency,
    }
    document = SepaTransfer(config, schema=SCHEMA, clean=True)
    for transfer in transfers:
        payment: dict[str, Any] = {  # sepaxml mutates this dict: a fresh one per transfer
            "name": sepa_text(transfer.holder_name, 70),
            "IBAN": transfer.iban,
            "amount": transfer.amount_minor,
            "execution_date": execution_date,
            "description": sepa_text(transfer.remittance, 140),
            "endtoend_id": transfer.end_to_end_id,
        }
        if transfer.bic:
            payment["BIC"] = transfer.bic
        document.add_payment(payment)
    xml: bytes = document.export(validate=False, pretty_print=True)
    errors = list(schema().iter_errors(xml.decode()))
    if errors:
        raise BatchValidationError(f"the {SCHEMA} batch does not validate: {errors[0]}")
    return str(document.msg_id), xml
