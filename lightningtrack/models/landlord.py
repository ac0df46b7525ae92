"""Landlord models: the one shared database of accounts, workspaces and their links."""

from __future__ import annotations

import uuid
from enum import StrEnum

from tortoise import fields

from lightningtrack.models.base import Model


class Role(StrEnum):
    OWNER = "OWNER"
    ADMIN = "ADMIN"
    MEMBER = "MEMBER"
    GUEST = "GUEST"


class Region(StrEnum):
    EU = "EU"
    US = "US"


class Plan(StrEnum):
    STANDARD = "STANDARD"  # data in the US only
    BUSINESS = "BUSINESS"  # data in the EU or the US


class WorkspaceStatus(StrEnum):
    TRIALING = "TRIALING"
    ACTIVE = "ACTIVE"
    PAST_DUE = "PAST_DUE"
    # Stripe stopped collecting (retries exhausted, or paused): read-only, data kept.
    UNPAID = "UNPAID"
    PAUSED = "PAUSED"
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
    # When the pending deletion was asked for: the erasure is promised within 30 days.
    deletion_requested_at = fields.DatetimeField(null=True)

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
    account_id: uuid.UUID
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
    # The status to return to when a scheduled deletion is cancelled.
    status_before_deletion = fields.CharEnumField(WorkspaceStatus, max_length=20, null=True)
    # Where the workspace's own database lives: a database name on the region's server,
    # or a file name in the SQLite workspace folder.
    db_name = fields.CharField(max_length=63, unique=True)
    schema_version = fields.CharField(max_length=255, null=True)
    migrated_at = fields.DatetimeField(null=True)
    # Billing references, and only these: the privacy policy names what is kept of Stripe's.
    stripe_customer_id = fields.CharField(max_length=255, null=True, unique=True)
    stripe_subscription_id = fields.CharField(max_length=255, null=True)
    plan = fields.CharEnumField(Plan, max_length=10, null=True)
    current_period_end = fields.DatetimeField(null=True)
    card_last4 = fields.CharField(max_length=4, null=True)
    # When the subscription ended; the erasure 30 days later counts from it.
    cancelled_at = fields.DatetimeField(null=True)
    # A live subscription set to end (at the period's end, or on a date): when it will.
    cancel_at_period_end = fields.BooleanField(default=False, db_default=False)
    cancel_at = fields.DatetimeField(null=True)
    # When the billing state last read from Stripe was fetched: an older read never
    # overwrites a newer one, whatever order the events arrive in.
    billing_synced_at = fields.DatetimeField(null=True)
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
    workspace_id: uuid.UUID
    account_id: uuid.UUID
    joined_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        app = "landlord"
        table = "membership"
        unique_together = (("workspace", "account"),)


class JobStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"


class DataExportKind(StrEnum):
    WORKSPACE = "WORKSPACE"
    ACCESS_REPORT = "ACCESS_REPORT"


class EmailStatus(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"


class EmailMessage(Model):
    """A mail owed. The row is the truth: a lost job is found again by the sweep, and
    ``dedupe_key`` makes each reminder exist (and so go out) once."""

    id = fields.UUIDField(primary_key=True)
    kind = fields.CharField(max_length=40)
    dedupe_key = fields.CharField(max_length=200, unique=True, null=True)
    to_address = fields.CharField(max_length=320)
    subject = fields.CharField(max_length=300)
    text_body = fields.TextField()
    html_body = fields.TextField()
    status = fields.CharEnumField(EmailStatus, max_length=10, default=EmailStatus.PENDING)
    attempts = fields.IntField(default=0)
    last_error = fields.CharField(max_length=500, null=True)
    next_attempt_at = fields.DatetimeField(db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)
    # Mail about an issue: the thread it belongs to (In-Reply-To, References) and where
    # replies go (the email source's mailbox, so that they become comments).
    in_reply_to = fields.CharField(max_length=255, null=True)
    thread_references = fields.CharField(max_length=1000, null=True)
    reply_to = fields.CharField(max_length=320, null=True)

    class Meta:
        app = "landlord"
        table = "email_message"


class AccountToken(Model):
    """A one-time token sent by mail (password reset, email verification): only its
    SHA-256 is stored."""

    id = fields.BigIntField(primary_key=True)
    purpose = fields.CharField(max_length=20)
    token_hash = fields.CharField(max_length=64, unique=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "landlord.Account", related_name="tokens", on_delete=fields.CASCADE
    )
    account_id: uuid.UUID
    # For email verification: the address being verified.
    email = fields.CharField(max_length=320, null=True)
    email_key = fields.CharField(max_length=320, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(db_index=True)
    used_at = fields.DatetimeField(null=True)

    class Meta:
        app = "landlord"
        table = "account_token"


class DataExport(Model):
    id = fields.UUIDField(primary_key=True)
    kind = fields.CharEnumField(DataExportKind, max_length=20)
    status = fields.CharEnumField(JobStatus, max_length=10, default=JobStatus.QUEUED)
    # A workspace export names its workspace; an access report names its account.
    workspace: fields.ForeignKeyNullableRelation[Workspace] = fields.ForeignKeyField(
        "landlord.Workspace", related_name="exports", null=True, on_delete=fields.CASCADE
    )
    workspace_id: uuid.UUID | None
    account: fields.ForeignKeyNullableRelation[Account] = fields.ForeignKeyField(
        "landlord.Account", related_name="exports", null=True, on_delete=fields.CASCADE
    )
    account_id: uuid.UUID | None
    # A workspace export is written in its workspace's region; an access report (null)
    # beside the landlord's data.
    region = fields.CharEnumField(Region, max_length=2, null=True)
    attempts = fields.IntField(default=0)
    error = fields.CharField(max_length=500, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    started_at = fields.DatetimeField(null=True)
    completed_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True, db_index=True)

    class Meta:
        app = "landlord"
        table = "data_export"


class WorkspaceTombstone(Model):
    """What remains of an erased workspace: no name, no slug, no member."""

    id = fields.UUIDField(primary_key=True)
    region = fields.CharEnumField(Region, max_length=2)
    created_at = fields.DatetimeField()
    erased_at = fields.DatetimeField()

    class Meta:
        app = "landlord"
        table = "workspace_tombstone"


class ApiKey(Model):
    """An integrator's key: only the SHA-256 of its secret is stored, with its prefix."""

    id = fields.UUIDField(primary_key=True)
    workspace: fields.ForeignKeyRelation[Workspace] = fields.ForeignKeyField(
        "landlord.Workspace", related_name="api_keys", on_delete=fields.CASCADE
    )
    workspace_id: uuid.UUID
    created_by: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "landlord.Account", related_name="api_keys", on_delete=fields.CASCADE
    )
    created_by_id: uuid.UUID
    name = fields.CharField(max_length=100)
    prefix = fields.CharField(max_length=16)
    secret_hash = fields.CharField(max_length=64, unique=True)
    scopes = fields.CharField(max_length=40)  # comma-separated ApiKeyScope values
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        app = "landlord"
        table = "api_key"


class Invitation(Model):
    id = fields.UUIDField(primary_key=True)
    workspace: fields.ForeignKeyRelation[Workspace] = fields.ForeignKeyField(
        "landlord.Workspace", related_name="invitations", on_delete=fields.CASCADE
    )
    workspace_id: uuid.UUID
    email = fields.CharField(max_length=320)
    email_key = fields.CharField(max_length=320)
    role = fields.CharEnumField(Role, max_length=10)
    token_hash = fields.CharField(max_length=64, unique=True)
    invited_by: fields.ForeignKeyNullableRelation[Account] = fields.ForeignKeyField(
        "landlord.Account", related_name="invitations_sent", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(db_index=True)
    accepted_at = fields.DatetimeField(null=True)

    class Meta:
        app = "landlord"
        table = "invitation"


class RequestLog(Model):
    """Metadata of one API request (usage data: kept 30 days)."""

    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(db_index=True)
    request_id = fields.CharField(max_length=64)
    workspace_id = fields.UUIDField(null=True)
    account_id = fields.UUIDField(null=True, db_index=True)
    api_key_id = fields.UUIDField(null=True)
    operation = fields.CharField(max_length=100)
    duration_ms = fields.IntField()
    outcome = fields.CharField(max_length=40)
    client_ip = fields.CharField(max_length=45)

    class Meta:
        app = "landlord"
        table = "request_log"


class StripeEvent(Model):
    """A Stripe event already handled: each event id is acted on once. Only the id and the
    type are kept, nothing that names a workspace."""

    id = fields.CharField(max_length=255, primary_key=True)
    type = fields.CharField(max_length=100)
    received_at = fields.DatetimeField(db_index=True)

    class Meta:
        app = "landlord"
        table = "stripe_event"


class ErasureProgress(Model):
    """A workspace whose database may hold rows naming an account (its issues, comments,
    time entries): recorded when a membership ends and when the account's deletion is
    asked for, so that the erasure still finds it once the membership is gone; and how
    far the account's erasure got there. Goes with the account or the workspace."""

    id = fields.BigIntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "landlord.Account", related_name="erasure_progress", on_delete=fields.CASCADE
    )
    account_id: uuid.UUID
    workspace: fields.ForeignKeyRelation[Workspace] = fields.ForeignKeyField(
        "landlord.Workspace", related_name="erasure_progress", on_delete=fields.CASCADE
    )
    workspace_id: uuid.UUID
    recorded_at = fields.DatetimeField()
    # Set once the account's rows in that workspace are anonymous.
    done_at = fields.DatetimeField(null=True)
    attempts = fields.IntField(default=0)
    last_error = fields.CharField(max_length=500, null=True)
    # A workspace that could not be reached is tried again from then on.
    next_attempt_at = fields.DatetimeField(null=True)

    class Meta:
        app = "landlord"
        table = "erasure_progress"
        unique_together = (("account", "workspace"),)
