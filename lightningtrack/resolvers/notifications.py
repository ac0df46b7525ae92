"""Mail about issues: to the assignee when someone else assigns the issue to them, to the
assignee and the creator when someone else comments, and to the outside sender of a
mailed-in issue when a member answers it (where its email source says so).

What is owed is written in the transaction of the change (``owe_*``: a ``Notification``
row per person, and the landlord's hint), so a change that rolls back mails no one and
a lost job is found again by the sweep. The job (``send_due``) turns each row into a
mail with a dedupe key of its own, so a job run twice mails once, and deletes the row.
Who is told is checked again then: an erased account, or someone who left the
workspace, gets nothing.

Each mail names the issue's thread (``In-Reply-To`` and ``References``) and, where the
issue's project has an enabled email source, carries ``Reply-To`` its address: a reply
lands in the polled mailbox and becomes a comment.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lightningtrack import clock
from lightningtrack.models.integrations import EmailSource
from lightningtrack.models.landlord import Account, Membership, Workspace
from lightningtrack.models.notifications import IssueSender, Notification, NotificationKind
from lightningtrack.models.workspace import Comment, Issue
from lightningtrack.resolvers import mail, schedule, threads
from lightningtrack.resolvers.effects import defer
from lightningtrack.tenancy.binding import bound_workspace_id

if TYPE_CHECKING:
    from lightningtrack.settings import Settings

log = logging.getLogger(__name__)
BATCH = 100
MAX_QUOTED = 20000


async def owe_assignment(workspace: Workspace, issue: Issue, actor_id: uuid.UUID | None) -> None:
    """The issue was just assigned (created so, or changed): tell the assignee, unless
    they did it themselves. Inside the change's transaction."""
    if issue.assignee_id is None or issue.assignee_id == actor_id:
        return
    await _owe(
        workspace,
        [_row(NotificationKind.ASSIGNED, issue, actor_id, recipient_id=issue.assignee_id)],
    )


async def owe_comment(workspace: Workspace, issue: Issue, comment: Comment) -> None:
    """A new comment: tell the assignee and the creator (not its author), and the outside
    sender of a mailed-in issue when a member wrote it. Inside the change's transaction."""
    actor = comment.author_id
    rows = [
        _row(NotificationKind.COMMENTED, issue, actor, person, comment)
        for person in dict.fromkeys((issue.assignee_id, issue.creator_id))
        if person is not None and person != actor
    ]
    # Only a member's answer goes out: the sender's own replies (and their autoreplies)
    # come in with no author, so nothing is ever mailed back and forth by itself.
    if actor is not None and await IssueSender.exists(issue_id=issue.id):
        rows.append(_row(NotificationKind.ANSWERED, issue, actor, None, comment))
    await _owe(workspace, rows)


def _row(
    kind: NotificationKind,
    issue: Issue,
    actor_id: uuid.UUID | None,
    recipient_id: uuid.UUID | None,
    comment: Comment | None = None,
) -> Notification:
    return Notification(
        kind=kind,
        issue_id=issue.id,
        comment_id=comment.id if comment else None,
        actor_id=actor_id,
        recipient_id=recipient_id,
        created_at=clock.now(),
    )


async def _owe(workspace: Workspace, rows: list[Notification]) -> None:
    if not rows:
        return
    await Notification.bulk_create(rows)
    # Marked before the commit: should the job below be lost, the sweep finds the work.
    await schedule.mark_due(workspace.id, schedule.NOTIFICATIONS, clock.now())
    defer("send_notifications", workspace.id)


@dataclass
class _Batch:
    """What the mails of a batch of notifications need, looked up once for all."""

    issues: dict[int, Issue]
    comments: dict[int, Comment]
    accounts: dict[uuid.UUID, Account]
    members: set[uuid.UUID]
    replies_to: dict[int, str]  # project id -> address of its first enabled source
    answers_from: dict[int, str]  # project id -> its first source that answers senders
    senders: dict[int, IssueSender]


async def _batch(workspace: Workspace, rows: list[Notification]) -> _Batch:
    issues = {
        i.id: i
        for i in await Issue.filter(id__in={r.issue_id for r in rows}).select_related("project")
    }
    comment_ids = {r.comment_id for r in rows if r.comment_id is not None}
    comments = {c.id: c for c in await Comment.filter(id__in=comment_ids)} if comment_ids else {}
    recipients = {r.recipient_id for r in rows if r.recipient_id is not None}
    people = recipients | {r.actor_id for r in rows if r.actor_id is not None}
    accounts = {a.id: a for a in await Account.filter(id__in=people)} if people else {}
    members: set[uuid.UUID] = set()
    if recipients:
        members = set(
            await Membership.filter(
                workspace_id=workspace.id, account_id__in=recipients
            ).values_list("account_id", flat=True)  # type: ignore[arg-type]
        )
    replies_to: dict[int, str] = {}
    answers_from: dict[int, str] = {}
    projects = {i.project_id for i in issues.values()}
    for source in await EmailSource.filter(project_id__in=projects, enabled=True).order_by("id"):
        replies_to.setdefault(source.project_id, source.address)
        if source.notify_senders:
            answers_from.setdefault(source.project_id, source.address)
    senders = {s.issue_id: s for s in await IssueSender.filter(issue_id__in=list(issues))}
    return _Batch(issues, comments, accounts, members, replies_to, answers_from, senders)


async def send_due(settings: Settings) -> int:
    """Turn the bound workspace's owed notifications into mail; settle its hint.
    Returns the number of mails owed."""
    workspace_id = bound_workspace_id()
    seen = await schedule.version(workspace_id, schedule.NOTIFICATIONS)
    workspace = await Workspace.get_or_none(id=workspace_id)
    queued = 0
    while workspace is not None:
        rows = await Notification.all().order_by("id").limit(BATCH)
        if not rows:
            break
        found = await _batch(workspace, rows)
        for row in rows:
            try:
                queued += await _send(settings, workspace, found, row)
            except Exception:  # one bad row must not hold up the workspace's mail
                log.exception("notification %s could not be sent", row.id)
        await Notification.filter(id__in=[r.id for r in rows]).delete()
    await schedule.settle(workspace_id, schedule.NOTIFICATIONS, seen, None)
    return queued


def _name(found: _Batch, account_id: uuid.UUID | None) -> str:
    account = found.accounts.get(account_id) if account_id else None
    return account.name if account else "A former member"


def _quoted(text: str) -> tuple[str, ...]:
    if len(text) > MAX_QUOTED:
        text = text[:MAX_QUOTED] + " […]"
    return tuple(p for p in text.split("\n\n") if p.strip())


async def _send(settings: Settings, workspace: Workspace, found: _Batch, row: Notification) -> int:
    issue = found.issues.get(row.issue_id)
    if issue is None:
        return 0
    key = f"{issue.project.key}-{issue.number}"
    thread = threads.thread_id(settings, workspace.id, issue.id)
    # The row's moment too: ids may start again (a restored backup), mail must not be lost.
    stamp = int(row.created_at.timestamp() * 1_000_000)
    dedupe = f"notification:{workspace.id}:{row.id}:{stamp}"
    comment = found.comments.get(row.comment_id) if row.comment_id else None
    if row.kind == NotificationKind.ANSWERED:
        sender = found.senders.get(issue.id)
        mailbox = found.answers_from.get(issue.project_id)
        if sender is None or mailbox is None or comment is None:
            return 0  # the source no longer answers senders
        message = answered_mail(workspace.name, _name(found, row.actor_id), key, issue, comment)
        references = (sender.message_id, thread)
        where = mail.Thread(sender.message_id, references, mailbox)
        return 1 if await mail.queue(sender.address, message, dedupe, where) else 0
    recipient = found.accounts.get(row.recipient_id) if row.recipient_id else None
    if recipient is None or recipient.id not in found.members:
        return 0  # erased, or no longer in the workspace
    if row.kind == NotificationKind.ASSIGNED:
        if issue.assignee_id != recipient.id:
            return 0  # assigned to someone else meanwhile
        reply_to = found.replies_to.get(issue.project_id)
        message = assigned_mail(workspace.name, _name(found, row.actor_id), key, issue, reply_to)
    else:
        if comment is None:
            return 0
        reply_to = found.replies_to.get(issue.project_id)
        author = _name(found, row.actor_id) if row.actor_id else None
        message = commented_mail(workspace.name, author, key, issue, comment, reply_to)
    where = mail.Thread(thread, (thread,), reply_to)
    return 1 if await mail.queue(recipient.email, message, dedupe, where) else 0


def _reply_hint(reply_to: str | None) -> tuple[str, ...]:
    return ("Reply to this mail to comment on the issue.",) if reply_to else ()


def assigned_mail(
    workspace_name: str, actor: str, key: str, issue: Issue, reply_to: str | None
) -> mail.Mail:
    description = _quoted(issue.description or "")[:5]
    return mail.Mail(
        "issue_assigned",
        f"[{key}] {issue.title}",
        (
            f"{actor} assigned {key} “{issue.title}” to you in {workspace_name}.",
            *description,
            *_reply_hint(reply_to),
        ),
    )


def commented_mail(
    workspace_name: str,
    author: str | None,
    key: str,
    issue: Issue,
    comment: Comment,
    reply_to: str | None,
) -> mail.Mail:
    opening = (
        f"{author} commented on {key} “{issue.title}” in {workspace_name}:"
        if author
        else f"A reply by mail arrived on {key} “{issue.title}” in {workspace_name}:"
    )
    return mail.Mail(
        "issue_commented",
        f"[{key}] {issue.title}",
        (opening, *_quoted(comment.body), *_reply_hint(reply_to)),
    )


def answered_mail(
    workspace_name: str, author: str, key: str, issue: Issue, comment: Comment
) -> mail.Mail:
    return mail.Mail(
        "issue_answered",
        f"Re: [{key}] {issue.title}",
        (
            f"{author} of {workspace_name} answered your request “{issue.title}” ({key}):",
            *_quoted(comment.body),
            "Reply to this mail to answer.",
        ),
    )
