"""Retry back-off with full jitter, and per-provider circuit breakers (pure, no database)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from paymux.core.jobs.circuit import CircuitBreakers, CircuitState
from paymux.core.jobs.janitor import DEFAULT_SCHEDULES, JanitorSchedule
from paymux.core.jobs.retry import DEFAULT_POLICIES, RetryPolicy, policy_for


def test_backoff_is_full_jitter_under_an_exponential_ceiling() -> None:
    policy = RetryPolicy(max_attempts=10, base_seconds=1.0, cap_seconds=60.0)
    rng = random.Random(7)
    for failures, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0), (9, 60.0)]:
        delays = [policy.delay(failures, rng=rng) for _ in range(300)]
        assert all(0 <= delay <= ceiling for delay in delays)
        # full jitter: the whole range is used, not just the top of it
        assert min(delays) < ceiling * 0.1
        assert max(delays) > ceiling * 0.9


def test_retry_after_is_believed_up_to_the_cap() -> None:
    policy = RetryPolicy(base_seconds=1.0, cap_seconds=30.0)
    assert policy.delay(1, retry_after=7.0) == 7.0
    assert policy.delay(1, retry_after=3600.0) == 30.0


def test_attempts_run_out() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert not policy.exhausted(2)
    assert policy.exhausted(3)
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="base_seconds"):
        RetryPolicy(base_seconds=10, cap_seconds=5)


def test_policy_lookup_prefers_settings_then_defaults() -> None:
    mine = RetryPolicy(max_attempts=2)
    assert policy_for("register_payment", {"register_payment": mine}) is mine
    assert policy_for("register_payment", {}) is DEFAULT_POLICIES["register_payment"]
    assert policy_for("plugin_kind", {}) == RetryPolicy()


def test_breaker_opens_after_the_threshold_and_lets_one_trial_through() -> None:
    now = [datetime(2026, 11, 24, tzinfo=UTC)]
    breakers = CircuitBreakers(threshold=3, open_seconds=30, clock=lambda: now[0])
    for _ in range(2):
        breakers.record_failure("adyen")
    assert breakers.allow("adyen")
    breakers.record_failure("adyen")
    assert breakers.state("adyen") is CircuitState.OPEN
    assert not breakers.allow("adyen")
    assert breakers.unavailable_reason("adyen") is not None
    assert breakers.allow("stripe")  # one provider's trouble is not another's
    assert breakers.reopens_at("adyen") == now[0] + timedelta(seconds=30)
    now[0] += timedelta(seconds=31)
    assert breakers.state("adyen") is CircuitState.HALF_OPEN
    assert breakers.unavailable_reason("adyen") is None
    assert breakers.allow("adyen")  # the trial
    assert not breakers.allow("adyen")  # only one
    breakers.record_failure("adyen")  # the trial failed: open again
    assert breakers.state("adyen") is CircuitState.OPEN
    now[0] += timedelta(seconds=31)
    assert breakers.allow("adyen")
    breakers.record_success("adyen")
    assert breakers.state("adyen") is CircuitState.CLOSED
    breakers.record_failure("adyen")
    assert breakers.allow("adyen")  # counting starts again


def test_a_success_resets_the_count() -> None:
    breakers = CircuitBreakers(threshold=2, open_seconds=5)
    breakers.record_failure("square")
    breakers.record_success("square")
    breakers.record_failure("square")
    assert breakers.state("square") is CircuitState.CLOSED


def test_janitor_schedule_most_specific_key_wins() -> None:
    schedule = JanitorSchedule(
        {"default": (60.0,), "card": (30.0,), "stripe": (20.0,), "stripe/card": (10.0,)}
    )
    assert schedule.delays("stripe", "card") == (10.0,)
    assert schedule.delays("stripe", "sepa") == (20.0,)
    assert schedule.delays("adyen", "card") == (30.0,)
    assert schedule.delays("adyen", "sepa") == (60.0,)
    defaults = JanitorSchedule()
    assert sum(defaults.delays("bank_transfer", "bank_transfer")) == 14 * 86400
    assert max(defaults.delays("stripe", "card")) <= 86400
    assert defaults.delays("stripe", "card") == DEFAULT_SCHEDULES["default"]
    with pytest.raises(ValueError, match="positive"):
        JanitorSchedule({"default": ()})
