"""Landlord models: the one shared database of accounts, workspaces and their links."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class Role(StrEnum):
    OWNER = "OWNER"
    ADMIN = "ADMIN"
    MEMBER = "MEMBER"
    GUEST = "GUEST"


class Region(StrEnum):
    EU = "EU"
    US = "US"


class WorkspaceStatus(StrEnum):
    TRIALING = "TRIALING"
    ACTIVE = "ACTIVE"
    PAST_DUE = "PAST_DUE"
    CANCELLED = "CANCELLED"
    TRIAL_EXPIRED = "TRIAL_EXPIRED"
    PENDING_DELETION = "PENDING_DELETION"


class Account(Model):
    id = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=200)
    email = fields.CharField(max_length=320)
    # Case-folded email: uniqueness regardless of case, on every engine.
    email_key = fields.CharField(max_length=320, unique=True)
    password_hash = fields.CharField(max_length=255)
    email_verified = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    deletion_scheduled_at = fields.DatetimeField(null=True)

    class Meta:
        app = "landlord"
        table = "account"


class Session(Model):
    id = fields.BigIntField(primary_key=True)
    # SHA-256 of the cookie's random id; the id itself is never stored.
    token_hash = fields.CharField(max_length=64, unique=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "landlord.Account", related_name="sessions", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField()
    expires_at = fields.DatetimeField(db_index=True)
    user_agent = fields.CharField(max_length=255, null=True)

    class Meta:
        app = "landlord"
        table = "session"


class Workspace(Model):
    id = fields.UUIDField(primary_key=True)
    slug = fields.CharField(max_length=40, unique=True)
    name = fields.CharField(max_length=200)
    region = fields.CharEnumField(Region, max_length=2, default=Region.US)
    status = fields.CharEnumField(WorkspaceStatus, max_length=20, default=WorkspaceStatus.TRIALING)
    trial_ends_at = fields.DatetimeField(null=True)
    deletion_scheduled_at = fields.DatetimeField(null=True)
    # Where the workspace's own database lives: a database name on the region's server,
    # or a file name in the SQLite workspace folder.
    db_name = fields.CharField(max_length=63, unique=True)
    schema_version = fields.CharField(max_length=255, null=True)
    migrated_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        app = "landlord"
        table = "workspace"


class Membership(Model):
    id = fields.BigIntField(primary_key=True)
    workspace: fields.ForeignKeyRelation[Workspace] = fields.ForeignKeyField(
        "landlord.Workspace", related_name="memberships", on_delete=fields.CASCADE
    )
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "landlord.Account", related_name="memberships", on_delete=fields.CASCADE
    )
    role = fields.CharEnumField(Role, max_length=10)
    joined_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        app = "landlord"
        table = "membership"
        unique_together = (("workspace", "account"),)
