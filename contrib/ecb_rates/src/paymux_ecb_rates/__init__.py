"""paymux-ecb-rates: the ECB's euro reference rates as a paymux rate source."""
