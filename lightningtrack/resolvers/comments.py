"""Comments on issues."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise.transactions import in_transaction

from lightningtrack.errors import NotFound
from lightningtrack.models.workspace import Comment
from lightningtrack.resolvers import events, ids, issues, notifications, permissions, validation
from lightningtrack.tenancy.binding import bound_workspace_id
from lightningtrack.tenancy.config import WORKSPACE

if TYPE_CHECKING:
    from lightningtrack.models.landlord import Membership

TYPE = "Comment"
MAX_BODY = 65536


def global_id(comment: Comment) -> str:
    return ids.encode_scoped(TYPE, bound_workspace_id(), comment.id)


async def get(global_id: str) -> Comment:
    comment = await Comment.get_or_none(id=ids.decode_scoped(global_id, TYPE, bound_workspace_id()))
    if comment is None:
        raise NotFound("No Comment with this id.")
    return comment


def _body(body: str, field: str) -> str:
    validation.text(body, field, minimum=1, maximum=MAX_BODY)  # not blank once trimmed
    return validation.text(body, field, minimum=1, maximum=MAX_BODY, strip=False)


async def create(membership: Membership, issue_id: str, body: str) -> Comment:
    permissions.require_write(membership)
    clean = _body(body, "input.body")
    issue = await issues.get(issue_id, field="input.issueId")
    async with in_transaction(WORKSPACE):
        comment = await Comment.create(issue=issue, author_id=membership.account_id, body=clean)
        await events.emit(membership.workspace, "COMMENT_CREATED", comment)
        await notifications.owe_comment(membership.workspace, issue, comment)
    return comment


async def update(membership: Membership, global_id: str, body: str) -> Comment:
    comment = await get(global_id)
    permissions.require_author_or_admin(membership, comment.author_id)
    comment.body = _body(body, "body")
    async with in_transaction(WORKSPACE):
        await comment.save()
        await events.emit(membership.workspace, "COMMENT_UPDATED", comment)
    return comment


async def delete(membership: Membership, global_id: str) -> str:
    comment = await get(global_id)
    permissions.require_author_or_admin(membership, comment.author_id)
    await events.delete(membership.workspace, "COMMENT_DELETED", comment)
    return global_id
