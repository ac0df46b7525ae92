"""The tasks jobs run, by name. Each finds its truth in the database and is idempotent."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from lightningtrack.backups import backup
from lightningtrack.jobs.mailer import send_email
from lightningtrack.resolvers import (
    accounts,
    deliveries,
    erasure,
    exports,
    notifications,
    poller,
    retention,
)
from lightningtrack.settings import Settings
from lightningtrack.tenancy.runtime import Tenancy

Task = Callable[..., Awaitable[Any]]


async def _send_email(settings: Settings, tenancy: Tenancy, email_id: str) -> None:
    await send_email(settings, email_id)


async def _password_reset_request(settings: Settings, tenancy: Tenancy, email: str) -> None:
    await accounts.request_password_reset(settings, email)


async def _run_export(settings: Settings, tenancy: Tenancy, export_id: str) -> None:
    await exports.build(settings, tenancy, uuid.UUID(export_id))


async def _erase_workspace(settings: Settings, tenancy: Tenancy, workspace_id: str) -> None:
    await erasure.erase_workspace(settings, tenancy, uuid.UUID(workspace_id))


async def _erase_account(settings: Settings, tenancy: Tenancy, account_id: str) -> None:
    await erasure.erase_account(settings, tenancy, uuid.UUID(account_id))


async def _sweep(settings: Settings, tenancy: Tenancy) -> None:
    await retention.run(settings, tenancy)


async def _backup_run(settings: Settings, tenancy: Tenancy) -> None:
    # A database that fails is logged and counted, and the next sweep finds it still due.
    await backup.run(settings, due_only=True)


async def _deliver_webhooks(
    settings: Settings, tenancy: Tenancy, message: int | None = None
) -> None:
    await deliveries.deliver_due(settings, message)


async def _poll_email_sources(settings: Settings, tenancy: Tenancy) -> None:
    await poller.poll_due(settings)


async def _send_notifications(settings: Settings, tenancy: Tenancy) -> None:
    await notifications.send_due(settings)


TASKS: dict[str, Task] = {
    "poll_email_sources": _poll_email_sources,
    "send_notifications": _send_notifications,
    "deliver_webhooks": _deliver_webhooks,
    "send_email": _send_email,
    "password_reset_request": _password_reset_request,
    "run_export": _run_export,
    "erase_workspace": _erase_workspace,
    "erase_account": _erase_account,
    "sweep": _sweep,
    "backup_run": _backup_run,
}
