"""Erasure of workspaces and accounts: scheduling, cancelling and carrying it out."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from lightningtrack import clock
from lightningtrack.errors import BadUserInput, Conflict
from lightningtrack.models.landlord import (
    Account,
    AccountToken,
    ApiKey,
    DataExport,
    EmailMessage,
    Invitation,
    Membership,
    RequestLog,
    Role,
    Session,
    Workspace,
    WorkspaceStatus,
    WorkspaceTombstone,
)
from lightningtrack.resolvers import erasure_progress, passwords, permissions
from lightningtrack.resolvers.billing import customers
from lightningtrack.resolvers.exports import archive_path
from lightningtrack.settings import Settings
from lightningtrack.tenancy import databases
from lightningtrack.tenancy.config import LANDLORD
from lightningtrack.tenancy.runtime import Tenancy

log = logging.getLogger(__name__)
# Statuses under which a workspace with a deletion date is erased when the date comes.
ERASABLE = (
    WorkspaceStatus.PENDING_DELETION,
    WorkspaceStatus.TRIAL_EXPIRED,
    WorkspaceStatus.CANCELLED,
)


# Retention of a read-only workspace: after an expired trial, after a cancelled subscription.
TRIAL_GRACE = timedelta(days=14)
CANCELLED_RETENTION = timedelta(days=30)


def grace(settings: Settings) -> timedelta:
    return timedelta(days=settings.deletion_grace_days)


async def schedule_workspace_deletion(
    settings: Settings, membership: Membership, confirm_slug: str
) -> Workspace:
    permissions.require_role(membership, Role.OWNER)
    workspace = membership.workspace
    if confirm_slug != workspace.slug:
        raise BadUserInput("Type the workspace's slug to confirm.", field="confirmSlug")
    if workspace.status != WorkspaceStatus.PENDING_DELETION:
        workspace.status_before_deletion = workspace.status
        workspace.status = WorkspaceStatus.PENDING_DELETION
        workspace.deletion_scheduled_at = clock.now() + grace(settings)
        await workspace.save(
            update_fields=["status", "status_before_deletion", "deletion_scheduled_at"]
        )
    return workspace


async def cancel_workspace_deletion(membership: Membership) -> Workspace:
    permissions.require_role(membership, Role.OWNER)
    workspace = membership.workspace
    if workspace.status != WorkspaceStatus.PENDING_DELETION:
        raise Conflict("This workspace is not scheduled for deletion.")
    workspace.status = workspace.status_before_deletion or WorkspaceStatus.TRIALING
    workspace.status_before_deletion = None  # type: ignore[assignment]
    workspace.deletion_scheduled_at = retention_date(workspace)
    await workspace.save(
        update_fields=["status", "status_before_deletion", "deletion_scheduled_at"]
    )
    return workspace


def retention_date(workspace: Workspace) -> datetime | None:
    """When a workspace in its current standing is due for erasure by the retention rules
    alone: an expired trial 14 days after it ended, a cancelled subscription 30 days after
    it ended, otherwise never."""
    if workspace.status == WorkspaceStatus.TRIAL_EXPIRED and workspace.trial_ends_at:
        return workspace.trial_ends_at + TRIAL_GRACE
    if workspace.status == WorkspaceStatus.CANCELLED and workspace.cancelled_at:
        return workspace.cancelled_at + CANCELLED_RETENTION
    return None


async def sole_owner_of(account: Account) -> list[Workspace]:
    """Live workspaces in which this account is the only OWNER."""
    owned = await Membership.filter(account_id=account.id, role=Role.OWNER).select_related(
        "workspace"
    )
    alone = []
    for membership in owned:
        if membership.workspace.status == WorkspaceStatus.PENDING_DELETION:
            continue  # it goes before or with the account
        owners = await Membership.filter(
            workspace_id=membership.workspace_id, role=Role.OWNER
        ).count()
        if owners == 1:
            alone.append(membership.workspace)
    return alone


async def schedule_account_deletion(settings: Settings, account: Account, password: str) -> Account:
    matches, _ = await passwords.verify_password(account.password_hash, password)
    if not matches:
        raise BadUserInput("The password is not right.", field="password")
    alone = await sole_owner_of(account)
    if alone:
        slugs = sorted(w.slug for w in alone)
        raise Conflict(
            "You are the only owner of "
            + ", ".join(slugs)
            + ": make someone else an owner, or delete those workspaces first.",
            workspaces=slugs,
        )
    if account.deletion_scheduled_at is None:
        now = clock.now()
        account.deletion_scheduled_at = now + grace(settings)
        account.deletion_requested_at = now
        async with in_transaction(LANDLORD):
            await account.save(update_fields=["deletion_scheduled_at", "deletion_requested_at"])
            # The workspaces to visit, as of the request: memberships may end meanwhile.
            await erasure_progress.record(account.id, await _membership_workspaces(account))
    return account


async def cancel_account_deletion(account: Account) -> Account:
    if account.deletion_scheduled_at is None:
        raise Conflict("This account is not scheduled for deletion.")
    if await erasure_progress.started(account.id):
        raise Conflict("The erasure of this account is under way and cannot be undone.")
    account.deletion_scheduled_at = None
    account.deletion_requested_at = None
    await account.save(update_fields=["deletion_scheduled_at", "deletion_requested_at"])
    return account


async def _membership_workspaces(account: Account) -> list[uuid.UUID]:
    found = await Membership.filter(account_id=account.id).values_list("workspace_id", flat=True)
    return [uuid.UUID(str(w)) for w in found]


async def erase_workspace(settings: Settings, tenancy: Tenancy, workspace_id: uuid.UUID) -> bool:
    """Erase a workspace whose deletion date has come: its database, its archives, and every
    landlord row that names it, keeping a tombstone without personal data.

    Each step can be repeated, so a run cut short is finished by the next one.
    """
    workspace = await Workspace.get_or_none(id=workspace_id)
    now = clock.now()
    if (
        workspace is None
        or workspace.status not in ERASABLE
        or workspace.deletion_scheduled_at is None
        or workspace.deletion_scheduled_at > now
    ):
        return False
    # First, so that a Stripe failure leaves everything for the next sweep to retry.
    await customers.forget_customer(settings, workspace)
    url = databases.workspace_url(settings, workspace)
    await tenancy.pools.discard(url)
    await databases.drop_database(url)
    for export in await DataExport.filter(workspace_id=workspace.id):
        await asyncio.to_thread(archive_path(settings, export).unlink, missing_ok=True)
    async with in_transaction(LANDLORD):
        await WorkspaceTombstone.get_or_create(
            id=workspace.id,
            defaults={
                "region": workspace.region,
                "created_at": workspace.created_at,
                "erased_at": now,
            },
        )
        # The mail owed about it (reminders, trial notices) names it and its owners.
        await EmailMessage.filter(dedupe_key__contains=str(workspace.id)).delete()
        await RequestLog.filter(workspace_id=workspace.id).delete()
        # Memberships and exports go with the row (ON DELETE CASCADE).
        await Workspace.filter(id=workspace.id).delete()
    log.info("erased workspace %s", workspace.id)
    return True


async def erase_account(settings: Settings, tenancy: Tenancy, account_id: uuid.UUID) -> bool:
    """Erase an account whose deletion date has come. Its issues, comments and time entries
    stay in every workspace, with creator, assignee, author and account set to null.

    The account is locked out first (sessions, keys, tokens and memberships end, so that
    nothing new is written in its name), then each workspace it may have rows in is
    visited (see ``erasure_progress``); the account itself goes only once every one is
    done. True once erased; False while it waits, for its date or for a workspace.
    """
    account = await Account.get_or_none(id=account_id)
    now = clock.now()
    if (
        account is None
        or account.deletion_scheduled_at is None
        or account.deletion_scheduled_at > now
    ):
        return False
    if await sole_owner_of(account):
        log.warning("account %s is due for erasure but is a sole owner; postponed", account.id)
        return False
    await _lock_out(account)
    await erasure_progress.visit_due(settings, tenancy, account)
    if await erasure_progress.remaining(account.id):
        await erasure_progress.report()
        return False
    for export in await DataExport.filter(account_id=account.id):
        await asyncio.to_thread(archive_path(settings, export).unlink, missing_ok=True)
    async with in_transaction(LANDLORD):
        await EmailMessage.filter(to_address=account.email).delete()
        await Invitation.filter(email_key=account.email_key).delete()
        await RequestLog.filter(account_id=account.id).delete()
        # Exports and erasure progress go with the row (ON DELETE CASCADE).
        await Account.filter(id=account.id).delete()
    await erasure_progress.report()
    log.info("erased account %s", account.id)
    return True


async def _lock_out(account: Account) -> None:
    """End everything that acts in the account's name, keeping the workspaces it was in
    (as of now, beside those recorded before) for the visits. Repeatable."""
    async with in_transaction(LANDLORD):
        await erasure_progress.record(account.id, await _membership_workspaces(account))
        await Membership.filter(account_id=account.id).delete()
        await Session.filter(account_id=account.id).delete()
        await ApiKey.filter(created_by_id=account.id).delete()
        await AccountToken.filter(account_id=account.id).delete()
