"""The double-entry ledger: accounts, balanced journal transactions, and posting rules.

Pure domain code: no ORM, no web framework. Storage lives in :mod:`paymux.core.storage`.
"""
