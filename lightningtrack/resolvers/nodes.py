"""Looking up landlord objects by global ID, within what the viewer may see."""

from __future__ import annotations

from lightningtrack.models.landlord import Account, Membership


async def visible_account(viewer: Account, workspace_id: object | None, key: str) -> Account | None:
    """An account the viewer may see: themselves, or a member of the bound workspace."""
    if key == str(viewer.id):
        return viewer
    if workspace_id is None:
        return None
    membership = (
        await Membership.filter(workspace_id=workspace_id, account_id=key)
        .select_related("account")
        .first()
    )
    return membership.account if membership else None


async def visible_membership(viewer: Account, key: str) -> Membership | None:
    """The viewer's membership in the workspace with this id, if any."""
    return (
        await Membership.filter(workspace_id=key, account_id=viewer.id)
        .select_related("workspace")
        .first()
    )
