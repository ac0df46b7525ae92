"""The integration lists cost the same number of SQL statements for one row as for many."""

from __future__ import annotations

from lightningtrack.jobs.runner import InProcessRunner
from tests.conftest import Client, statements
from tests.integrations.mail_helpers import SOURCES, create_source
from tests.integrations.test_email_source_access import NOWHERE
from tests.integrations.webhook_helpers import create_webhook
from tests.tracking.conftest import create_project

WEBHOOKS = "{ webhooks { id url events enabled disabledReason secret createdAt } }"


async def test_email_sources_and_webhooks_lists(owner: Client, jobs: InProcessRunner) -> None:
    project = await create_project(owner)
    await create_source(owner, NOWHERE, project["id"])
    await create_webhook(owner, "http://127.0.0.1:9/a", ["ISSUE_CREATED"])
    await jobs.drain()  # the first polls of the new sources (nothing to reach on port 9)
    await owner.gql(SOURCES)  # warm up: session touch, pools
    with statements() as one_source:
        await owner.gql(SOURCES)
    with statements() as one_hook:
        await owner.gql(WEBHOOKS)
    for n in range(4):
        other = await create_project(owner)
        await create_source(owner, NOWHERE, other["id"], name=f"S{n}")
        await create_webhook(owner, f"http://127.0.0.1:9/{n}", ["ISSUE_CREATED"])
    await jobs.drain()
    with statements() as five_sources:
        found = await owner.gql(SOURCES)
    with statements() as five_hooks:
        hooks = await owner.gql(WEBHOOKS)
    assert len(found["emailSources"]) == 5 and len(hooks["webhooks"]) == 5
    assert len(one_source) == len(five_sources), "\n".join(five_sources)
    assert len(one_hook) == len(five_hooks), "\n".join(five_hooks)
