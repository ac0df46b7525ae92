"""Sending webhook deliveries: signed, timed out, retried, and endpoints disabled.

Each attempt claims its row first (a second job for it finds it not due), signs the
stored body per the Standard Webhooks specification and POSTs it to the address that
``targets.pick`` checked. A 2xx answer succeeds. Anything else is retried on the
schedule below, with jitter, for about three days (a ``Retry-After`` answer moves the
next attempt to when the receiver asked): by a delayed job when it is due before the
next sweep, else by the sweep. A 410 disables the endpoint at once, and an
endpoint whose every attempt failed for five days is disabled and its admins told.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import ssl
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

import httpx
from tortoise.functions import Min

from lightningtrack import clock
from lightningtrack.models.integrations import (
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    WebhookMessage,
)
from lightningtrack.models.landlord import Membership, Role, Workspace
from lightningtrack.resolvers import mail, schedule, signatures, targets
from lightningtrack.resolvers.effects import defer_later
from lightningtrack.resolvers.targets import TargetRefused
from lightningtrack.tenancy.binding import bound_workspace_id

if TYPE_CHECKING:
    from lightningtrack.settings import Settings

log = logging.getLogger(__name__)

TIMEOUT = 15.0
CLAIM = timedelta(seconds=60)
# Seconds to wait after each failed attempt: 13 attempts over about 2.8 days.
BACKOFF = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 43200, 57600, 86400)
JITTER = 0.2
MAX_RETRY_AFTER = 86400
DISABLE_AFTER = timedelta(days=5)
LOG_RETENTION = timedelta(days=30)
BATCH = 100
CONCURRENCY = 8
_random = random.SystemRandom()


def retry_after(response: httpx.Response) -> float | None:
    """Seconds a ``Retry-After`` header asks for (a number or an HTTP date), if any."""
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    if raw.isdigit():
        return min(float(raw), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - datetime.now(UTC)).total_seconds(), 0.0), MAX_RETRY_AFTER)


async def post(
    settings: Settings, client: httpx.AsyncClient, url: str, body: str, sent: dict[str, str]
) -> httpx.Response:
    target = await targets.pick(settings, url)
    request = client.build_request(
        "POST",
        target.url,
        content=body.encode(),
        headers={**sent, "host": target.host},
        extensions={"sni_hostname": target.server_name} if target.server_name else {},
    )
    async with asyncio.timeout(TIMEOUT):
        # Streamed and closed unread: only the status matters, and a receiver's answer,
        # however large, is never loaded.
        response = await client.send(request, stream=True)
        await response.aclose()
    return response


@functools.cache
def _tls() -> ssl.SSLContext:
    # Loading the CA bundle takes about 25 ms: once per process, not once per job.
    return httpx.create_ssl_context()


def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(TIMEOUT), follow_redirects=False, trust_env=False, verify=_tls()
    )


async def deliver_due(settings: Settings, message: int | None = None) -> int:
    """Attempt the bound workspace's deliveries that are due (of one message, or all);
    then settle the workspace's schedule hint. Returns the number attempted."""
    workspace_id = bound_workspace_id()
    seen = await schedule.version(workspace_id, schedule.WEBHOOKS)
    now = clock.now()
    due = WebhookDelivery.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    if message is not None:
        due = due.filter(message_id=message)
    rows = (
        await due.order_by("next_attempt_at", "id")
        .limit(BATCH)
        .select_related("webhook", "message")
    )
    if rows:
        # A few at once: one endpoint that hangs for its 15 s must not hold up the rest.
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(row: WebhookDelivery) -> None:
            async with gate:
                try:
                    await attempt(settings, client, row)
                except Exception:  # one bad delivery must not hold up the others
                    log.exception("webhook delivery %s failed unexpectedly", row.id)

        async with _client() as client:
            await asyncio.gather(*(one(row) for row in rows))
    await schedule.settle(workspace_id, schedule.WEBHOOKS, seen, await next_due())
    return len(rows)


async def next_due() -> datetime | None:
    """When the bound workspace next has webhook work: a retry, or log pruning."""
    pending = (
        await WebhookDelivery.filter(status=DeliveryStatus.PENDING)
        .annotate(at=Min("next_attempt_at"))
        .values("at")
    )
    oldest = await WebhookMessage.all().annotate(at=Min("created_at")).values("at")
    moments = [r["at"] for r in pending if r["at"] is not None]
    # Deliveries are never older than their message: its age says when pruning is due.
    moments += [r["at"] + LOG_RETENTION for r in oldest if r["at"] is not None]
    return min(moments) if moments else None


async def attempt(settings: Settings, client: httpx.AsyncClient, row: WebhookDelivery) -> None:
    now = clock.now()
    claimed = await WebhookDelivery.filter(
        id=row.id, status=DeliveryStatus.PENDING, next_attempt_at=row.next_attempt_at
    ).update(next_attempt_at=now + CLAIM)
    if not claimed:
        return
    webhook = await Webhook.get_or_none(id=row.webhook_id)
    if webhook is None:
        return
    if not webhook.enabled:
        await WebhookDelivery.filter(id=row.id).update(
            status=DeliveryStatus.FAILED,
            next_attempt_at=None,
            last_error="The endpoint is disabled.",
        )
        return
    message = row.message
    status: int | None = None
    error: str | None = None
    wait: float | None = None
    try:
        response = await post(
            settings,
            client,
            webhook.url,
            message.body,
            signatures.headers(webhook, message.message_id, message.body, now),
        )
        status = response.status_code
        if not 200 <= status < 300:
            error = f"HTTP {status}"
            wait = retry_after(response)
    except TargetRefused as refusal:
        error = str(refusal)
    except TimeoutError:
        error = f"No answer within {TIMEOUT:.0f} seconds."
    except httpx.HTTPError as failure:
        error = f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__
    await _record(row, webhook, now, status, error, wait, settings.sweep_interval_seconds)


async def _record(
    row: WebhookDelivery,
    webhook: Webhook,
    started: datetime,
    status: int | None,
    error: str | None,
    wait: float | None,
    sweep_interval: int,
) -> None:
    now = clock.now()
    attempts = row.attempts + 1
    base = {"attempts": attempts, "response_status": status, "last_attempt_at": now}
    if error is None:
        await WebhookDelivery.filter(id=row.id).update(
            **base, status=DeliveryStatus.SUCCEEDED, next_attempt_at=None, last_error=None
        )
        if webhook.failing_since is not None:
            await Webhook.filter(id=webhook.id).update(failing_since=None)
        return
    gone = status == 410
    retries_left = attempts <= len(BACKOFF) and now - row.created_at < timedelta(days=4)
    if gone or not retries_left:
        await WebhookDelivery.filter(id=row.id).update(
            **base, status=DeliveryStatus.FAILED, next_attempt_at=None, last_error=error[:300]
        )
    else:
        delay = BACKOFF[attempts - 1] * _random.uniform(1 - JITTER, 1 + JITTER)
        if wait is not None:
            delay = max(wait, 1.0)
        await WebhookDelivery.filter(id=row.id).update(
            **base,
            status=DeliveryStatus.PENDING,
            next_attempt_at=now + timedelta(seconds=delay),
            last_error=error[:300],
        )
        if delay < sweep_interval:
            # Sooner than the sweep comes by: a job of its own, one per failed attempt.
            defer_later(
                delay + 0.5, "deliver_webhooks", bound_workspace_id(), message=row.message_id
            )
    failing_since = webhook.failing_since or started
    if webhook.failing_since is None:
        await Webhook.filter(id=webhook.id, failing_since=None).update(failing_since=started)
    if gone:
        await disable(webhook, "The endpoint answered 410 Gone.")
    elif now - failing_since >= DISABLE_AFTER:
        days = DISABLE_AFTER.days
        await disable(webhook, f"Every delivery failed for {days} days (last: {error[:120]}).")


async def disable(webhook: Webhook, reason: str) -> None:
    """Turn the endpoint off (once) and tell the workspace's admins and owners."""
    turned_off = await Webhook.filter(id=webhook.id, enabled=True).update(
        enabled=False, disabled_reason=reason[:300]
    )
    if not turned_off:
        return
    workspace = await Workspace.get_or_none(id=bound_workspace_id())
    if workspace is None:
        return
    admins = await Membership.filter(
        workspace_id=workspace.id, role__in=[Role.OWNER, Role.ADMIN]
    ).select_related("account")
    message = disabled_mail(workspace.name, webhook.url, reason)
    stamp = clock.now().isoformat()
    for membership in admins:
        await mail.queue(
            membership.account.email,
            message,
            dedupe_key=f"webhook-disabled:{workspace.id}:{webhook.id}:{stamp}:{membership.account_id}",
        )


async def prune(now: datetime) -> int:
    """Delete the bound workspace's delivery log older than 30 days."""
    cutoff = now - LOG_RETENTION
    deleted = await WebhookDelivery.filter(created_at__lte=cutoff).delete()
    await WebhookMessage.filter(created_at__lte=cutoff).delete()
    return int(deleted)


def disabled_mail(workspace_name: str, url: str, reason: str) -> mail.Mail:
    return mail.Mail(
        "webhook_disabled",
        f"A webhook of {workspace_name} was disabled",
        (
            f"The webhook to {url} in the workspace {workspace_name} was disabled: {reason}",
            "No events are sent to it until an admin enables it again (webhookUpdate with "
            "enabled: true). Failed deliveries can be sent again with webhookDeliveryRetry.",
        ),
    )
