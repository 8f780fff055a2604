"""Test support shipped with paymux: the provider conformance kit for plugin authors."""
