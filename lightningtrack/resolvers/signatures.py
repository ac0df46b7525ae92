"""Standard Webhooks signatures: ``webhook-id``, ``webhook-timestamp`` and
``webhook-signature`` (``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``), one signature
per secret that is valid now, space-separated.

Signed here with the standard library; the tests verify with the specification's
reference implementation (the ``standardwebhooks`` package), so each checks the other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

from lightningtrack.models.integrations import Webhook

USER_AGENT = "LightningTrack-Webhooks/1"


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` with a ``whsec_`` secret."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.{body}".encode()
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signing_secrets(webhook: Webhook, now: datetime) -> list[str]:
    """The current secret, and the previous one while its 24 hours after a rotation last."""
    found = [webhook.secret]
    expires = webhook.previous_secret_expires_at
    if webhook.previous_secret and expires is not None and expires > now:
        found.append(webhook.previous_secret)
    return found


def headers(webhook: Webhook, message_id: str, body: str, now: datetime) -> dict[str, str]:
    # The wall clock, not clock.now(): receivers compare it with theirs (five minutes).
    timestamp = int(datetime.now(UTC).timestamp())
    signatures = " ".join(
        sign(s, message_id, timestamp, body) for s in signing_secrets(webhook, now)
    )
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
