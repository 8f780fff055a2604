"""The durable job executor: retry policies, circuit breakers, the worker and paymux's own
job handlers (registration, the janitor, buyer notifications)."""
