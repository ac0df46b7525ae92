"""Transactional email: each mail is a row owed, rendered as plain text and HTML.

Sending is a job (``send_email``); this module only decides what is owed to whom.
"""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass
from datetime import datetime

from tortoise.exceptions import IntegrityError

from lightningtrack import clock
from lightningtrack.models.landlord import EmailMessage
from lightningtrack.resolvers.effects import defer


@dataclass(frozen=True)
class Mail:
    kind: str
    subject: str
    paragraphs: tuple[str, ...]
    link: tuple[str, str] | None = None  # (label, absolute URL)

    def text(self) -> str:
        parts = list(self.paragraphs)
        if self.link:
            parts.append(f"{self.link[0]}:\n{self.link[1]}")
        parts.append("-- \nLightningTrack")
        return "\n\n".join(parts) + "\n"

    def html(self) -> str:
        body = "".join(f"<p>{html.escape(p)}</p>" for p in self.paragraphs)
        if self.link:
            label, url = (html.escape(part, quote=True) for part in self.link)
            body += f'<p><a href="{url}">{label}</a></p><p>{url}</p>'
        return (
            '<!doctype html><html><body style="font-family: sans-serif">'
            f"{body}<p>&mdash; LightningTrack</p></body></html>"
        )


@dataclass(frozen=True)
class Thread:
    """Where a mail belongs: the thread it answers, and where replies to it go."""

    in_reply_to: str
    references: tuple[str, ...]
    reply_to: str | None = None


async def queue(
    to_address: str, mail: Mail, dedupe_key: str | None = None, thread: Thread | None = None
) -> EmailMessage | None:
    """Owe ``mail`` to ``to_address``; with a ``dedupe_key`` only once, ever."""
    try:
        message = await EmailMessage.create(
            id=uuid.uuid4(),
            kind=mail.kind,
            dedupe_key=dedupe_key,
            to_address=to_address,
            subject=mail.subject,
            text_body=mail.text(),
            html_body=mail.html(),
            # The clock's time, not the database's: the 30-day mail log, and with it the
            # dedupe keys that keep reminders single, is pruned by the same clock that
            # `retention run --as-of` moves.
            created_at=clock.now(),
            next_attempt_at=clock.now(),
            in_reply_to=thread.in_reply_to if thread else None,
            thread_references=" ".join(thread.references)[:1000] if thread else None,
            reply_to=thread.reply_to if thread else None,
        )
    except IntegrityError:
        if dedupe_key is None:
            raise
        return None  # owed already: a reminder goes out once
    defer("send_email", email_id=str(message.id))
    return message


def _date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def registration(name: str, link: str) -> Mail:
    return Mail(
        "registration",
        "Welcome to LightningTrack: confirm your email address",
        (
            f"Hello {name},",
            "Your LightningTrack account is ready. Please confirm that this "
            "email address is yours.",
        ),
        ("Confirm your email address", link),
    )


def email_verification(name: str, link: str) -> Mail:
    return Mail(
        "email_verification",
        "Confirm your new email address",
        (f"Hello {name},", "Please confirm that this email address is yours."),
        ("Confirm your email address", link),
    )


def email_changed(name: str, new_email: str) -> Mail:
    return Mail(
        "email_changed",
        "Your LightningTrack email address was changed",
        (
            f"Hello {name},",
            f"The email address of your account was changed to {new_email}.",
            "If you did not do this, reset your password and contact support at once.",
        ),
    )


def password_reset(name: str, link: str) -> Mail:
    return Mail(
        "password_reset",
        "Reset your LightningTrack password",
        (
            f"Hello {name},",
            "Someone asked to reset the password of your account. The link "
            "works once, within one hour. If it was not you, ignore this mail.",
        ),
        ("Choose a new password", link),
    )


def workspace_deletion_reminder(workspace_name: str, when: datetime, reason: str) -> Mail:
    return Mail(
        "workspace_deletion_reminder",
        f"{workspace_name} will be deleted on {_date(when)}",
        (
            f"The workspace {workspace_name} and all its data will be permanently deleted on "
            f"{_date(when)} ({reason}).",
            "Export its data before then if you want to keep a copy.",
        ),
    )


def account_deletion_reminder(name: str, when: datetime) -> Mail:
    return Mail(
        "account_deletion_reminder",
        f"Your LightningTrack account will be deleted on {_date(when)}",
        (
            f"Hello {name},",
            f"As you asked, your account will be permanently deleted on "
            f"{_date(when)}. Sign in and cancel the deletion if you changed your mind.",
        ),
    )


def trial_ending(workspace_name: str, when: datetime) -> Mail:
    return Mail(
        "trial_ending",
        f"The trial of {workspace_name} ends on {_date(when)}",
        (
            f"The trial of the workspace {workspace_name} ends on {_date(when)}. After that it "
            "becomes read-only until a plan is chosen, and it is deleted 14 days later.",
        ),
    )


def trial_expired(workspace_name: str, when: datetime) -> Mail:
    return Mail(
        "trial_expired",
        f"The trial of {workspace_name} has ended",
        (
            f"The trial of the workspace {workspace_name} has ended and it is now read-only. "
            f"Unless a plan is chosen, it will be deleted on {_date(when)}.",
        ),
    )


def invitation(inviter: str, workspace_name: str, role: str, link: str) -> Mail:
    return Mail(
        "invitation",
        f"{inviter} invited you to {workspace_name} on LightningTrack",
        (
            f"{inviter} invited you to join the workspace {workspace_name} as {role.lower()}.",
            "The invitation is valid for 7 days and can be used once.",
        ),
        ("Accept the invitation", link),
    )
