"""Jobs through Redis: a real ``lightningtrack worker`` process carries out what the API
enqueues, drops jobs for workspaces that are gone, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dramatiq
import httpx
import pytest
import redis.asyncio
from starlette.applications import Starlette

from lightningtrack import clock
from lightningtrack.app import create_app
from lightningtrack.jobs.broker import make_broker
from lightningtrack.jobs.runner import BrokerRunner, execute
from lightningtrack.models.landlord import (
    Account,
    DataExport,
    EmailMessage,
    EmailStatus,
    JobStatus,
    Workspace,
)
from lightningtrack.resolvers.effects import Job
from lightningtrack.resolvers.exports import archive_path
from lightningtrack.settings import Settings, load_settings
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import SIGN_UP, WORKSPACE_CREATE, Client, environment_for, unique
from tests.retention.conftest import PASSWORD, MakePerson, create_workspace, outbox

ROOT = Path(__file__).resolve().parents[2]
# A database of the local Redis of its own, varied by process so that two runs at once
# rarely share one; it is flushed before and after.
REDIS_URL = f"redis://127.0.0.1:6379/{5 + os.getpid() % 8}"
WAIT = 30.0


async def flush() -> None:
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        await client.flushdb()
    finally:
        await client.aclose(close_connection_pool=True)


def run_environment(settings: Settings) -> dict[str, str]:
    """This run's landlord, data folder and secret, with jobs going through Redis."""
    env = environment_for(settings.data_dir, settings.database_url.database or "")
    return {**env, "LT_BROKER_URL": REDIS_URL}


@dataclass
class Worker:
    process: asyncio.subprocess.Process
    log: list[str] = field(default_factory=list)

    async def read_log(self) -> None:
        assert self.process.stderr is not None
        async for line in self.process.stderr:
            self.log.append(line.decode(errors="replace"))

    def logged(self, text: str) -> bool:
        return any(text in line for line in self.log)


@pytest.fixture
async def broker_settings(settings: Settings) -> AsyncIterator[Settings]:
    await flush()
    yield load_settings(run_environment(settings))
    await flush()


@dataclass
class BrokerApp:
    client: Client
    actor: dramatiq.Actor[Any, Any]


@pytest.fixture
async def broker_app(broker_settings: Settings, tenancy: Tenancy) -> AsyncIterator[BrokerApp]:
    """A client of a second app on the same databases whose jobs go to Redis."""
    broker, actor = make_broker(broker_settings)
    app = create_app(broker_settings, tenancy, BrokerRunner(actor))
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
        ) as http:
            yield BrokerApp(Client(http), actor)
    finally:
        await close_limiter(app)
        await asyncio.to_thread(broker.close)


async def close_limiter(app: Starlette) -> None:
    """An app given its tenancy runs no lifespan, and its rate limiter then uses the broker's
    Redis too: close it here, or its connection leaks."""
    limiter = getattr(app.state, "limiter", None)
    if limiter is not None:
        await limiter.close()


@contextlib.asynccontextmanager
async def worker_process(settings: Settings, **extra: str) -> AsyncIterator[Worker]:
    """``lightningtrack worker`` on this run's databases; killed on the way out if the test
    did not stop it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LT_")}
    env.update(run_environment(settings), **extra)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lightningtrack",
        "worker",
        "--threads",
        "2",
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    worker = Worker(process)
    reader = asyncio.create_task(worker.read_log())
    try:
        yield worker
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await reader


async def eventually(
    what: str, check: Callable[[], Any], worker: Worker, within: float = WAIT
) -> None:
    """Poll ``check`` (sync or async) until it is true, or fail with the worker's log."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if worker.process.returncode is not None:
            pytest.fail(f"the worker exited ({worker.process.returncode}) before {what}")
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"no {what} within {within}s; worker log:\n{''.join(worker.log)}")
        await asyncio.sleep(0.2)


async def export_done(export_id: uuid.UUID) -> bool:
    export = await DataExport.get(id=export_id)
    return export.status == JobStatus.SUCCEEDED


async def test_worker_process_carries_out_jobs_enqueued_by_the_api(
    settings: Settings, broker_app: BrokerApp
) -> None:
    """With LT_BROKER_URL the API only enqueues: mail and exports happen in the worker, and
    a deploy's SIGTERM must stop it without losing or corrupting work."""
    client = broker_app.client
    address = f"{unique('wanda')}@example.com"
    await client.gql(SIGN_UP, {"input": {"name": "Wanda", "email": address, "password": PASSWORD}})
    slug = unique("queued")
    await client.gql(WORKSPACE_CREATE, {"input": {"name": "Queued", "slug": slug}})
    client.workspace = slug
    created = await client.gql("mutation { dataExportCreate { id status } }")
    assert created["dataExportCreate"]["status"] == "QUEUED"
    await client.gql("mutation($e: String!) { passwordResetRequest(email: $e) }", {"e": address})
    [export] = await DataExport.filter(workspace__slug=slug)
    missing = uuid.uuid4()
    await asyncio.to_thread(
        broker_app.actor.send, "run_export", {"export_id": str(export.id)}, str(missing)
    )
    # Nothing runs in this process: the jobs wait in Redis for a worker.
    await asyncio.sleep(0.5)
    assert outbox(settings, address) == []
    assert (await DataExport.get(id=export.id)).status == JobStatus.QUEUED

    async with worker_process(settings) as worker:
        await eventually(
            "password reset mail", lambda: outbox(settings, address, "password_reset"), worker
        )
        await eventually(
            "registration mail", lambda: outbox(settings, address, "registration"), worker
        )
        await eventually("finished export", lambda: export_done(export.id), worker)
        assert archive_path(settings, export).exists()
        await eventually(
            "log line for the missing workspace",
            lambda: worker.logged(f"dropping run_export: workspace {missing} no longer exists"),
            worker,
        )

        worker.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(worker.process.wait(), WAIT)
        assert code == 0, "".join(worker.log)
    assert len(outbox(settings, address, "password_reset")) == 1


async def test_job_for_a_missing_workspace_is_dropped_with_a_log_line(
    settings: Settings,
    tenancy: Tenancy,
    make_person: MakePerson,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A job can outlive its workspace (erased while it waited): it must not run unbound or
    against another database, nor be retried forever."""
    submitted: list[Job] = []

    async def submit(jobs: Iterable[Job]) -> None:
        submitted.extend(jobs)

    missing = uuid.uuid4()
    job = Job("run_export", {"export_id": str(uuid.uuid4())}, workspace_id=missing)
    with caplog.at_level(logging.INFO, logger="lightningtrack.jobs.runner"):
        assert await execute(settings, tenancy, job, submit) is False
    assert f"dropping run_export: workspace {missing} no longer exists" in caplog.text
    assert submitted == []

    # The same job for a workspace that exists does run (the export id names nothing).
    person = await make_person("Wes")
    workspace: Workspace = await create_workspace(person, "Live")
    job = Job("run_export", {"export_id": str(uuid.uuid4())}, workspace_id=workspace.id)
    assert await execute(settings, tenancy, job, submit) is True
    assert await Account.exists(id=person.account_id)


class HeldSMTPServer:
    """A real SMTP server on a local port that takes a whole message, then holds its answer
    until released: a delivery the worker is in the middle of."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        await say("220 localhost ESMTP")
        while line := await reader.readline():
            verb = line.decode().strip().split(" ")[0].upper()
            if verb == "EHLO":
                await say("250-localhost")
                await say("250 8BITMIME")
            elif verb == "DATA":
                await say("354 End data with <CR><LF>.<CR><LF>")
                body = []
                while (data := await reader.readline()) not in (b".\r\n", b""):
                    body.append(data.decode())
                self.holding.set()
                await self.release.wait()
                self.received.append("".join(body))
                await say("250 OK")
            elif verb == "QUIT":
                await say("221 Bye")
                break
            else:
                await say("250 OK")
        writer.close()
        await writer.wait_closed()


async def test_sigterm_lets_the_job_in_flight_finish_before_the_worker_exits(
    settings: Settings, broker_app: BrokerApp
) -> None:
    """A deploy stops workers mid-job: the job under way must still complete and record it,
    or a mail already delivered stays owed and goes out a second time."""
    smtp = HeldSMTPServer()
    server = await asyncio.start_server(smtp.session, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    address = f"{unique('sig')}@example.com"
    message = await EmailMessage.create(
        id=uuid.uuid4(),
        kind="in_flight",
        to_address=address,
        subject="In flight",
        text_body="In flight\n",
        html_body="<p>In flight</p>",
        # Due now: the job sent below, or the worker's own sweep, may pick it up; whichever
        # claims the row first delivers it, and only once.
        next_attempt_at=clock.now(),
    )
    try:
        async with worker_process(settings, LT_SMTP_URL=f"smtp://127.0.0.1:{port}") as worker:
            await asyncio.to_thread(
                broker_app.actor.send, "send_email", {"email_id": str(message.id)}, None
            )
            await eventually("delivery under way", smtp.holding.is_set, worker)
            worker.process.send_signal(signal.SIGTERM)
            await asyncio.sleep(1.0)  # the worker is shutting down while the job waits
            smtp.release.set()
            code = await asyncio.wait_for(worker.process.wait(), WAIT)
            assert code == 0, "".join(worker.log)
    finally:
        smtp.release.set()
        server.close()
        await server.wait_closed()
    assert len(smtp.received) == 1
    row = await EmailMessage.get(id=message.id)
    assert row.status == EmailStatus.SENT, "".join(worker.log)
