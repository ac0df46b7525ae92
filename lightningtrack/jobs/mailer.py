"""Sending owed mail: over SMTP (``LT_SMTP_URL``) or as ``.eml`` files in the outbox."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import uuid
from datetime import timedelta
from email.message import EmailMessage as MimeMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiosmtplib

from lightningtrack import clock
from lightningtrack.models.landlord import EmailMessage, EmailStatus
from lightningtrack.settings import Settings

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
CLAIM = timedelta(minutes=10)


def build(settings: Settings, message: EmailMessage) -> MimeMessage:
    mime = MimeMessage()
    mime["From"] = settings.mail_from
    mime["To"] = message.to_address
    mime["Subject"] = message.subject
    mime["Date"] = email.utils.format_datetime(message.created_at)
    domain = urlsplit(settings.public_url).hostname or "localhost"
    mime["Message-ID"] = f"<{message.id}@{domain}>"
    mime["X-LightningTrack-Kind"] = message.kind
    if message.in_reply_to:  # mail about an issue: its thread, and its mailbox for replies
        mime["Auto-Submitted"] = "auto-generated"  # RFC 3834: autoresponders leave it be
        mime["In-Reply-To"] = message.in_reply_to
        mime["References"] = message.thread_references or message.in_reply_to
    if message.reply_to:
        mime["Reply-To"] = message.reply_to
    mime.set_content(message.text_body)
    mime.add_alternative(message.html_body, subtype="html")
    return mime


def outbox(settings: Settings) -> Path:
    return settings.data_dir / "outbox"


def _write_outbox(settings: Settings, message: EmailMessage, mime: MimeMessage) -> Path:
    folder = outbox(settings)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = message.created_at.strftime("%Y%m%dT%H%M%S%f")
    final = folder / f"{stamp}-{message.id}.eml"
    partial = folder / f".{message.id}.{uuid.uuid4().hex}.tmp"
    partial.write_bytes(bytes(mime))
    os.replace(partial, final)
    return final


async def _send_smtp(settings: Settings, url: str, mime: MimeMessage) -> None:
    parts = urlsplit(url)
    implicit_tls = parts.scheme == "smtps"
    username = unquote(parts.username) if parts.username else None
    # smtp://: STARTTLS whenever the server offers it, and always before credentials
    # are sent (a server that stops offering it cannot have them in clear). Either way
    # the certificate must verify; a failure fails the attempt, never falls back.
    start_tls = False if implicit_tls else (True if username else None)
    await aiosmtplib.send(
        mime,
        hostname=parts.hostname or "127.0.0.1",
        port=parts.port or (465 if implicit_tls else 25),
        username=username,
        password=unquote(parts.password) if parts.password else None,
        use_tls=implicit_tls,
        start_tls=start_tls,
        validate_certs=True,
        cert_bundle=str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
        timeout=30,
    )


async def send_email(settings: Settings, email_id: str) -> None:
    """Send one owed mail; a sent one is not sent again. Failures are retried later."""
    message = await EmailMessage.get_or_none(id=email_id)
    now = clock.now()
    if message is None or message.status != EmailStatus.PENDING or message.next_attempt_at > now:
        return
    # Claim the row: a second job for it (a slow one re-enqueued by the sweep) finds it
    # not due and leaves it. Should this run die, the claim runs out and the sweep retries.
    claimed = await EmailMessage.filter(
        id=message.id, status=EmailStatus.PENDING, next_attempt_at=message.next_attempt_at
    ).update(next_attempt_at=now + CLAIM)
    if not claimed:
        return
    mime = build(settings, message)
    try:
        if settings.smtp_url:
            await _send_smtp(settings, settings.smtp_url, mime)
        else:
            await asyncio.to_thread(_write_outbox, settings, message, mime)
    except Exception as error:
        attempts = message.attempts + 1
        failed = attempts >= MAX_ATTEMPTS
        await EmailMessage.filter(id=message.id).update(
            attempts=attempts,
            last_error=f"{type(error).__name__}: {error}"[:500],
            status=EmailStatus.FAILED if failed else EmailStatus.PENDING,
            next_attempt_at=clock.now() + timedelta(seconds=30 * 2**attempts),
        )
        raise
    await EmailMessage.filter(id=message.id, status=EmailStatus.PENDING).update(
        status=EmailStatus.SENT, sent_at=clock.now(), attempts=message.attempts + 1
    )
