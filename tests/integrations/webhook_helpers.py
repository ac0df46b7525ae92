"""GraphQL documents and helpers of the webhook tests."""

from __future__ import annotations

import json
from typing import Any

from standardwebhooks.webhooks import Webhook as Verifier

from tests.conftest import Client
from tests.integrations.conftest import Received

WEBHOOK = "id url events enabled disabledReason secret createdAt"
DELIVERY = "id event status attempts responseStatus lastError createdAt lastAttemptAt nextAttemptAt"
WEBHOOK_CREATE = f"""
mutation($input: WebhookCreateInput!) {{
  webhookCreate(input: $input) {{ webhook {{ {WEBHOOK} }} }}
}}
"""
WEBHOOK_UPDATE = f"""
mutation($id: ID!, $input: WebhookUpdateInput!) {{
  webhookUpdate(id: $id, input: $input) {{ webhook {{ {WEBHOOK} }} }}
}}
"""
WEBHOOK_DELETE = "mutation($id: ID!) { webhookDelete(id: $id) { deletedId } }"
WEBHOOK_ROTATE = f"""
mutation($id: ID!) {{ webhookSecretRotate(id: $id) {{ webhook {{ {WEBHOOK} }} }} }}
"""
DELIVERY_RETRY = f"mutation($id: ID!) {{ webhookDeliveryRetry(id: $id) {{ {DELIVERY} }} }}"
WEBHOOKS = (
    f"{{ webhooks {{ {WEBHOOK} deliveries(first: 20) {{ totalCount nodes {{ {DELIVERY} }} }} }} }}"
)


async def create_webhook(client: Client, url: str, events: list[str]) -> dict[str, Any]:
    data = await client.gql(WEBHOOK_CREATE, {"input": {"url": url, "events": events}})
    webhook: dict[str, Any] = data["webhookCreate"]["webhook"]
    return webhook


async def deliveries(client: Client, webhook_id: str) -> list[dict[str, Any]]:
    for webhook in (await client.gql(WEBHOOKS))["webhooks"]:
        if webhook["id"] == webhook_id:
            found: list[dict[str, Any]] = webhook["deliveries"]["nodes"]
            return found
    raise AssertionError("no such webhook")


def verified(secret: str, request: Received) -> dict[str, Any]:
    """The body of a request whose signature the reference implementation accepts."""
    body: dict[str, Any] = Verifier(secret).verify(request.body, request.headers)
    assert body == json.loads(request.body)
    return body
