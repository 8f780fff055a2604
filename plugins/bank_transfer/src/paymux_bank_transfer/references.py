"""ISO 11649 creditor references (``RF..``) and the tagged ids the plugin hands out.

No pinned library offers ISO 11649 (schwifty covers IBAN and BIC only), so the mod-97 check of
ISO 7064 is implemented here: letters count ``A=10 .. Z=35``, the four leading characters
(``RF`` and the check digits) move to the end, and the number must leave 1 modulo 97.

Pay-in references and payout end-to-end ids share one shape of our own, a *tagged id*::

    nonce | owner tag | amount tag

- the nonce makes it unique (derived from the payment id, or random for payouts);
- the owner tag (HMAC of the nonce) says "this plugin issued it" without a database;
- the amount tag (HMAC of the nonce, the amount in minor units and the currency) says "and
  it was issued for exactly this amount".

So a statement line can be judged with no I/O (what :meth:`parse_webhook` must do): a line
whose amount differs from the one the reference was issued for fails the amount tag and
cannot make the payment succeed. Characters come from Crockford's base-32 alphabet (digits
and upper-case letters without I, L, O, U): easy to read out and to type into a bank form.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford's base 32: no I, L, O or U."""

RF_MAX_LENGTH = 25
"""``RF`` + 2 check digits + at most 21 alphanumeric characters."""

_RF_SHAPE = re.compile(r"RF[0-9]{2}[0-9A-Z]{1,21}")


class CreditorReferenceError(ValueError):
    """A creditor reference is malformed or fails its check digits."""


def _numeric(text: str) -> int:
    """ISO 7064 letters-to-digits: ``"RF"`` -> ``2715``."""
    return int("".join(str(int(char, 36)) for char in text))


def compact(reference: str) -> str:
    """The reference without spaces, in upper case (``"rf18 5390"`` -> ``"RF185390"``)."""
    return "".join(reference.split()).upper()


def creditor_reference(body: str) -> str:
    """The ISO 11649 reference for ``body`` (1 to 21 letters or digits), check digits added."""
    body = compact(body)
    if not 1 <= len(body) <= 21 or not body.isalnum() or not body.isascii():
        raise CreditorReferenceError(
            f"a creditor reference body is 1-21 letters or digits: {body!r}"
        )
    check = 98 - _numeric(body + "RF00") % 97
    return f"RF{check:02d}{body}"


def is_valid_creditor_reference(reference: str) -> bool:
    """Whether ``reference`` is a well-formed ISO 11649 reference with correct check digits."""
    value = compact(reference)
    if len(value) > RF_MAX_LENGTH or not _RF_SHAPE.fullmatch(value):
        return False
    return _numeric(value[4:] + value[:4]) % 97 == 1


def format_reference(reference: str) -> str:
    """Groups of four for people: ``"RF18 5390 0754 7034"``."""
    value = compact(reference)
    return " ".join(value[i : i + 4] for i in range(0, len(value), 4))


def _mac(key: bytes, message: str, length: int) -> str:
    """The first ``length`` base-32 characters of HMAC-SHA256(key, message)."""
    number = int.from_bytes(hmac.new(key, message.encode(), hashlib.sha256).digest(), "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, 32)
        chars.append(ALPHABET[index])
    return "".join(chars)


@dataclass(frozen=True, slots=True)
class TagScheme:
    """How one kind of tagged id is built and checked (the key and the part lengths)."""

    key: bytes
    kind: str
    """Domain separation: a payment reference never verifies as a payout id."""
    nonce_length: int
    owner_length: int = 5
    amount_length: int = 8

    @property
    def length(self) -> int:
        """The length of a tagged id of this scheme."""
        return self.nonce_length + self.owner_length + self.amount_length

    def nonce_for(self, seed: str) -> str:
        """A nonce derived from ``seed`` (for example a payment id and an attempt number)."""
        return _mac(self.key, f"{self.kind}:nonce:{seed}", self.nonce_length)

    def build(self, nonce: str, minor: int, currency: str) -> str:
        """The tagged id for ``nonce`` issued for ``minor`` units of ``currency``."""
        if len(nonce) != self.nonce_length or any(c not in ALPHABET for c in nonce):
            raise CreditorReferenceError(
                f"a nonce is {self.nonce_length} base-32 characters: {nonce!r}"
            )
        return nonce + self._owner(nonce) + self._amount(nonce, minor, currency)

    def is_ours(self, tagged: str) -> bool:
        """Whether this scheme's key issued ``tagged`` (for any amount)."""
        if len(tagged) != self.length or any(c not in ALPHABET for c in tagged):
            return False
        nonce = tagged[: self.nonce_length]
        owner = tagged[self.nonce_length : self.nonce_length + self.owner_length]
        return hmac.compare_digest(owner, self._owner(nonce))

    def matches_amount(self, tagged: str, minor: int, currency: str) -> bool:
        """Whether ``tagged`` is ours and was issued for exactly ``minor`` ``currency``."""
        if not self.is_ours(tagged):
            return False
        nonce = tagged[: self.nonce_length]
        return hmac.compare_digest(tagged, self.build(nonce, minor, currency))

    def _owner(self, nonce: str) -> str:
        return _mac(self.key, f"{self.kind}:owner:{nonce}", self.owner_length)

    def _amount(self, nonce: str, minor: int, currency: str) -> str:
        return _mac(self.key, f"{self.kind}:amount:{nonce}:{minor}:{currency}", self.amount_length)


PAYOUT_PREFIX = "PMXPO"
"""End-to-end ids of our payouts start with this (SEPA allows 35 characters)."""


@dataclass(frozen=True, slots=True)
class Identifiers:
    """The plugin's two id schemes, keyed by the configured ``reference_secret``."""

    payments: TagScheme
    payouts: TagScheme

    @classmethod
    def from_secret(cls, secret: str) -> Identifiers:
        """Both schemes from one secret (each uses its own domain string)."""
        key = secret.encode()
        return cls(
            payments=TagScheme(key, "payment", nonce_length=8),  # RF + 2 + 21 = 25 characters
            payouts=TagScheme(key, "payout", nonce_length=12),  # PMXPO + 25 = 30 characters
        )

    def payment_reference(self, payment_id: str, attempt: int, minor: int, currency: str) -> str:
        """The RF reference of a payment (``attempt`` > 0 only after a nonce collision)."""
        nonce = self.payments.nonce_for(f"{payment_id}:{attempt}")
        return creditor_reference(self.payments.build(nonce, minor, currency))

    def payout_end_to_end_id(self, nonce: str, minor: int, currency: str) -> str:
        """The end-to-end id of a payout with a random ``nonce``."""
        return PAYOUT_PREFIX + self.payouts.build(nonce, minor, currency)

    def payment_reference_is_ours(self, reference: str) -> bool:
        """A valid RF reference whose body this plugin issued."""
        value = compact(reference)
        return is_valid_creditor_reference(value) and self.payments.is_ours(value[4:])

    def payment_reference_matches(self, reference: str, minor: int, currency: str) -> bool:
        """A valid RF reference this plugin issued for exactly this amount."""
        value = compact(reference)
        return is_valid_creditor_reference(value) and self.payments.matches_amount(
            value[4:], minor, currency
        )

    def payout_id_is_ours(self, end_to_end_id: str) -> bool:
        """An end-to-end id this plugin issued for a payout."""
        value = end_to_end_id.strip().upper()
        return value.startswith(PAYOUT_PREFIX) and self.payouts.is_ours(value[len(PAYOUT_PREFIX) :])

    def payout_id_matches(self, end_to_end_id: str, minor: int, currency: str) -> bool:
        """An end-to-end id this plugin issued for a payout of exactly this amount."""
        value = end_to_end_id.strip().upper()
        return value.startswith(PAYOUT_PREFIX) and self.payouts.matches_amount(
            value[len(PAYOUT_PREFIX) :], minor, currency
        )


_CANDIDATE = re.compile(r"(?=(RF[0-9]{2}[0-9A-Z]{21}))")
_PAYOUT_CANDIDATE = re.compile(rf"(?=({PAYOUT_PREFIX}[0-9A-Z]{{25}}))")


def payment_reference_candidates(text: str) -> list[str]:
    """RF references of our length (25) found in free text, spaces ignored, in order."""
    squeezed = compact(text)
    found = [match.group(1) for match in _CANDIDATE.finditer(squeezed)]
    return [value for value in dict.fromkeys(found) if is_valid_creditor_reference(value)]


def payout_id_candidates(text: str) -> list[str]:
    """Our payout end-to-end ids found in free text, spaces ignored, in order."""
    squeezed = compact(text)
    return list(dict.fromkeys(match.group(1) for match in _PAYOUT_CANDIDATE.finditer(squeezed)))
