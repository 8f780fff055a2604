"""How paymux may reach a buyer: an e-mail address and a locale, both optional.

The address is personal data: it is stored with the payment and handed to notifiers, but never
written to logs, job errors or outbox events (see ``docs/notifications.md``).
"""

from __future__ import annotations

import re

EMAIL_MAX_LENGTH = 254
"""The longest address SMTP can carry (RFC 5321's path limit less the angle brackets)."""

EMAIL_PATTERN = (
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
)
"""A plain ``local@domain`` address: a dot-atom local part and a domain of at least two
labels, ASCII only (internationalized domains in their ``xn--`` form). No display name, no
quoted local part, no spaces or commas, so the address can only ever name one recipient."""

LOCAL_PART_MAX_LENGTH = 64

LOCALE_PATTERN = r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,3}$"
"""A language tag such as ``de``, ``de-DE``, ``pt_BR`` or ``zh-Hant-TW``."""

LOCALE_MAX_LENGTH = 35

_EMAIL = re.compile(EMAIL_PATTERN)
_LOCALE = re.compile(LOCALE_PATTERN)


def email_problem(address: str) -> str | None:
    """Why ``address`` is not an e-mail address paymux accepts, or ``None`` if it is.

    The answer never repeats the address (it may end up in a log).
    """
    if len(address) > EMAIL_MAX_LENGTH:
        return f"must be at most {EMAIL_MAX_LENGTH} characters"
    if not _EMAIL.fullmatch(address):
        return "must be an e-mail address such as buyer@example.com"
    if len(address.rpartition("@")[0]) > LOCAL_PART_MAX_LENGTH:
        return f"the part before @ must be at most {LOCAL_PART_MAX_LENGTH} characters"
    return None


def locale_problem(locale: str) -> str | None:
    """Why ``locale`` is not a language tag paymux accepts, or ``None`` if it is."""
    if len(locale) > LOCALE_MAX_LENGTH or not _LOCALE.fullmatch(locale):
        return "must be a language tag such as 'en', 'de-DE' or 'pt_BR'"
    return None
