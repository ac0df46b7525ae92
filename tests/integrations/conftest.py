"""Fixtures of the integration tests: members of every role, a webhook receiver on
loopback, a real IMAP server, and a helper that runs the sweep and the jobs it starts."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from lightningtrack.jobs.runner import InProcessRunner, execute
from lightningtrack.resolvers.effects import Job
from lightningtrack.settings import Settings
from lightningtrack.tenancy.runtime import Tenancy
from tests.integrations.imap_server import DOVECOT, ImapServer
from tests.tracking.conftest import admin as admin
from tests.tracking.conftest import guest as guest
from tests.tracking.conftest import member as member


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP endpoint on 127.0.0.1 that records every request and answers from a queue
    of (status, headers) replies, then 200."""

    url: str
    received: list[Received] = field(default_factory=list)
    replies: list[tuple[int, dict[str, str], float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, status: int, times: int = 1, delay: float = 0.0, **headers: str) -> None:
        """The next ``times`` requests get ``status`` (after ``delay`` seconds)."""
        with self.lock:
            self.replies.extend([(status, headers, delay)] * times)

    def next_reply(self) -> tuple[int, dict[str, str], float]:
        with self.lock:
            return self.replies.pop(0) if self.replies else (200, {}, 0.0)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            hook = state["receiver"]
            with hook.lock:
                hook.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
            status, headers, delay = hook.next_reply()
            time.sleep(delay)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["receiver"] = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["receiver"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


async def sweep(settings: Settings, tenancy: Tenancy, jobs: InProcessRunner) -> None:
    """One retention sweep, as the schedule runs it, and every job it starts."""
    await execute(settings, tenancy, Job("sweep"), jobs.submit)
    await jobs.drain()


@pytest.fixture
def imap() -> Iterator[ImapServer]:
    """A Dovecot IMAP server of its own for the test, on a free loopback port."""
    yield from _dovecot(tls=False)


@pytest.fixture
def imap_tls() -> Iterator[ImapServer]:
    """A Dovecot that speaks only TLS (implicit, or STARTTLS on the plain port), with a
    certificate signed by an authority the test made."""
    yield from _dovecot(tls=True)


def _dovecot(tls: bool) -> Iterator[ImapServer]:
    if not Path(DOVECOT).exists():
        pytest.fail("the IMAP tests need Dovecot: apt-get install dovecot-imapd")
    # Not under pytest's tmp_path: Dovecot's mail processes run as another user and must
    # be able to reach the folder (pytest's base folder is private to its user).
    folder = Path(tempfile.mkdtemp(prefix="lt-dovecot-"))
    server = ImapServer(folder, tls=tls)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
