"""Webhooks and mailboxes with ``LT_BROKER_URL``: a real ``lightningtrack worker`` sends
the deliveries the API enqueued, and a retry due soon waits in Redis as a delayed job."""

from __future__ import annotations

from lightningtrack.settings import Settings
from tests.conftest import SIGN_UP, WORKSPACE_CREATE, unique
from tests.integrations.conftest import Receiver
from tests.integrations.imap_server import ImapServer
from tests.integrations.mail_helpers import create_source, issues_of, message
from tests.integrations.webhook_helpers import create_webhook, deliveries, verified
from tests.retention.test_worker import (
    PASSWORD,
    BrokerApp,
    eventually,
    worker_process,
)
from tests.retention.test_worker import broker_app as broker_app
from tests.retention.test_worker import broker_settings as broker_settings
from tests.tracking.conftest import create_project


async def test_a_worker_delivers_retries_and_polls(
    settings: Settings, broker_app: BrokerApp, receiver: Receiver, imap: ImapServer
) -> None:
    client = broker_app.client
    email = f"{unique('wes')}@example.com"
    await client.gql(SIGN_UP, {"input": {"name": "Wes", "email": email, "password": PASSWORD}})
    slug = unique("worker")
    await client.gql(WORKSPACE_CREATE, {"input": {"name": "W", "slug": slug}})
    client.workspace = slug
    hook = await create_webhook(client, receiver.url, ["PROJECT_CREATED", "ISSUE_CREATED"])
    receiver.answer(500)
    project = await create_project(client)
    source = await create_source(client, imap.mailbox, project["id"])
    raw, _ = message("Sent to the worker's mailbox")
    imap.mailbox.append(raw)

    def sent(kind: str) -> list[str]:
        return [
            r.headers["webhook-id"]
            for r in receiver.received
            if verified(hook["secret"], r)["type"] == kind
        ]

    async with worker_process(settings) as worker:
        # The first attempt fails; its retry (5 s on) is a delayed message in Redis.
        await eventually("a retried delivery", lambda: len(sent("project.created")) == 2, worker)

        async def polled() -> bool:
            return len(await issues_of(client, project["id"])) == 1

        await eventually("an issue from the mailbox", polled, worker)
        await eventually("the issue.created event", lambda: sent("issue.created"), worker)
    first, second = sent("project.created")
    assert first == second
    log = {d["event"]: d for d in await deliveries(client, hook["id"])}
    assert log["PROJECT_CREATED"]["attempts"] == 2
    assert log["PROJECT_CREATED"]["status"] == "SUCCEEDED"
    assert source["id"]
