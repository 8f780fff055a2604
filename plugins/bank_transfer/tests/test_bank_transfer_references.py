"""ISO 11649 creditor references and the tagged ids inside them."""

from __future__ import annotations

import pytest

from paymux_bank_transfer.references import (
    ALPHABET,
    CreditorReferenceError,
    Identifiers,
    creditor_reference,
    format_reference,
    is_valid_creditor_reference,
    payment_reference_candidates,
    payout_id_candidates,
)

IDS = Identifiers.from_secret("a-test-reference-secret")


def test_the_iso_11649_example_validates() -> None:
    assert is_valid_creditor_reference("RF18539007547034")
    assert is_valid_creditor_reference("RF18 5390 0754 7034")
    assert is_valid_creditor_reference("rf18539007547034")
    assert creditor_reference("539007547034") == "RF18539007547034"
    # "0" + "RF00" -> 0271500; 271500 mod 97 = 94; 98 - 94 = 04
    assert creditor_reference("0") == "RF040"


@pytest.mark.parametrize(
    "reference",
    [
        "RF19539007547034",  # check digits off by one
        "RF18539007547035",  # last character changed
        "RF18359007547034",  # two characters swapped
        "RF18",  # no body
        "RF185390075470345390075470345",  # too long
        "XX18539007547034",  # not RF
        "RF1853900754703!",  # not alphanumeric
    ],
)
def test_invalid_references_are_refused(reference: str) -> None:
    assert not is_valid_creditor_reference(reference)


def test_generated_references_round_trip() -> None:
    for body in ["A", "ZZZZZZZZZZZZZZZZZZZZZ", "PAYMUX2024", "0000000000000000000001"[:21]]:
        reference = creditor_reference(body)
        assert is_valid_creditor_reference(reference)
        assert reference.endswith(body)
    with pytest.raises(CreditorReferenceError):
        creditor_reference("A" * 22)
    with pytest.raises(CreditorReferenceError):
        creditor_reference("ÄBC")


def test_payment_references_are_ours_and_bound_to_the_amount() -> None:
    reference = IDS.payment_reference("pay_123", 0, 4250, "EUR")
    assert len(reference) == 25
    assert is_valid_creditor_reference(reference)
    assert all(char in ALPHABET for char in reference[4:])
    assert reference == IDS.payment_reference("pay_123", 0, 4250, "EUR")  # derived, stable
    assert reference != IDS.payment_reference("pay_123", 1, 4250, "EUR")
    assert reference != IDS.payment_reference("pay_124", 0, 4250, "EUR")
    assert IDS.payment_reference_is_ours(reference)
    assert IDS.payment_reference_matches(reference, 4250, "EUR")
    assert IDS.payment_reference_matches(format_reference(reference).lower(), 4250, "EUR")
    assert not IDS.payment_reference_matches(reference, 4251, "EUR")
    assert not IDS.payment_reference_matches(reference, 4250, "USD")
    other = Identifiers.from_secret("another-reference-secret")
    assert not other.payment_reference_is_ours(reference)
    assert not IDS.payment_reference_is_ours("RF18539007547034")


def test_payout_ids_are_not_payment_references() -> None:
    end_to_end_id = IDS.payout_end_to_end_id("ABCDEFGHJKMN", 1000, "EUR")
    assert len(end_to_end_id) <= 35
    assert IDS.payout_id_is_ours(end_to_end_id)
    assert IDS.payout_id_matches(end_to_end_id, 1000, "EUR")
    assert not IDS.payout_id_matches(end_to_end_id, 999, "EUR")
    body = end_to_end_id[len("PMXPO") :]
    assert not IDS.payments.is_ours(body[: IDS.payments.length])


def test_candidates_are_found_in_what_buyers_type() -> None:
    reference = IDS.payment_reference("pay_9", 0, 100, "EUR")
    typed = f"order 42 ref {format_reference(reference).lower()} thanks"
    assert payment_reference_candidates(typed) == [reference]
    assert payment_reference_candidates("RF18539007547034 is too short for ours") == []
    end_to_end_id = IDS.payout_end_to_end_id("ABCDEFGHJKMN", 1000, "EUR")
    assert payout_id_candidates(f"return of {end_to_end_id}") == [end_to_end_id]
