"""paymux.core."""
