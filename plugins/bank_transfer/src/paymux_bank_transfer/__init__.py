"""paymux-bank-transfer: pay-in by SEPA bank transfer and seller payouts as pain.001 batches."""
