"""The bank-transfer provider's settings (``PAYMUX_PROVIDERS__BANK_TRANSFER__<FIELD>``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from paymux_bank_transfer.sepa import InvalidAccountError, bic_of, normalize_bic, normalize_iban

DEVELOPMENT_STATEMENT_SECRET = "bank-statement-development-secret"  # noqa: S105 - refused live
DEVELOPMENT_REFERENCE_SECRET = "bank-reference-development-secret"  # noqa: S105 - refused live


class BankTransferConfig(BaseModel):
    """The platform's bank account, the secrets and the plugin's own store."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    iban: str
    """The platform's account buyers pay into and payouts are sent from (validated)."""
    beneficiary_name: str = Field(min_length=1, max_length=70)
    """The account holder's name, shown to buyers and used as the debtor of payouts."""
    bic: str | None = None
    """The account's BIC; default: the BIC schwifty's bank registry knows for the IBAN."""
    statement_secret: str = Field(default=DEVELOPMENT_STATEMENT_SECRET, min_length=16)
    """Key of the ``Bank-Statement-Signature`` HMAC-SHA256 of statement uploads."""
    previous_statement_secret: str | None = Field(default=None, min_length=16)
    """The statement secret before a rotation, accepted until it is removed."""
    reference_secret: str = Field(default=DEVELOPMENT_REFERENCE_SECRET, min_length=16)
    """Key of the tags inside references and end-to-end ids. Never change it while
    references are pending: their statement lines would no longer verify by webhook."""
    database_url: str = "sqlite:///paymux_bank_transfer.db"
    """SQLAlchemy URL (synchronous driver) of the plugin's own tables (``bank_transfer_*``)."""
    expiry_days: int = Field(default=14, gt=0, le=365)
    """How long a buyer has to pay; after that an unmatched payment is ``expired``."""
    page_base_url: str | None = None
    """Where the instruction pages are served; default: the public URL + ``/bank-transfer``."""
    store_timeout_seconds: float = Field(default=5.0, gt=0)
    """How long one store operation may take before its outcome is unknown."""
    max_statement_bytes: int = Field(default=20_000_000, gt=0)
    """Larger statement uploads are refused."""

    @field_validator("iban")
    @classmethod
    def _valid_iban(cls, value: str) -> str:
        try:
            return normalize_iban(value)
        except InvalidAccountError as error:
            raise ValueError(str(error)) from None

    @field_validator("bic")
    @classmethod
    def _valid_bic(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return normalize_bic(value)
        except InvalidAccountError as error:
            raise ValueError(str(error)) from None

    @model_validator(mode="after")
    def _bic_known(self) -> BankTransferConfig:
        if self.bic is None:
            known = bic_of(self.iban)
            if known is None:
                raise ValueError("the bank of this IBAN is not in schwifty's registry: set bic")
            object.__setattr__(self, "bic", known)
        return self

    @property
    def account_bic(self) -> str:
        """The BIC, given or derived (always set after validation)."""
        assert self.bic is not None
        return self.bic

    def check_live(self) -> None:
        """Refuse the development secrets (``ValueError``); called in live mode."""
        if DEVELOPMENT_STATEMENT_SECRET in (self.statement_secret, self.previous_statement_secret):
            raise ValueError("live mode needs PAYMUX_PROVIDERS__BANK_TRANSFER__STATEMENT_SECRET")
        if self.reference_secret == DEVELOPMENT_REFERENCE_SECRET:
            raise ValueError("live mode needs PAYMUX_PROVIDERS__BANK_TRANSFER__REFERENCE_SECRET")
