"""Statement-secret rotation: the current and the previous secret verify, no other."""

from __future__ import annotations

from pathlib import Path

import pytest

from paymux.core.ports.provider import WebhookVerificationError
from paymux_bank_transfer.config import DEVELOPMENT_STATEMENT_SECRET, BankTransferConfig
from paymux_bank_transfer.provider import BankTransferProvider
from paymux_bank_transfer.signature import SIGNATURE_HEADER, sign

STATEMENT = (Path(__file__).parent / "fixtures" / "camt053_statement.xml").read_bytes()
NEW, OLD, OTHER = "statement-secret-new-1", "statement-secret-old-1", "statement-secret-3rd-1"


def config(tmp_path: Path, **extra: str | None) -> BankTransferConfig:
    return BankTransferConfig.model_validate(
        {
            "iban": "DE89 3704 0044 0532 0130 00",
            "beneficiary_name": "Paymux Demo GmbH",
            "statement_secret": NEW,
            "database_url": f"sqlite:///{tmp_path / 'bank.db'}",
            **extra,
        }
    )


@pytest.mark.parametrize(
    ("previous", "secret", "accepted"),
    [(OLD, NEW, True), (OLD, OLD, True), (OLD, OTHER, False), (None, OLD, False)],
)
async def test_during_a_rotation_two_secrets_verify(
    tmp_path: Path, previous: str | None, secret: str, accepted: bool
) -> None:
    provider = BankTransferProvider(
        config(tmp_path, previous_statement_secret=previous), page_base_url="http://bank.test"
    )
    headers = {SIGNATURE_HEADER: sign(STATEMENT, secret=secret)}
    try:
        if accepted:
            provider.parse_webhook(headers, STATEMENT)  # verified (its lines are not ours)
        else:
            with pytest.raises(WebhookVerificationError, match="does not match"):
                provider.parse_webhook(headers, STATEMENT)
    finally:
        await provider.aclose()


def test_live_mode_refuses_the_development_secret_as_the_previous_one(tmp_path: Path) -> None:
    rotated = config(tmp_path, previous_statement_secret=DEVELOPMENT_STATEMENT_SECRET)
    with pytest.raises(ValueError, match="STATEMENT_SECRET"):
        rotated.check_live()


def test_statements_may_be_larger_than_paymux_webhooks(tmp_path: Path) -> None:
    provider = BankTransferProvider(config(tmp_path), page_base_url="http://bank.test")
    assert provider.max_webhook_body_bytes == 20_000_000
