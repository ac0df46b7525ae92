"""Workspace models: every workspace has these tables in a database of its own.

The ``workspace`` connection is bound per task (see ``tenancy.binding``); with nothing
bound, any query on these models raises ``WorkspaceNotBound``. Accounts live in the
landlord, so ``*_id`` columns naming an account are plain UUIDs without a foreign key.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index

from lightningtrack.models.base import Model


class IssueStatus(StrEnum):
    BACKLOG = "BACKLOG"
    TODO = "TODO"
    IN_PROGRESS = "IN_PROGRESS"
    IN_REVIEW = "IN_REVIEW"
    DONE = "DONE"
    CANCELLED = "CANCELLED"


class IssuePriority(StrEnum):
    NONE = "NONE"
    URGENT = "URGENT"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


# Sort rank of each priority: ascending order puts the most urgent first and NONE last.
PRIORITY_RANK = {
    IssuePriority.URGENT: 1,
    IssuePriority.HIGH: 2,
    IssuePriority.MEDIUM: 3,
    IssuePriority.LOW: 4,
    IssuePriority.NONE: 5,
}


class Project(Model):
    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=10, unique=True)
    name = fields.CharField(max_length=200)
    description = fields.TextField(null=True)
    archived = fields.BooleanField(default=False)
    # The last issue number handed out; only ever incremented, so numbers are never reused.
    last_issue_number = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        app = "workspace"
        table = "project"


class Label(Model):
    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=50, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        app = "workspace"
        table = "label"


class Issue(Model):
    id = fields.BigIntField(primary_key=True)
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "workspace.Project", related_name="issues", on_delete=fields.CASCADE
    )
    project_id: int
    number = fields.IntField()
    title = fields.CharField(max_length=255)
    description = fields.TextField(null=True)
    status = fields.CharEnumField(IssueStatus, max_length=16, default=IssueStatus.BACKLOG)
    priority = fields.CharEnumField(IssuePriority, max_length=8, default=IssuePriority.NONE)
    priority_rank = fields.SmallIntField(default=5)
    assignee_id = fields.UUIDField(null=True)
    creator_id = fields.UUIDField(null=True)
    estimate_seconds = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    labels: fields.ManyToManyRelation[Label] = fields.ManyToManyField(
        "workspace.Label", related_name="issues", through="issue_label"
    )

    class Meta:
        app = "workspace"
        table = "issue"
        unique_together = (("project", "number"),)
        indexes = (
            Index(fields=("created_at", "id")),
            Index(fields=("updated_at", "id")),
            Index(fields=("priority_rank", "id")),
            Index(fields=("assignee_id",)),
            Index(fields=("status", "created_at", "id")),
        )


class Comment(Model):
    id = fields.BigIntField(primary_key=True)
    issue: fields.ForeignKeyRelation[Issue] = fields.ForeignKeyField(
        "workspace.Issue", related_name="comments", on_delete=fields.CASCADE, db_index=True
    )
    issue_id: int
    author_id = fields.UUIDField(null=True)
    body = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        app = "workspace"
        table = "comment"


class TimeEntry(Model):
    id = fields.BigIntField(primary_key=True)
    issue: fields.ForeignKeyRelation[Issue] = fields.ForeignKeyField(
        "workspace.Issue", related_name="time_entries", on_delete=fields.CASCADE, db_index=True
    )
    issue_id: int
    account_id = fields.UUIDField(null=True)
    started_at = fields.DatetimeField()
    duration_seconds = fields.IntField()
    note = fields.TextField(null=True)
    billable = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        app = "workspace"
        table = "time_entry"
        indexes = (Index(fields=("started_at", "id")), Index(fields=("account_id",)))
