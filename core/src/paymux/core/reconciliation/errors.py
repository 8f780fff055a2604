"""Errors of settlement files: refused as a whole, or malformed at a line."""

from __future__ import annotations


class SettlementFileError(ValueError):
    """A settlement file paymux cannot reconcile; nothing of it was written."""


class WrongFormatError(SettlementFileError):
    """The file is not in any settlement format of the provider it was given for."""


class MalformedSettlementError(SettlementFileError):
    """A line (or the header, line 1) of a settlement file is malformed.

    ``line_number`` counts from 1, the first line of the file (a CSV's header); 0 means
    the file as a whole (a JSON or XML document that does not parse).
    """

    def __init__(self, line_number: int, message: str) -> None:
        super().__init__(f"line {line_number}: {message}")
        self.line_number = line_number
        self.reason = message
