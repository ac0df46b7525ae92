"""Request metadata, written in batches so that a request never waits for its log row."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from lightningtrack.models.landlord import RequestLog

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    at: datetime
    request_id: str
    workspace_id: uuid.UUID | None
    account_id: uuid.UUID | None
    api_key_id: uuid.UUID | None
    operation: str
    duration_ms: int
    outcome: str
    client_ip: str


class RequestLogWriter:
    def __init__(self, flush_every: float = 1.0, max_buffer: int = 10_000) -> None:
        self.flush_every = flush_every
        self.max_buffer = max_buffer
        self._buffer: list[Entry] = []
        self._task: asyncio.Task[None] | None = None

    def record(self, entry: Entry) -> None:
        if len(self._buffer) < self.max_buffer:  # under overload, shed log rows, not requests
            self._buffer.append(entry)

    async def flush(self) -> int:
        entries, self._buffer = self._buffer, []
        if entries:
            await RequestLog.bulk_create(
                [
                    RequestLog(
                        at=e.at,
                        request_id=e.request_id,
                        workspace_id=e.workspace_id,
                        account_id=e.account_id,
                        api_key_id=e.api_key_id,
                        operation=e.operation[:100],
                        duration_ms=e.duration_ms,
                        outcome=e.outcome[:40],
                        client_ip=e.client_ip[:45],
                    )
                    for e in entries
                ]
            )
        return len(entries)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_every)
            try:
                await self.flush()
            except Exception:
                log.exception("writing request metadata failed")

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="lt-request-log")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
