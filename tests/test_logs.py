"""Log lines are JSON objects carrying the request id, also in the jobs a request starts."""

from __future__ import annotations

import json
import logging
from typing import Any

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
