"""Landlord hints of which workspaces have integration work due (webhook retries,
mailbox polls), so that the sweep opens only those workspace databases, not all of them.

A hint holds no workspace data: its kind and when to look. The workspace database stays
the truth; a hint that is early or stale only costs one look.
"""

from __future__ import annotations

import uuid

from tortoise import fields

from lightningtrack.models.base import Model
from lightningtrack.models.landlord import Workspace


class WorkspaceSchedule(Model):
    id = fields.BigIntField(primary_key=True)
    workspace: fields.ForeignKeyRelation[Workspace] = fields.ForeignKeyField(
        "landlord.Workspace", related_name="schedules", on_delete=fields.CASCADE
    )
    workspace_id: uuid.UUID
    kind = fields.CharField(max_length=20)  # "webhooks", "email" or "notifications"
    due_at = fields.DatetimeField(db_index=True)
    # Bumped by every change, so that a job settling the hint cannot overwrite a newer one.
    version = fields.IntField(default=0)

    class Meta:
        app = "landlord"
        table = "workspace_schedule"
        unique_together = (("workspace", "kind"),)
