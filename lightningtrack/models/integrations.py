"""Workspace models of the integrations: settings, outgoing webhooks, email sources.

They live in each workspace's own database, like the tracker's tables. Webhook signing
secrets are stored here in plain text (the policy keeps them out of the landlord); an
email source's IMAP password is stored encrypted (see ``resolvers.credentials``).
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index

from lightningtrack.models.base import Model
from lightningtrack.models.workspace import Issue, Project


class Weekday(StrEnum):
    MONDAY = "MONDAY"
    SUNDAY = "SUNDAY"


class WebhookEvent(StrEnum):
    PROJECT_CREATED = "PROJECT_CREATED"
    PROJECT_UPDATED = "PROJECT_UPDATED"
    PROJECT_DELETED = "PROJECT_DELETED"
    ISSUE_CREATED = "ISSUE_CREATED"
    ISSUE_UPDATED = "ISSUE_UPDATED"
    ISSUE_DELETED = "ISSUE_DELETED"
    COMMENT_CREATED = "COMMENT_CREATED"
    COMMENT_UPDATED = "COMMENT_UPDATED"
    COMMENT_DELETED = "COMMENT_DELETED"
    TIME_ENTRY_CREATED = "TIME_ENTRY_CREATED"
    TIME_ENTRY_UPDATED = "TIME_ENTRY_UPDATED"
    TIME_ENTRY_DELETED = "TIME_ENTRY_DELETED"


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


# One row (id 1) per workspace database; missing means the defaults.
class WorkspaceSettings(Model):
    id = fields.IntField(primary_key=True)
    timezone = fields.CharField(max_length=64, default="UTC")
    week_starts_on = fields.CharEnumField(Weekday, max_length=8, default=Weekday.MONDAY)
    default_project: fields.ForeignKeyNullableRelation[Project] = fields.ForeignKeyField(
        "workspace.Project", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    default_project_id: int | None
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        app = "workspace"
        table = "workspace_settings"


class Webhook(Model):
    id = fields.BigIntField(primary_key=True)
    url = fields.CharField(max_length=2048)
    events = fields.CharField(max_length=400)  # comma-separated WebhookEvent names
    enabled = fields.BooleanField(default=True)
    disabled_reason = fields.CharField(max_length=300, null=True)
    secret = fields.CharField(max_length=100)
    # After a rotation the old secret signs alongside the new one until this moment.
    previous_secret = fields.CharField(max_length=100, null=True)
    previous_secret_expires_at = fields.DatetimeField(null=True)
    # Start of the current run of failed attempts; cleared by any success.
    failing_since = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        app = "workspace"
        table = "webhook"


# The outbox: one event, written in the transaction of the change it describes.
class WebhookMessage(Model):
    id = fields.BigIntField(primary_key=True)
    message_id = fields.CharField(max_length=40, unique=True)  # webhook-id: msg_…
    event = fields.CharField(max_length=40)  # WebhookEvent name, e.g. ISSUE_CREATED
    body = fields.TextField()  # the exact JSON that is signed and sent
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        app = "workspace"
        table = "webhook_message"
        indexes = (Index(fields=("created_at",)),)


# One message owed to one endpoint; the row is the truth of its retries.
class WebhookDelivery(Model):
    id = fields.BigIntField(primary_key=True)
    webhook: fields.ForeignKeyRelation[Webhook] = fields.ForeignKeyField(
        "workspace.Webhook", related_name="deliveries", on_delete=fields.CASCADE
    )
    webhook_id: int
    message: fields.ForeignKeyRelation[WebhookMessage] = fields.ForeignKeyField(
        "workspace.WebhookMessage", related_name="deliveries", on_delete=fields.CASCADE
    )
    message_id: int
    event = fields.CharField(max_length=40)
    status = fields.CharEnumField(DeliveryStatus, max_length=10, default=DeliveryStatus.PENDING)
    attempts = fields.IntField(default=0)
    response_status = fields.IntField(null=True)
    last_error = fields.CharField(max_length=300, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_attempt_at = fields.DatetimeField(null=True)
    next_attempt_at = fields.DatetimeField(null=True)

    class Meta:
        app = "workspace"
        table = "webhook_delivery"
        indexes = (
            Index(fields=("status", "next_attempt_at")),
            Index(fields=("webhook_id", "id")),
            Index(fields=("created_at",)),
        )


class EmailSource(Model):
    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=100)
    address = fields.CharField(max_length=320)
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "workspace.Project", related_name=False, on_delete=fields.CASCADE
    )
    project_id: int
    imap_host = fields.CharField(max_length=255)
    imap_port = fields.IntField()
    username = fields.CharField(max_length=320)
    password_encrypted = fields.TextField()
    use_tls = fields.BooleanField(default=True)
    # With use_tls: a plain connection upgraded by STARTTLS (required), not implicit TLS.
    starttls = fields.BooleanField(default=False, db_default=False)
    # Comments on its issues are mailed to the outside sender who wrote them.
    notify_senders = fields.BooleanField(default=False, db_default=False)
    folder = fields.CharField(max_length=200, default="INBOX")
    enabled = fields.BooleanField(default=True)
    last_polled_at = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=500, null=True)
    next_poll_at = fields.DatetimeField(null=True)
    # Where the last poll stopped: messages above this UID (while UIDVALIDITY holds) are new.
    uid_validity = fields.BigIntField(null=True)
    last_uid = fields.BigIntField(default=0)
    # A poll in progress holds the source until then; a crashed one lets go by itself.
    claimed_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        app = "workspace"
        table = "email_source"


# A mail handled, by its Message-ID: recorded in the transaction of the issue or
# comment it created, so that no message is handled twice, even by overlapping polls.
class InboundMessage(Model):
    id = fields.BigIntField(primary_key=True)
    message_id = fields.CharField(max_length=255, unique=True)
    source_id = fields.BigIntField(null=True)
    issue: fields.ForeignKeyNullableRelation[Issue] = fields.ForeignKeyField(
        "workspace.Issue", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    issue_id: int | None
    comment_id = fields.BigIntField(null=True)
    # Why the message made nothing (malformed, oversized), when it did not.
    error = fields.CharField(max_length=300, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        app = "workspace"
        table = "inbound_message"
