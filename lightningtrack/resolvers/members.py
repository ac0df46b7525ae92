"""Members of the bound workspace and the landlord accounts behind workspace rows."""

from __future__ import annotations

import uuid

from lightningtrack.models.landlord import Account, Membership
from lightningtrack.tenancy.binding import bound_workspace_id


async def list_members() -> list[Membership]:
    return (
        await Membership.filter(workspace_id=bound_workspace_id())
        .select_related("account")
        .order_by("joined_at", "id")
    )


async def accounts_by_id(account_ids: list[uuid.UUID]) -> dict[uuid.UUID, Account]:
    """Accounts named by workspace rows (assignees, creators, authors): one query."""
    rows = await Account.filter(id__in=account_ids)
    return {row.id: row for row in rows}
