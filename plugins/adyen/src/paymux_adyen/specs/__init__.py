"""Adyen's official OpenAPI files, trimmed to what paymux uses (see :mod:`.trim_specs`)."""
