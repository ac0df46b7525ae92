"""Log lines are JSON objects carrying the request id, also in the jobs a request starts."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace
from typing import Any

from lightningtrack import logs
from lightningtrack.jobs.broker import RequestIdMiddleware
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.logs import JsonFormatter
from tests.conftest import SIGN_UP, unique


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


async def test_request_and_job_log_lines_carry_the_request_id(
    make_client: Any, jobs: InProcessRunner
) -> None:
    """A sign-up logs nothing unusual, but its mail job's lines (sending the registration
    mail) must name the request that caused them, so an operator can follow it."""
    lines = _Lines()
    watched = logging.getLogger("tortoise.db_client")
    watched.addHandler(lines)
    level = watched.level
    watched.setLevel(logging.DEBUG)
    try:
        client = make_client()
        response = await client.http.post(
            "/graphql",
            json={
                "query": SIGN_UP,
                "variables": {
                    "input": {
                        "name": "Log",
                        "email": f"{unique('log')}@example.com",
                        "password": "correct horse",
                    }
                },
            },
        )
        request_id = response.headers["x-request-id"]
        await jobs.drain()
    finally:
        watched.removeHandler(lines)
        watched.setLevel(level)
    tagged = [line for line in lines.lines if line.get("request_id") == request_id]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines.lines)
    # The request's own statements, and the job's (it updates the mail row it sent).
    assert any("INSERT" in line["message"] and "account" in line["message"] for line in tagged)
    assert any(
        "email_message" in line["message"] and "UPDATE" in line["message"] for line in tagged
    )


def test_worker_lines_about_a_message_carry_its_request_id() -> None:
    """In a separate worker, Dramatiq logs a message's failure from its worker thread,
    outside the job: the middleware sets the message's request id for that thread while
    the message is processed, and clears it afterwards."""
    lines = _Lines()
    logger = logging.getLogger("dramatiq.worker.WorkerThread")
    logger.addHandler(lines)
    middleware = RequestIdMiddleware()
    broker: Any = None  # the middleware does not use it
    message: Any = SimpleNamespace(args=("send_email", {}, None, "req-worker-1"))
    try:
        middleware.before_process_message(broker, message)
        logger.error("Failed to process message %s", "run_task")
        middleware.after_process_message(broker, message, exception=RuntimeError("boom"))
        logger.error("between messages")
        middleware.before_process_message(broker, SimpleNamespace(args=("sweep", {}, None)))
        logger.error("a message without a request id")
        middleware.after_skip_message(broker, message)
    finally:
        logger.removeHandler(lines)
        logs.request_id.set(None)
    assert lines.lines[0]["request_id"] == "req-worker-1"
    assert "request_id" not in lines.lines[1]
    assert "request_id" not in lines.lines[2]
