"""Sending over SMTP (LT_SMTP_URL), against a real SMTP server on a free local port: a mail
owed is delivered once, as text and HTML; a server that is down leaves it owed, for later."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage as MimeMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession

from lightningtrack import clock
from lightningtrack.jobs.mailer import send_email
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.models.landlord import EmailMessage, EmailStatus
from lightningtrack.resolvers import mail
from lightningtrack.resolvers.effects import Job, collecting
from lightningtrack.settings import Settings, load_settings
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import environment_for
from tests.privacy.conftest import new_email, parts


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps every envelope it accepts."""

    envelopes: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"

    def messages(self) -> list[MimeMessage]:
        found = []
        for envelope in self.envelopes:
            assert isinstance(envelope.content, bytes)
            parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(parsed, MimeMessage)
            found.append(parsed)
        return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class SmtpServer:
    inbox: Inbox
    controller: Controller
    settings: Settings


def start_server(settings: Settings) -> SmtpServer:
    """A real SMTP server in a thread, and settings pointing LT_SMTP_URL at it (same
    databases and data folder as the ``settings`` fixture)."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    env = environment_for(settings.data_dir, settings.database_url.database or "")
    smtp_settings = load_settings({**env, "LT_SMTP_URL": f"smtp://127.0.0.1:{port}"})
    assert smtp_settings.database_url == settings.database_url
    return SmtpServer(inbox, controller, smtp_settings)


@pytest.fixture
def smtp(settings: Settings, tenancy: Tenancy) -> Iterator[SmtpServer]:
    """Needs ``tenancy``: the landlord holds the mail rows."""
    server = start_server(settings)
    try:
        yield server
    finally:
        server.controller.stop()


@pytest.fixture
async def smtp_jobs(smtp: SmtpServer, tenancy: Tenancy) -> AsyncIterator[InProcessRunner]:
    runner = InProcessRunner(smtp.settings, tenancy)
    yield runner
    await runner.close()


async def owe(to_address: str) -> tuple[EmailMessage, list[Job]]:
    """A password-reset mail owed to ``to_address``, and the job it deferred."""
    with collecting() as deferred:
        message = await mail.queue(
            to_address, mail.password_reset("Sam", "http://127.0.0.1:8000/reset-password?token=t")
        )
    assert message is not None
    return message, deferred


async def test_a_mail_is_delivered_once_as_text_and_html(smtp: SmtpServer) -> None:
    """The mail reaches the SMTP server whole; running its job again must not resend it."""
    to_address = new_email("smtp")
    message, deferred = await owe(to_address)
    assert deferred == [Job("send_email", {"email_id": str(message.id)})]

    await send_email(smtp.settings, str(message.id))
    assert len(smtp.inbox.envelopes) == 1
    envelope = smtp.inbox.envelopes[0]
    assert envelope.rcpt_tos == [to_address]
    assert envelope.mail_from == "no-reply@localhost"
    (received,) = smtp.inbox.messages()
    assert received["To"] == to_address
    assert received["Subject"] == "Reset your LightningTrack password"
    assert received["X-LightningTrack-Kind"] == "password_reset"
    text, html = parts(received)
    assert "http://127.0.0.1:8000/reset-password?token=t" in text
    assert 'href="http://127.0.0.1:8000/reset-password?token=t"' in html

    sent = await EmailMessage.get(id=message.id)
    assert sent.status == EmailStatus.SENT and sent.attempts == 1 and sent.sent_at is not None

    await send_email(smtp.settings, str(message.id))
    assert len(smtp.inbox.envelopes) == 1
    assert (await EmailMessage.get(id=message.id)).attempts == 1


async def test_the_deferred_job_sends_over_smtp_not_to_the_outbox(
    settings: Settings, smtp: SmtpServer, smtp_jobs: InProcessRunner
) -> None:
    """With LT_SMTP_URL set, the job a queued mail defers delivers it by SMTP, and writes no
    .eml file."""
    to_address = new_email("smtp-job")
    message, deferred = await owe(to_address)
    await smtp_jobs.submit(deferred)
    await smtp_jobs.drain()
    assert [m["To"] for m in smtp.inbox.messages()] == [to_address]
    assert (await EmailMessage.get(id=message.id)).status == EmailStatus.SENT
    outbox = settings.data_dir / "outbox"
    assert not any(outbox.glob(f"*{message.id}*")) if outbox.exists() else True


async def test_a_server_that_is_down_leaves_the_mail_owed(
    settings: Settings, tenancy: Tenancy
) -> None:
    """A failed delivery is not a lost mail: it stays PENDING, counted, with a later retry."""
    smtp = start_server(settings)
    smtp.controller.stop()
    to_address = new_email("smtp-down")
    message, _ = await owe(to_address)
    now = datetime.now(UTC)
    clock.freeze(now)

    with pytest.raises(OSError):
        await send_email(smtp.settings, str(message.id))
    owed = await EmailMessage.get(id=message.id)
    assert owed.status == EmailStatus.PENDING
    assert owed.attempts == 1
    assert owed.sent_at is None
    assert owed.last_error
    assert owed.next_attempt_at > now

    # Not yet due: a second job for it (say, one the sweep re-enqueued) leaves it alone.
    await send_email(smtp.settings, str(message.id))
    assert (await EmailMessage.get(id=message.id)).attempts == 1

    clock.freeze(owed.next_attempt_at)
    with pytest.raises(OSError):
        await send_email(smtp.settings, str(message.id))
    again = await EmailMessage.get(id=message.id)
    assert again.attempts == 2 and again.status == EmailStatus.PENDING
    assert again.next_attempt_at > owed.next_attempt_at  # backing off
    assert smtp.inbox.envelopes == []
