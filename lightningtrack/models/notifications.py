"""Workspace models of issue notifications: the outbox of mail owed about issues, and the
outside sender of an issue that came in by mail.

A notification is written in the transaction of the change it tells of (an assignment, a
comment), so a change that rolls back owes nothing; a job turns it into mail after the
commit and deletes it. The sender of a mailed-in issue is kept only where its source
answers senders (``EmailSource.notify_senders``), and goes with the issue.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index

from lightningtrack.models.base import Model
from lightningtrack.models.workspace import Comment, Issue


class NotificationKind(StrEnum):
    ASSIGNED = "ASSIGNED"  # to the new assignee
    COMMENTED = "COMMENTED"  # to the assignee or the creator
    ANSWERED = "ANSWERED"  # to the outside sender of a mailed-in issue


class Notification(Model):
    id = fields.BigIntField(primary_key=True)
    kind = fields.CharEnumField(NotificationKind, max_length=12)
    issue: fields.ForeignKeyRelation[Issue] = fields.ForeignKeyField(
        "workspace.Issue", related_name=False, on_delete=fields.CASCADE
    )
    issue_id: int
    # A deleted comment owes nothing any more.
    comment: fields.ForeignKeyNullableRelation[Comment] = fields.ForeignKeyField(
        "workspace.Comment", related_name=False, null=True, on_delete=fields.CASCADE
    )
    comment_id: int | None
    actor_id = fields.UUIDField(null=True)  # who assigned or commented (null: by mail)
    # The member told; null for ANSWERED, which goes to the issue's sender.
    recipient_id = fields.UUIDField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        app = "workspace"
        table = "notification"
        indexes = (Index(fields=("created_at",)),)


class IssueSender(Model):
    """Who wrote an issue by mail, when that is not a member: answered by mail."""

    id = fields.BigIntField(primary_key=True)
    issue: fields.OneToOneRelation[Issue] = fields.OneToOneField(
        "workspace.Issue", related_name=False, on_delete=fields.CASCADE
    )
    issue_id: int
    name = fields.CharField(max_length=200)
    address = fields.CharField(max_length=320, db_index=True)
    # The Message-ID of their mail, so that answers thread below it in their mail client.
    message_id = fields.CharField(max_length=255)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        app = "workspace"
        table = "issue_sender"
