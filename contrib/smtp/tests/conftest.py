"""Fixtures of the SMTP notifier's tests: a real SMTP server on a free local port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from paymux_smtp_server import LocalSmtp
from paymux_test_support import free_socket


@pytest.fixture
def local_smtp() -> Iterator[LocalSmtp]:
    """An SMTP server on a free port, not started yet (connections are refused)."""
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    server = LocalSmtp(port)
    yield server
    server.stop()


@pytest.fixture
def smtp_server(local_smtp: LocalSmtp) -> LocalSmtp:
    """An SMTP server listening on a free port."""
    local_smtp.start()
    return local_smtp
