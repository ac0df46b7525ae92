"""Workspace models: every workspace has these tables in a database of its own.

The ``workspace`` connection is bound per task (see ``tenancy.binding``); with nothing
bound, any query on these models raises ``WorkspaceNotBound``.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Project(Model):
    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=10, unique=True)
    name = fields.CharField(max_length=200)
    description = fields.TextField(null=True)
    archived = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        app = "workspace"
        table = "project"
