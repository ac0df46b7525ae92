"""Running jobs: in the server's own event loop, or by sending them to Dramatiq.

With no ``LT_BROKER_URL`` every job runs as a task on the loop that serves requests (so
Tortoise's pools stay on one loop), in a fresh context: a job never inherits the binding
of the request that deferred it. A job on workspace data is bound to its workspace for
its whole run and unbound after, whatever the outcome; a job for a workspace that no
longer exists is dropped with a log line.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from lightningtrack import logs, metrics
from lightningtrack.jobs.tasks import TASKS
from lightningtrack.models.landlord import Workspace
from lightningtrack.resolvers.effects import Job, collecting
from lightningtrack.settings import Settings
from lightningtrack.tenancy.runtime import Tenancy

if TYPE_CHECKING:
    import dramatiq

log = logging.getLogger(__name__)
Submit = Callable[[Iterable[Job]], Awaitable[None]]
RETRY_DELAYS = (1.0, 5.0, 30.0)


async def execute(settings: Settings, tenancy: Tenancy, job: Job, submit: Submit) -> bool:
    """Run one job; the jobs it defers are submitted once it has succeeded.

    Returns False when the job was dropped (unknown task, or its workspace is gone).
    """
    started = time.perf_counter()
    outcome = "failed"
    try:
        ran = await _execute(settings, tenancy, job, submit)
        outcome = "ok" if ran else "dropped"
        return ran
    finally:
        task = job.task if job.task in TASKS else "unknown"
        metrics.observe_job(task, outcome, time.perf_counter() - started)


async def _execute(settings: Settings, tenancy: Tenancy, job: Job, submit: Submit) -> bool:
    logs.request_id.set(job.request_id)
    task = TASKS.get(job.task)
    if task is None:
        log.error("dropping job for unknown task %s", job.task)
        return False
    with collecting() as deferred:
        if job.workspace_id is None:
            await task(settings, tenancy, **job.kwargs)
        else:
            workspace = await Workspace.get_or_none(id=job.workspace_id)
            if workspace is None:
                log.info("dropping %s: workspace %s no longer exists", job.task, job.workspace_id)
                return False
            async with tenancy.workspace(workspace):
                await task(settings, tenancy, **job.kwargs)
    await submit(deferred)
    return True


class InProcessRunner:
    """Runs jobs as tasks of the current event loop, retrying a few times on failure.

    What a retry cannot fix stays owed in its row, and the sweep enqueues it again.
    """

    def __init__(self, settings: Settings, tenancy: Tenancy) -> None:
        self.settings = settings
        self.tenancy = tenancy
        self._tasks: set[asyncio.Task[None]] = set()
        # Jobs waiting out their delay: not "running or waiting" for ``drain`` (their row
        # says what is owed, and the sweep would find it too), but cancelled by ``close``.
        self._later: set[asyncio.Task[None]] = set()

    async def submit(self, jobs: Iterable[Job]) -> None:
        for job in jobs:
            if job.delay > 0:
                later = asyncio.get_running_loop().create_task(
                    self._after_delay(job), name=f"lt-later-{job.task}"
                )
                self._later.add(later)
                later.add_done_callback(self._later.discard)
                continue
            task = asyncio.get_running_loop().create_task(
                self._run(job), name=f"lt-job-{job.task}", context=contextvars.Context()
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, job: Job) -> None:
        for attempt, delay in enumerate((*RETRY_DELAYS, None), start=1):
            try:
                await execute(self.settings, self.tenancy, job, self.submit)
                return
            except Exception:
                log.exception("job %s failed (attempt %d)", job.task, attempt)
                if delay is None:
                    return
                await asyncio.sleep(delay)

    async def _after_delay(self, job: Job) -> None:
        await asyncio.sleep(job.delay)
        await self.submit([dataclasses.replace(job, delay=0.0)])

    async def drain(self, within: float = 30.0) -> None:
        """Wait until no job is running or waiting (jobs may start others)."""
        async with asyncio.timeout(within):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in [*self._tasks, *self._later]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._later, return_exceptions=True)


class BrokerRunner:
    """Sends jobs to Dramatiq for ``lightningtrack worker`` processes to run."""

    def __init__(self, actor: dramatiq.Actor[Any, Any]) -> None:
        self.actor = actor

    async def submit(self, jobs: Iterable[Job]) -> None:
        for job in jobs:
            workspace = str(job.workspace_id) if job.workspace_id else None
            # The broker clients block; keep them off the event loop.
            await asyncio.to_thread(
                self.actor.send_with_options,
                args=(job.task, job.kwargs, workspace, job.request_id),
                delay=round(job.delay * 1000) if job.delay > 0 else None,
            )

    async def drain(self, within: float = 30.0) -> None:
        return None

    async def close(self) -> None:
        return None


Runner = InProcessRunner | BrokerRunner


async def sweep_forever(settings: Settings, tenancy: Tenancy, runner: Runner) -> None:
    """The retention sweep on a schedule; every run is safe to overlap with another's."""
    while True:
        try:
            await execute(settings, tenancy, Job("sweep"), runner.submit)
        except Exception:
            log.exception("the retention sweep failed; it runs again at the next interval")
        await asyncio.sleep(settings.sweep_interval_seconds)


def job_from_message(
    task: str, kwargs: dict[str, Any], workspace_id: str | None, request_id: str | None = None
) -> Job:
    return Job(task, dict(kwargs), uuid.UUID(workspace_id) if workspace_id else None, request_id)
