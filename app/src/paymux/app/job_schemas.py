"""Response bodies of the dead-letter endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from paymux.core.domain.jobs import Job, JobState


class JobOut(BaseModel):
    """A durable job as the API shows it."""

    id: str
    kind: str = Field(description="register_payment, check_payment, notify_buyer, ...")
    state: JobState
    provider: str | None = Field(description="The PSP the job calls, if any")
    payload: dict[str, Any] = Field(description="What the job works on (ids, never secrets)")
    attempts: int = Field(description="Failed attempts since it was queued or last replayed")
    replays: int = Field(description="How often it was replayed from the dead-letter queue")
    last_error: str | None = Field(description="Why the last attempt failed")
    next_run_at: datetime
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = Field(description="When it was done or dead-lettered")

    @classmethod
    def of(cls, job: Job) -> JobOut:
        """Render a job."""
        return cls(
            id=job.id,
            kind=job.kind,
            state=job.state,
            provider=job.provider,
            payload=dict(job.payload),
            attempts=job.attempts,
            replays=job.replays,
            last_error=job.last_error,
            next_run_at=job.next_run_at,
            created_at=job.created_at,
            updated_at=job.updated_at,
            finished_at=job.finished_at,
        )


class DeadLetterListOut(BaseModel):
    """A page of dead letters, oldest first."""

    dead_letters: list[JobOut]
    next_after: str | None = Field(
        description="Pass as ``after`` for the next page; ``null`` on the last page"
    )
