"""Members of the bound workspace and the landlord accounts behind workspace rows."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from urllib.parse import urlencode

from tortoise.transactions import in_transaction

from lightningtrack import clock
from lightningtrack.errors import BadUserInput, Conflict, Forbidden, NotFound
from lightningtrack.models import joins
from lightningtrack.models.landlord import Account, Invitation, Membership, Role
from lightningtrack.resolvers import erasure_progress, ids, mail, permissions, tokens
from lightningtrack.resolvers.accounts import normalize_email
from lightningtrack.settings import Settings
from lightningtrack.tenancy.binding import bound_workspace_id
from lightningtrack.tenancy.config import LANDLORD


async def list_members() -> list[Membership]:
    return (
        await Membership.filter(workspace_id=bound_workspace_id())
        .select_related("account")
        .order_by("joined_at", "id")
    )


async def accounts_by_id(account_ids: list[uuid.UUID]) -> dict[uuid.UUID, Account]:
    """Accounts named by workspace rows (assignees, creators, authors): one statement,
    written out because every list of issues or comments sends it."""
    if not account_ids:
        return {}
    condition, values = joins.among(Account, "a.id", account_ids)
    sql = f"SELECT {joins.select_list(Account, 'a')} FROM account a WHERE {condition}"  # noqa: S608
    rows = [joins.hydrate(Account, row, "a") for row in await joins.fetch(Account, sql, values)]
    return {row.id: row for row in rows}


# Invitations and changes of membership.

INVITATION_LIFETIME = timedelta(days=7)


def invitation_id(invitation: Invitation) -> str:
    return ids.encode("Invitation", invitation.id)


def _may_grant(membership: Membership, role: Role) -> None:
    """ADMINs manage members below OWNER; only an OWNER grants or takes OWNER."""
    permissions.require_role(membership, Role.ADMIN)
    if role == Role.OWNER:
        permissions.require_role(membership, Role.OWNER)


async def invite(
    settings: Settings, membership: Membership, inviter: Account, email: str, role: Role
) -> Invitation:
    _may_grant(membership, role)
    clean, key = normalize_email(email, "email")
    if await Membership.exists(workspace_id=membership.workspace_id, account__email_key=key):
        raise Conflict("This person is already a member.", field="email")
    token = secrets.token_urlsafe(32)
    invitation = await Invitation.create(
        id=uuid.uuid4(),
        workspace_id=membership.workspace_id,
        email=clean,
        email_key=key,
        role=role,
        token_hash=tokens.digest(token),
        invited_by_id=membership.account_id,
        expires_at=clock.now() + INVITATION_LIFETIME,
    )
    link = f"{settings.public_url}/invitations/accept?{urlencode({'token': token})}"
    message = mail.invitation(inviter.name, membership.workspace.name, role.value, link)
    # Keyed by workspace, so that the workspace's erasure finds this mail row too.
    await mail.queue(
        clean, message, dedupe_key=f"invitation:{invitation.workspace_id}:{invitation.id}"
    )
    return invitation


async def pending_invitations(membership: Membership) -> list[Invitation]:
    permissions.require_role(membership, Role.ADMIN)
    return list(
        await Invitation.filter(
            workspace_id=membership.workspace_id, accepted_at=None, expires_at__gt=clock.now()
        ).order_by("created_at")
    )


async def accept(account: Account, token: str) -> Membership:
    """Make the signed-in account a member with the invited role; each link works once."""
    invalid = BadUserInput("This invitation is invalid, used or expired.", field="token")
    if not token or len(token) > 128:
        raise invalid
    now = clock.now()
    invitation = await Invitation.get_or_none(
        token_hash=tokens.digest(token), accepted_at=None, expires_at__gt=now
    )
    if invitation is None:
        raise invalid
    if invitation.email_key != account.email_key:
        raise Forbidden("This invitation was sent to another email address.")
    async with in_transaction(LANDLORD):
        claimed = await Invitation.filter(id=invitation.id, accepted_at=None).update(
            accepted_at=now
        )
        if not claimed:
            raise invalid
        existing = await Membership.get_or_none(
            workspace_id=invitation.workspace_id, account_id=account.id
        )
        if existing is None:
            await Membership.create(
                workspace_id=invitation.workspace_id, account=account, role=invitation.role
            )
    found = await Membership.get(
        workspace_id=invitation.workspace_id, account_id=account.id
    ).select_related("workspace", "account")
    return found


async def _target(membership: Membership, account_global_id: str) -> Membership:
    try:
        account_id = ids.decode_uuid(account_global_id, "Account")
    except NotFound:
        raise NotFound("No member with this id.", field="accountId") from None
    target = await Membership.get_or_none(
        workspace_id=membership.workspace_id, account_id=account_id
    ).select_related("account", "workspace")
    if target is None:
        raise NotFound("No member with this id.", field="accountId")
    return target


async def _keep_an_owner(workspace_id: uuid.UUID, losing: Membership) -> None:
    if losing.role != Role.OWNER:
        return
    owners = await Membership.filter(workspace_id=workspace_id, role=Role.OWNER).count()
    if owners <= 1:
        raise Conflict("A workspace keeps at least one OWNER: make someone else an owner first.")


async def remove(membership: Membership, account_global_id: str) -> str:
    target = await _target(membership, account_global_id)
    if target.account_id != membership.account_id:  # leaving needs no rights
        _may_grant(membership, Role(target.role))
    async with in_transaction(LANDLORD):
        await _keep_an_owner(membership.workspace_id, target)
        await Membership.filter(id=target.id).delete()
        # Their rows stay in the workspace: an erasure of the account must still come.
        await erasure_progress.record(target.account_id, [membership.workspace_id])
    return account_global_id


async def change_role(membership: Membership, account_global_id: str, role: Role) -> Membership:
    target = await _target(membership, account_global_id)
    _may_grant(membership, Role(target.role))
    _may_grant(membership, role)
    if role != target.role:
        async with in_transaction(LANDLORD):
            await _keep_an_owner(membership.workspace_id, target)
            await Membership.filter(id=target.id).update(role=role)
        target.role = role
    return target
