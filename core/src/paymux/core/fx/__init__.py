"""Foreign exchange: rate sources, locked quotes and the one rounding step of a conversion."""
