"""The retention sweep: what the privacy policy promises to do on its own, on schedule.

``plan`` looks at the landlord as of ``now`` and lists the actions due; ``run`` carries
them out. Every action is idempotent and every mail has a dedupe key, so sweeping twice,
or at overlapping times from two processes, sends nothing twice and erases nothing early.
A reminder goes out before each erasure: an erasure found due with no reminder sent yet
sends it and waits one more reminder period.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from tortoise.expressions import Q

from lightningtrack import clock, metrics
from lightningtrack.backups import backup, store
from lightningtrack.models.landlord import (
    Account,
    AccountToken,
    DataExport,
    EmailMessage,
    EmailStatus,
    JobStatus,
    Membership,
    RequestLog,
    Role,
    Session,
    Workspace,
    WorkspaceStatus,
)
from lightningtrack.resolvers import erasure, erasure_progress, integration_sweep, mail
from lightningtrack.resolvers.billing import sweep as billing_sweep
from lightningtrack.resolvers.effects import Job, defer_job
from lightningtrack.resolvers.exports import archive_folders, archive_path, export_job
from lightningtrack.settings import Settings
from lightningtrack.tenancy.runtime import Tenancy

log = logging.getLogger(__name__)

REMINDER_LEAD = timedelta(days=1)
TRIAL_GRACE = erasure.TRIAL_GRACE
USAGE_RETENTION = timedelta(days=30)
STALE_EXPORT = timedelta(minutes=15)


@dataclass
class Action:
    kind: str
    subject: str
    run: Callable[[], Awaitable[object]]

    def describe(self) -> str:
        return f"{self.kind}: {self.subject}"


def workspace_reminder_key(workspace: Workspace) -> str:
    assert workspace.deletion_scheduled_at is not None
    return f"workspace-deletion:{workspace.id}:{workspace.deletion_scheduled_at.isoformat()}"


def account_reminder_key(account: Account) -> str:
    assert account.deletion_scheduled_at is not None
    return f"account-deletion:{account.id}:{account.deletion_scheduled_at.isoformat()}"


async def _owners(workspace: Workspace) -> list[Account]:
    members = await Membership.filter(workspace_id=workspace.id, role=Role.OWNER).select_related(
        "account"
    )
    return [m.account for m in members]


async def _reminded(prefix: str) -> bool:
    return bool(await EmailMessage.filter(dedupe_key__startswith=prefix).exists())


async def _remind_workspace(workspace: Workspace, message: mail.Mail) -> None:
    key = workspace_reminder_key(workspace)
    for owner in await _owners(workspace):
        await mail.queue(owner.email, message, dedupe_key=f"{key}:{owner.id}")


def _reason(workspace: Workspace) -> str:
    return {
        WorkspaceStatus.PENDING_DELETION: "an owner asked for its deletion",
        WorkspaceStatus.TRIAL_EXPIRED: "its trial ended without a subscription",
        WorkspaceStatus.CANCELLED: "its subscription was cancelled",
    }.get(WorkspaceStatus(workspace.status), "its retention period ended")


async def plan(settings: Settings, tenancy: Tenancy, now: datetime) -> list[Action]:
    actions: list[Action] = []
    actions += await _trial_actions(now)
    actions += await _workspace_erasure_actions(settings, tenancy, now)
    actions += await _account_erasure_actions(settings, tenancy, now)
    actions += await _expiry_actions(settings, now)
    actions += await _requeue_actions(now)
    actions += [Action(*planned) for planned in await billing_sweep.plan(settings, now)]
    actions += await _backup_actions(settings, now)
    actions += await _integration_actions(settings, tenancy, now)
    return actions


async def _trial_actions(now: datetime) -> list[Action]:
    actions: list[Action] = []
    trials = await Workspace.filter(
        status=WorkspaceStatus.TRIALING, trial_ends_at__lte=now + REMINDER_LEAD
    )
    for workspace in trials:
        assert workspace.trial_ends_at is not None
        if workspace.trial_ends_at > now:
            actions.append(Action("trial reminder", workspace.slug, _trial_reminder(workspace)))
        else:
            actions.append(Action("trial expiry", workspace.slug, _expire_trial(workspace)))
    return actions


def _trial_reminder(workspace: Workspace) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        assert workspace.trial_ends_at is not None
        message = mail.trial_ending(workspace.name, workspace.trial_ends_at)
        for owner in await _owners(workspace):
            key = f"trial-ending:{workspace.id}:{workspace.trial_ends_at.isoformat()}:{owner.id}"
            await mail.queue(owner.email, message, dedupe_key=key)

    return run


def _expire_trial(workspace: Workspace) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        assert workspace.trial_ends_at is not None
        deletion = workspace.trial_ends_at + TRIAL_GRACE
        updated = await Workspace.filter(id=workspace.id, status=WorkspaceStatus.TRIALING).update(
            status=WorkspaceStatus.TRIAL_EXPIRED, deletion_scheduled_at=deletion
        )
        if not updated:
            return
        workspace.status = WorkspaceStatus.TRIAL_EXPIRED
        workspace.deletion_scheduled_at = deletion
        # The expiry notice names the deletion date: it is also the reminder before it.
        await _remind_workspace(workspace, mail.trial_expired(workspace.name, deletion))

    return run


async def _workspace_erasure_actions(
    settings: Settings, tenancy: Tenancy, now: datetime
) -> list[Action]:
    actions: list[Action] = []
    scheduled = await Workspace.filter(
        status__in=list(erasure.ERASABLE), deletion_scheduled_at__lte=now + REMINDER_LEAD
    )
    for workspace in scheduled:
        assert workspace.deletion_scheduled_at is not None
        reminded = await _reminded(workspace_reminder_key(workspace))
        due = workspace.deletion_scheduled_at <= now
        if due and reminded:
            actions.append(
                Action("erase workspace", workspace.slug, _erase(settings, tenancy, workspace))
            )
        elif not reminded:
            actions.append(
                Action(
                    "workspace deletion reminder",
                    workspace.slug,
                    _workspace_reminder(workspace, due, now),
                )
            )
    return actions


def _workspace_reminder(
    workspace: Workspace, due: bool, now: datetime
) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        if due:
            # Found due before any reminder went out: remind now, erase one period later.
            workspace.deletion_scheduled_at = now + REMINDER_LEAD
            await workspace.save(update_fields=["deletion_scheduled_at"])
        assert workspace.deletion_scheduled_at is not None
        message = mail.workspace_deletion_reminder(
            workspace.name, workspace.deletion_scheduled_at, _reason(workspace)
        )
        await _remind_workspace(workspace, message)

    return run


def _erase(
    settings: Settings, tenancy: Tenancy, workspace: Workspace
) -> Callable[[], Awaitable[bool]]:
    async def run() -> bool:
        return await erasure.erase_workspace(settings, tenancy, workspace.id)

    return run


async def _account_erasure_actions(
    settings: Settings, tenancy: Tenancy, now: datetime
) -> list[Action]:
    actions: list[Action] = []
    for account in await Account.filter(deletion_scheduled_at__lte=now + REMINDER_LEAD):
        assert account.deletion_scheduled_at is not None
        # An erasure under way was reminded of, even once the mail log forgot it.
        started = await erasure_progress.started(account.id)
        reminded = started or await _reminded(account_reminder_key(account))
        due = account.deletion_scheduled_at <= now
        label = str(account.id)
        if due and reminded:
            actions.append(
                Action("erase account", label, _erase_account(settings, tenancy, account))
            )
        elif not reminded:
            actions.append(
                Action("account deletion reminder", label, _account_reminder(account, due, now))
            )
    return actions


def _erase_account(
    settings: Settings, tenancy: Tenancy, account: Account
) -> Callable[[], Awaitable[bool]]:
    async def run() -> bool:
        return await erasure.erase_account(settings, tenancy, account.id)

    return run


def _account_reminder(account: Account, due: bool, now: datetime) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        if due:
            account.deletion_scheduled_at = now + REMINDER_LEAD
            await account.save(update_fields=["deletion_scheduled_at"])
        assert account.deletion_scheduled_at is not None
        await mail.queue(
            account.email,
            mail.account_deletion_reminder(account.name, account.deletion_scheduled_at),
            dedupe_key=account_reminder_key(account),
        )

    return run


async def _expiry_actions(settings: Settings, now: datetime) -> list[Action]:
    actions: list[Action] = []
    for export in await DataExport.filter(status=JobStatus.SUCCEEDED, expires_at__lte=now):
        actions.append(Action("expire export", str(export.id), _expire_export(settings, export)))
    stale_tokens = await AccountToken.filter(expires_at__lte=now).count()
    if stale_tokens:
        actions.append(Action("delete expired tokens", str(stale_tokens), _delete_tokens(now)))
    idle_cutoff = now - settings.session_idle_timeout
    sessions = (
        await Session.filter(expires_at__lte=now).count()
        + await Session.filter(expires_at__gt=now, last_seen_at__lte=idle_cutoff).count()
    )
    if sessions:
        actions.append(
            Action("delete expired sessions", str(sessions), _delete_sessions(now, idle_cutoff))
        )
    old_mail = await EmailMessage.filter(
        status__in=[EmailStatus.SENT, EmailStatus.FAILED], created_at__lte=now - USAGE_RETENTION
    ).count()
    if old_mail:
        actions.append(
            Action("delete mail log older than 30 days", str(old_mail), _delete_mail(now))
        )
    old_requests = await RequestLog.filter(at__lte=now - USAGE_RETENTION).count()
    if old_requests:
        actions.append(
            Action(
                "delete request metadata older than 30 days",
                str(old_requests),
                _delete_requests(now),
            )
        )
    if await asyncio.to_thread(_stale_partials, settings):
        actions.append(
            Action("delete abandoned partial archives", "exports", _delete_partials(settings))
        )
    return actions


def _expire_export(settings: Settings, export: DataExport) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await asyncio.to_thread(archive_path(settings, export).unlink, missing_ok=True)
        await DataExport.filter(id=export.id).update(status=JobStatus.EXPIRED)

    return run


def _delete_tokens(now: datetime) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await AccountToken.filter(expires_at__lte=now).delete()

    return run


def _delete_sessions(now: datetime, idle_cutoff: datetime) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await Session.filter(expires_at__lte=now).delete()
        await Session.filter(last_seen_at__lte=idle_cutoff).delete()

    return run


def _delete_mail(now: datetime) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await EmailMessage.filter(
            status__in=[EmailStatus.SENT, EmailStatus.FAILED], created_at__lte=now - USAGE_RETENTION
        ).delete()

    return run


def _delete_requests(now: datetime) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await RequestLog.filter(at__lte=now - USAGE_RETENTION).delete()

    return run


def _stale_partials(settings: Settings) -> list[Path]:
    """Half-written archives a day old. Files age by the real clock, not the sweep's."""
    cutoff = time.time() - 86400
    return [
        p
        for folder in archive_folders(settings)
        if folder.exists()
        for p in folder.glob("*.partial")
        if p.stat().st_mtime < cutoff
    ]


def _delete_partials(settings: Settings) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        for path in await asyncio.to_thread(_stale_partials, settings):
            await asyncio.to_thread(path.unlink, missing_ok=True)

    return run


async def _requeue_actions(now: datetime) -> list[Action]:
    """Jobs whose message may have been lost: the rows say they are still owed."""
    actions: list[Action] = []
    for message in await EmailMessage.filter(status=EmailStatus.PENDING, next_attempt_at__lte=now):
        actions.append(
            Action(
                "send mail",
                message.kind,
                _requeue(Job("send_email", {"email_id": str(message.id)})),
            )
        )
    stale = now - STALE_EXPORT
    lost = await DataExport.filter(
        Q(status=JobStatus.QUEUED, created_at__lte=stale)
        | Q(status=JobStatus.RUNNING, started_at__lte=stale)
    )
    for export in lost:
        actions.append(Action("restart export", str(export.id), _requeue(export_job(export))))
    return actions


async def _backup_actions(settings: Settings, now: datetime) -> list[Action]:
    """Backups expire 30 days after they were taken, whatever became of their database,
    and the day's backups are owed once a day."""
    actions: list[Action] = []
    expired = await asyncio.to_thread(store.expired, settings, now)
    if expired:
        actions.append(
            Action("delete backups older than 30 days", str(len(expired)), _prune(settings, now))
        )
    if await backup.anything_due(settings, now):
        actions.append(Action("take the daily backups", "backups", _requeue(Job("backup_run"))))
    return actions


def _prune(settings: Settings, now: datetime) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        removed = await asyncio.to_thread(store.prune, settings, now)
        metrics.BACKUPS_PRUNED.inc(len(removed))

    return run


async def _integration_actions(settings: Settings, tenancy: Tenancy, now: datetime) -> list[Action]:
    """Webhook retries, the 30-day delivery log and mailbox polls of due workspaces."""
    work = await integration_sweep.due_work(settings, tenancy, now)
    return [Action(kind, subject, run) for kind, subject, run in work]


def _requeue(job: Job) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        defer_job(job)

    return run


async def run(
    settings: Settings, tenancy: Tenancy, now: datetime | None = None, dry_run: bool = False
) -> list[Action]:
    """Plan the sweep as of ``now`` and, unless ``dry_run``, carry it out."""
    moment = now or clock.now()
    actions = await plan(settings, tenancy, moment)
    if dry_run:
        return actions
    for action in actions:
        try:
            await action.run()
        except Exception:  # one failing action must not stop the sweep
            log.exception("retention action failed: %s", action.describe())
            metrics.RETENTION_ACTIONS.labels(action.kind, "failed").inc()
        else:
            metrics.RETENTION_ACTIONS.labels(action.kind, "ok").inc()
    return actions
