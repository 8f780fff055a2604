"""Reconciliation: settlement files parsed into normalized lines, matched against paymux's
records and ledger, discrepancies reported once, PSP fees and payouts booked once."""
