"""Jobs to enqueue once the current operation is over.

Resolvers write the truth (an export requested, a mail owed) in a database row and
``defer`` the job that acts on it; whoever runs the operation (the GraphQL view, a job,
the retention command) collects the deferred jobs and enqueues them when it is done, so
no job starts before the rows it needs are committed. Jobs find their row again by id
and do nothing if it is gone or already done, so running one twice is harmless.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from lightningtrack import logs


@dataclass(frozen=True)
class Job:
    task: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    # Set for jobs on workspace data: the job runs bound to that workspace's database.
    workspace_id: uuid.UUID | None = None
    # The request that caused the job, for its log lines.
    request_id: str | None = field(default_factory=logs.request_id.get)
    # Seconds to wait before running it (a retry due soon); the row stays the truth.
    delay: float = 0.0


_pending: ContextVar[list[Job] | None] = ContextVar("lt_pending_jobs", default=None)


def defer(task: str, workspace_id: uuid.UUID | None = None, **kwargs: Any) -> None:
    defer_job(Job(task, kwargs, workspace_id))


def defer_later(delay: float, task: str, workspace_id: uuid.UUID | None, **kwargs: Any) -> None:
    """Like ``defer``, to run ``delay`` seconds after the operation."""
    defer_job(Job(task, kwargs, workspace_id, delay=delay))


def defer_job(job: Job) -> None:
    pending = _pending.get()
    if pending is None:
        raise RuntimeError(f"{job.task} deferred outside of an operation that collects jobs")
    pending.append(job)


@contextmanager
def collecting() -> Iterator[list[Job]]:
    jobs: list[Job] = []
    token = _pending.set(jobs)
    try:
        yield jobs
    finally:
        _pending.reset(token)
