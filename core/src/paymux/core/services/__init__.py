"""Use cases: what paymux does, in terms of the domain, the store and the providers."""
