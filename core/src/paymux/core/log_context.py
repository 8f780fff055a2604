"""What a log record is about beyond its message: the job a worker is running.

The worker binds the job with :func:`job_context`; paymux's logging setup
(:mod:`paymux.app.logging_setup`) adds it to every record logged meanwhile, in that task only.
The request id of an HTTP request is bound the same way by the app (``X-Request-ID``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

current_job_id: ContextVar[str | None] = ContextVar("paymux_job_id", default=None)
"""The id of the job running in this task, if any."""

current_job_kind: ContextVar[str | None] = ContextVar("paymux_job_kind", default=None)
"""The kind of the job running in this task, if any."""


@contextmanager
def job_context(job_id: str, kind: str) -> Iterator[None]:
    """Bind a job to the log records of the block (in this task)."""
    id_token = current_job_id.set(job_id)
    kind_token = current_job_kind.set(kind)
    try:
        yield
    finally:
        current_job_kind.reset(kind_token)
        current_job_id.reset(id_token)
