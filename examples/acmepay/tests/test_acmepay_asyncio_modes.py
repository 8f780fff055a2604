"""The conformance suite runs in pytest-asyncio's strict mode too, not only in auto mode."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SUITE = Path(__file__).with_name("test_acmepay_conformance.py")


def test_the_suite_passes_in_strict_mode() -> None:
    result = subprocess.run(  # noqa: S603 - our own interpreter and test file
        [
            sys.executable,
            "-m",
            "pytest",
            str(SUITE),
            "-o",
            "asyncio_mode=strict",
            "-p",
            "no:cacheprovider",
            "-v",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mode=Mode.STRICT" in result.stdout
    assert " passed" in result.stdout
