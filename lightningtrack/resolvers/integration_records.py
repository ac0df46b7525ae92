"""The integrations in export archives: settings, webhooks with their secrets (they are
the workspace's data), email sources without their passwords, and the outside senders
of mailed-in issues that are answered by mail (workspace exports only)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lightningtrack.models.integrations import EmailSource, Webhook
from lightningtrack.models.notifications import IssueSender
from lightningtrack.resolvers import ids, workspace_settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from lightningtrack.resolvers.exports import ArchiveWriter


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def webhook_record(workspace_id: uuid.UUID, row: Webhook) -> dict[str, Any]:
    return {
        "id": ids.encode_scoped("Webhook", workspace_id, row.id),
        "url": row.url,
        "events": [e for e in row.events.split(",") if e],
        "enabled": row.enabled,
        "disabledReason": row.disabled_reason,
        "secret": row.secret,
        "previousSecret": row.previous_secret,
        "previousSecretExpiresAt": _iso(row.previous_secret_expires_at),
        "createdAt": _iso(row.created_at),
        "updatedAt": _iso(row.updated_at),
    }


def email_source_record(workspace_id: uuid.UUID, row: EmailSource) -> dict[str, Any]:
    # Never the password, not even encrypted.
    return {
        "id": ids.encode_scoped("EmailSource", workspace_id, row.id),
        "name": row.name,
        "address": row.address,
        "projectId": ids.encode_scoped("Project", workspace_id, row.project_id),
        "imapHost": row.imap_host,
        "imapPort": row.imap_port,
        "username": row.username,
        "useTls": row.use_tls,
        "startTls": row.starttls,
        "notifySenders": row.notify_senders,
        "folder": row.folder,
        "enabled": row.enabled,
        "lastPolledAt": _iso(row.last_polled_at),
        "lastError": row.last_error,
        "createdAt": _iso(row.created_at),
        "updatedAt": _iso(row.updated_at),
    }


def issue_sender_record(workspace_id: uuid.UUID, row: IssueSender) -> dict[str, Any]:
    return {
        "issueId": ids.encode_scoped("Issue", workspace_id, row.issue_id),
        "name": row.name,
        "address": row.address,
        "messageId": row.message_id,
        "createdAt": _iso(row.created_at),
    }


async def _once(records: list[dict[str, Any]]) -> AsyncIterator[list[dict[str, Any]]]:
    yield records


async def write(
    writer: ArchiveWriter,
    workspace_id: uuid.UUID,
    prefix: str,
    *,
    with_webhooks: bool,
    with_senders: bool = False,
) -> None:
    """``settings.json``, ``email_sources.json`` and ``webhooks.json`` of the bound
    workspace (a few rows each: no need to stream them)."""
    await writer.array(f"{prefix}settings.json", _once([await workspace_settings.record()]))
    sources = await EmailSource.all().order_by("id")
    await writer.array(
        f"{prefix}email_sources.json",
        _once([email_source_record(workspace_id, s) for s in sources]),
    )
    hooks = await Webhook.all().order_by("id") if with_webhooks else []
    await writer.array(
        f"{prefix}webhooks.json", _once([webhook_record(workspace_id, h) for h in hooks])
    )
    if with_senders:
        senders = await IssueSender.all().order_by("id")
        await writer.array(
            f"{prefix}issue_senders.json",
            _once([issue_sender_record(workspace_id, s) for s in senders]),
        )
