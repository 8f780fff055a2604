"""Crash points: ``PAYMUX_CRASH_AT`` kills the process with SIGKILL at the named point, and
nothing happens without it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from paymux.core import crashpoints

SCRIPT = """
from paymux.core import crashpoints
for _ in range(3):
    crashpoints.reached(crashpoints.PSP_ANSWERED)
    print("passed", flush=True)
"""


def run(crash_at: str | None) -> subprocess.CompletedProcess[str]:
    """Reach ``registration.psp_answered`` three times in a fresh process."""
    env = {k: v for k, v in os.environ.items() if k != crashpoints.ENVIRONMENT_VARIABLE}
    if crash_at is not None:
        env[crashpoints.ENVIRONMENT_VARIABLE] = crash_at
    return subprocess.run(  # noqa: S603 - this interpreter
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60
    )


def test_without_the_variable_nothing_happens() -> None:
    finished = run(None)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.split() == ["passed"] * 3


def test_the_named_point_kills_the_process_at_once() -> None:
    finished = run(crashpoints.PSP_ANSWERED)
    assert finished.returncode == -signal.SIGKILL
    assert finished.stdout == ""
    assert "crash point registration.psp_answered reached" in finished.stderr


def test_a_count_kills_at_that_hit() -> None:
    finished = run(f"{crashpoints.PSP_ANSWERED}:3")
    assert finished.returncode == -signal.SIGKILL
    assert finished.stdout.split() == ["passed"] * 2


def test_another_point_is_left_alone() -> None:
    finished = run(crashpoints.BEFORE_PSP_CALL)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.split() == ["passed"] * 3


def test_unknown_points_and_bad_counts_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="unknown crash point"):
        crashpoints.reached("payment.comitted")
    monkeypatch.setenv(crashpoints.ENVIRONMENT_VARIABLE, f"{crashpoints.PSP_ANSWERED}:0")
    with pytest.raises(ValueError, match="positive integer"):
        crashpoints.reached(crashpoints.PSP_ANSWERED)
    monkeypatch.setenv(crashpoints.ENVIRONMENT_VARIABLE, f"{crashpoints.PSP_ANSWERED}:x")
    with pytest.raises(ValueError, match="positive integer"):
        crashpoints.reached(crashpoints.PSP_ANSWERED)
