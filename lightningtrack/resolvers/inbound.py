"""Mail that arrives in an email source: parsed, then made an issue or a comment.

A message that answers an issue's thread (its In-Reply-To or References names the
thread's Message-ID, ``<issue-<id>.<workspace>@<host>>``, a message that already became
that issue or one of its comments, or a notification sent in that thread) becomes a
comment on that issue; any other
message becomes an issue in the source's project: the subject as title, the plain text
as description, headed by the sender, with the label ``email``. HTML-only mail is turned
into text (scripts and styles dropped). Each message is recorded by its Message-ID in
the same transaction as what it created, so it is handled once, whoever polls.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import hashlib
import re
import uuid
from dataclasses import dataclass
from email.message import EmailMessage, MIMEPart
from email.utils import getaddresses
from typing import TYPE_CHECKING, Any

from bs4 import BeautifulSoup
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from lightningtrack.models.integrations import EmailSource, InboundMessage
from lightningtrack.models.landlord import Account, Membership
from lightningtrack.models.landlord import EmailMessage as SentMail
from lightningtrack.models.notifications import IssueSender
from lightningtrack.models.workspace import Comment, Issue
from lightningtrack.resolvers import events, issues, notifications, threads
from lightningtrack.tenancy.config import WORKSPACE

if TYPE_CHECKING:
    from lightningtrack.models.landlord import Workspace

MAX_TEXT = 65536
LABEL = "email"
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
_QUOTE_HEADER = re.compile(r"^(On .{1,300} wrote:|-{2,} ?Original Message ?-{2,})\s*$", re.I)


class Malformed(Exception):
    """A message that cannot become an issue; the message says why."""


@dataclass(frozen=True)
class Inbound:
    message_id: str
    subject: str
    text: str
    sender_name: str
    sender_address: str
    references: tuple[str, ...]
    # Written by a program (RFC 3834's Auto-Submitted): an autoreply, a bounce.
    automatic: bool = False

    @property
    def sender(self) -> str:
        if self.sender_name:
            return f"{self.sender_name} <{self.sender_address}>"
        return self.sender_address


def synthetic_id(raw: bytes) -> str:
    return f"<sha256-{hashlib.sha256(raw).hexdigest()}@lightningtrack.invalid>"


def _clean(text: str) -> str:
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


_BLOCKS = ("p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table")


def html_to_text(markup: str) -> str:
    """Readable text of an HTML mail: block elements on lines of their own, inline ones
    (bold, links) within their line; scripts, styles and the head dropped, no markup."""
    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup(["script", "style", "head", "title", "noscript", "template"]):
        tag.decompose()
    for tag in soup.find_all("br"):
        tag.replace_with("\n")
    for tag in soup.find_all(_BLOCKS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    for tag in soup.find_all("li"):
        tag.insert_before("- ")
    lines = (" ".join(line.split()) for line in soup.get_text().splitlines())
    return _clean("\n".join(lines))


def _content(part: MIMEPart) -> str:
    try:
        value = part.get_content()
    except (LookupError, UnicodeError, AssertionError, KeyError):
        payload = part.get_payload(decode=True)
        value = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return value if isinstance(value, str) else ""


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = _content(part)
    if part.get_content_type() == "text/html":
        return html_to_text(text)
    return _clean(text)


def parse(raw: bytes) -> Inbound:
    """The parts of a message that matter; ``Malformed`` if it has no usable sender."""
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        senders = getaddresses([str(v) for v in message.get_all("from", [])])
        name, address = next(((n, a) for n, a in senders if "@" in a), ("", ""))
        raw_id = str(message.get("message-id", "")).strip()
        found = _MESSAGE_ID.findall(raw_id)
        subject = " ".join(str(message.get("subject", "")).split())
        references: list[str] = []
        for header in ("in-reply-to", "references"):
            for value in message.get_all(header, []):
                references += _MESSAGE_ID.findall(str(value))
        text = _body(message)
        automatic = str(message.get("auto-submitted", "no")).strip().lower() != "no"
    except Malformed:
        raise
    except Exception as error:  # the parser's and header classes' many failure modes
        raise Malformed(f"The message cannot be parsed ({type(error).__name__}).") from None
    if not address or len(address) > 320 or any(c.isspace() for c in address):
        raise Malformed("The message has no valid sender (From).")
    return Inbound(
        message_id=found[0] if found else synthetic_id(raw),
        subject=subject.replace("\x00", "")[:255],
        text=text[:MAX_TEXT],
        sender_name=name.replace("\x00", "").strip()[:200],
        sender_address=address.lower(),
        references=tuple(dict.fromkeys(references[-50:])),
        automatic=automatic,
    )


def strip_quoted(text: str) -> str:
    """A reply without the quoted message below it ("On … wrote:" and "> " lines)."""
    kept: list[str] = []
    for line in text.split("\n"):
        if _QUOTE_HEADER.match(line.strip()):
            break
        kept.append(line)
    while kept and kept[-1].lstrip().startswith(">"):
        kept.pop()
    stripped = _clean("\n".join(line for line in kept if not line.startswith(">")))
    return stripped or text


async def _named_thread(workspace_id: uuid.UUID, references: list[str]) -> Issue | None:
    """The issue of the latest of ``references`` that names one of this workspace's
    threads and whose issue still exists."""
    for reference in reversed(references):
        issue_id = threads.issue_of(reference, workspace_id)
        if issue_id is not None:
            issue = await Issue.get_or_none(id=issue_id)
            if issue is not None:
                return issue
    return None


async def thread_issue(workspace_id: uuid.UUID, references: tuple[str, ...]) -> Issue | None:
    issue = await _named_thread(workspace_id, list(references))
    if issue is not None:
        return issue
    if not references:
        return None
    known = (
        await InboundMessage.filter(message_id__in=list(references), issue_id__not_isnull=True)
        .order_by("-id")
        .first()
    )
    if known is not None and known.issue_id is not None:
        return await Issue.get_or_none(id=known.issue_id)
    return await _answered_notification(workspace_id, references)


# The Message-ID the mailer gives a mail it sends: the mail's row id.
_SENT = re.compile(r"^<([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})@[^<>\s]+>$")


async def _answered_notification(
    workspace_id: uuid.UUID, references: tuple[str, ...]
) -> Issue | None:
    """The issue of a notification the message answers, for a mail client that names only
    the notification's own Message-ID (In-Reply-To without References): the thread that
    mail was sent in, if it is one of this workspace's issues."""
    sent = [uuid.UUID(m.group(1)) for r in reversed(references) if (m := _SENT.match(r))]
    if not sent:
        return None
    rows = {
        row["id"]: row
        for row in await SentMail.filter(id__in=sent).values(
            "id", "in_reply_to", "thread_references"
        )
    }
    for mail_id in sent:
        row = rows.get(mail_id)
        if row is None:
            continue
        named = [row["in_reply_to"] or "", *(row["thread_references"] or "").split()]
        issue = await _named_thread(workspace_id, named)
        if issue is not None:
            return issue
    return None


async def _member(workspace_id: uuid.UUID, address: str) -> uuid.UUID | None:
    account = await Account.get_or_none(email_key=address.casefold())
    if account is None:
        return None
    if not await Membership.exists(workspace_id=workspace_id, account_id=account.id):
        return None
    return account.id


async def record_skipped(source: EmailSource, message_id: str, why: str) -> None:
    """Remember a message that made nothing, so it is not looked at again."""
    with contextlib.suppress(IntegrityError):  # recorded already
        await InboundMessage.create(
            message_id=message_id[:255], source_id=source.id, error=why[:300]
        )


async def handle(workspace: Workspace, source: EmailSource, mail: Inbound) -> str:
    """Make the message an issue or a comment, once: "issue", "comment", "duplicate" or
    "automatic" (an autoreply to a thread, recorded and left: it would only be mailed on,
    and two out-of-office replies could answer each other's notifications for ever)."""
    if await InboundMessage.exists(message_id=mail.message_id):
        return "duplicate"
    issue = await thread_issue(workspace.id, mail.references)
    if issue is not None and mail.automatic:
        await record_skipped(source, mail.message_id, "An automatic reply (Auto-Submitted).")
        return "automatic"
    author = await _member(workspace.id, mail.sender_address)
    try:
        async with in_transaction(WORKSPACE):
            # First: a poll handling the same message at once waits here, then fails.
            record = await InboundMessage.create(message_id=mail.message_id, source_id=source.id)
            if issue is not None:
                comment = await _comment(workspace, issue, mail, author)
                await InboundMessage.filter(id=record.id).update(
                    issue_id=issue.id, comment_id=comment.id
                )
                return "comment"
            created = await _issue(workspace, source, mail, author)
            await InboundMessage.filter(id=record.id).update(issue_id=created.id)
    except IntegrityError:
        if await InboundMessage.exists(message_id=mail.message_id):
            return "duplicate"
        raise
    return "issue"


async def _comment(
    workspace: Workspace, issue: Issue, mail: Inbound, author: uuid.UUID | None
) -> Comment:
    body = strip_quoted(mail.text) or "(empty message)"
    if author is None:
        body = f"From: {mail.sender}\n\n{body}"
    comment = await Comment.create(issue_id=issue.id, author_id=author, body=body[:MAX_TEXT])
    await events.emit(workspace, "COMMENT_CREATED", comment)
    await notifications.owe_comment(workspace, issue, comment)
    return comment


async def _issue(
    workspace: Workspace, source: EmailSource, mail: Inbound, author: uuid.UUID | None
) -> Issue:
    values: dict[str, Any] = {
        "title": mail.subject or "(no subject)",
        "description": f"From: {mail.sender}\n\n{mail.text}"[:MAX_TEXT],
        "creator_id": author,
    }
    issue = await issues.insert(source.project_id, **values)
    await issues.set_labels(issue, [LABEL])
    if author is None and source.notify_senders:
        # Kept only to answer them: it goes with the issue (see notifications).
        await IssueSender.create(
            issue_id=issue.id,
            name=mail.sender_name,
            address=mail.sender_address,
            message_id=mail.message_id,
        )
    await events.emit(workspace, "ISSUE_CREATED", issue)
    return issue
