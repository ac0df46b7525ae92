"""Dramatiq: the broker of ``LT_BROKER_URL`` (Redis or RabbitMQ), the one actor that runs
every task, the tenant middleware, and the ``lightningtrack worker`` process.

Async actors run on the event-loop thread of Dramatiq's ``AsyncIO`` middleware, so that
is where Tortoise is started in a worker process. Context variables set by a middleware
in a worker thread do not reach that loop; the binding to the workspace is therefore
made inside the actor's coroutine (``runner.execute``), around the task and undone on
every path. The middleware drops, before any work, messages whose workspace is gone.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import uuid
from typing import Any

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.broker import MessageProxy
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AsyncIO, Middleware, SkipMessage

from lightningtrack import logs
from lightningtrack.jobs.runner import BrokerRunner, execute, job_from_message, sweep_forever
from lightningtrack.models.landlord import Workspace
from lightningtrack.resolvers.billing import gateway as billing_gateway
from lightningtrack.settings import Settings
from lightningtrack.tenancy.runtime import Tenancy

log = logging.getLogger(__name__)
QUEUE = "lightningtrack"
ACTOR = "run_task"


class WorkerRuntime(Middleware):
    """Starts Tortoise (and the sweep) on the AsyncIO middleware's loop in a worker."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tenancy = Tenancy(settings)
        self.runner: BrokerRunner | None = None
        self._sweep: asyncio.Future[None] | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        loop_thread = get_event_loop_thread()
        assert loop_thread is not None, "the AsyncIO middleware must come first"
        loop_thread.run_coroutine(self.tenancy.start(migrate=False))
        assert self.runner is not None
        self._sweep = asyncio.run_coroutine_threadsafe(  # type: ignore[assignment]
            sweep_forever(self.settings, self.tenancy, self.runner), loop_thread.loop
        )

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if self._sweep is not None:
            self._sweep.cancel()

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        # Only once the worker threads have finished their jobs (they need the database),
        # and before the AsyncIO middleware stops the loop (``after`` runs in reverse order).
        loop_thread = get_event_loop_thread()
        if loop_thread is not None:
            # The Stripe clients live on this loop: close their connections before it stops.
            loop_thread.run_coroutine(billing_gateway.close())
            loop_thread.run_coroutine(self.tenancy.stop())


class RequestIdMiddleware(Middleware):
    """The request id a message carries, set for the worker thread while it is processed:
    Dramatiq's own lines about the message (a failure, a retry) and the tenant check's
    carry it as the job's own lines do."""

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        logs.request_id.set(message.args[3] if len(message.args) > 3 else None)

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        logs.request_id.set(None)

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        logs.request_id.set(None)


class TenantMiddleware(Middleware):
    """Drops a message for a workspace that is missing or erased, with a log line."""

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        workspace_id = message.args[2] if len(message.args) > 2 else None
        if workspace_id is None:
            return
        loop_thread = get_event_loop_thread()
        assert loop_thread is not None
        exists = loop_thread.run_coroutine(Workspace.exists(id=uuid.UUID(workspace_id)))
        if not exists:
            log.info("dropping %s: workspace %s no longer exists", message.args[0], workspace_id)
            raise SkipMessage()


def make_broker(
    settings: Settings, *, worker: bool = False
) -> tuple[dramatiq.Broker, dramatiq.Actor[Any, Any]]:
    """The broker and the actor; a worker's broker also runs the tasks."""
    url = settings.broker_url
    assert url is not None
    broker: dramatiq.Broker
    if url.startswith(("redis://", "rediss://")):
        broker = RedisBroker(url=url)  # type: ignore[no-untyped-call]
    else:
        broker = RabbitmqBroker(url=url)
    runtime: WorkerRuntime | None = None
    if worker:
        broker.add_middleware(AsyncIO())
        runtime = WorkerRuntime(settings)
        broker.add_middleware(runtime)
        broker.add_middleware(RequestIdMiddleware())
        broker.add_middleware(TenantMiddleware())
    dramatiq.set_broker(broker)

    async def run_task(
        task: str,
        kwargs: dict[str, Any],
        workspace_id: str | None,
        request_id: str | None = None,
    ) -> None:
        assert runtime is not None and runtime.runner is not None
        await execute(
            settings,
            runtime.tenancy,
            job_from_message(task, kwargs, workspace_id, request_id),
            runtime.runner.submit,
        )

    actor: dramatiq.Actor[Any, Any] = dramatiq.actor(
        actor_name=ACTOR,
        queue_name=QUEUE,
        broker=broker,
        max_retries=10,
        min_backoff=1_000,
        max_backoff=600_000,
    )(run_task)
    if runtime is not None:
        runtime.runner = BrokerRunner(actor)
    return broker, actor


def run_worker(settings: Settings, threads: int = 4) -> int:
    """``lightningtrack worker``: consume jobs until SIGINT or SIGTERM."""
    broker, _ = make_broker(settings, worker=True)
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=1000)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    worker.start()
    log.info(
        "worker started on %s with %d threads",
        settings.broker_url.split("@")[-1] if settings.broker_url else "",
        threads,
    )
    try:
        stop.wait()
    finally:
        worker.stop()
        broker.close()
    return 0
