"""``GET /v1/dead-letters`` and ``POST /v1/dead-letters/{id}/replay``.

No ``from __future__ import annotations`` here: FastAPI resolves the local scope aliases.
"""

from typing import Annotated

from fastapi import APIRouter, Query, Security

from paymux.app.job_schemas import DeadLetterListOut, JobOut
from paymux.app.problems import Problem
from paymux.app.routes.common import api_router, problem_responses
from paymux.app.routes.paging import page_limit
from paymux.app.runtime import PaymuxRuntime
from paymux.core.domain.api_keys import Scope
from paymux.core.identifiers import utc_now

_ERRORS = problem_responses(
    {404: "No such dead letter for this client", 409: "The job is not dead-lettered"}
)


def dead_letters_router(runtime: PaymuxRuntime) -> APIRouter:
    """The dead-letter endpoints, bound to ``runtime``."""
    router = api_router(prefix="/v1", tags=["dead letters"])
    Admin = Annotated[str, Security(runtime.api_keys, scopes=[Scope.ADMIN])]  # noqa: N806

    @router.get("/dead-letters", response_model=DeadLetterListOut)
    async def list_dead_letters(
        client_id: Admin,
        limit: Annotated[int, page_limit(100, 500)],
        after: Annotated[str | None, Query(max_length=40)] = None,
    ) -> DeadLetterListOut:
        """Jobs of this client that failed for good, oldest first, each with its reason."""
        jobs = await runtime.jobs.dead_letters(client_id=client_id, limit=limit, after=after)
        return DeadLetterListOut(
            dead_letters=[JobOut.of(job) for job in jobs],
            next_after=jobs[-1].id if len(jobs) == limit else None,
        )

    @router.get("/dead-letters/{job_id}", response_model=JobOut, responses=_ERRORS)
    async def get_dead_letter(job_id: str, client_id: Admin) -> JobOut:
        """One job of this client, dead-lettered or not (after a replay: its progress)."""
        job = await runtime.jobs.get(job_id, client_id=client_id)
        if job is None:
            raise Problem("dead-letter-not-found", f"no job {job_id}")
        return JobOut.of(job)

    @router.post(
        "/dead-letters/{job_id}/replay",
        status_code=202,
        response_model=JobOut,
        responses=_ERRORS,
    )
    async def replay_dead_letter(job_id: str, client_id: Admin) -> JobOut:
        """Queue the dead letter again with fresh attempts; a worker runs it once.

        A second replay while the first is queued or running answers 409.
        """
        replayed = await runtime.jobs.replay(job_id, now=utc_now(), client_id=client_id)
        job = await runtime.jobs.get(job_id, client_id=client_id)
        if job is None:
            raise Problem("dead-letter-not-found", f"no job {job_id}")
        if not replayed:
            raise Problem("job-not-dead", f"job {job_id} is {job.state.value}, not dead")
        return JobOut.of(job)

    return router
