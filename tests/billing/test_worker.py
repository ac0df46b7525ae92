"""Billing in a ``lightningtrack worker`` process: its sweep reaches Stripe on the worker's
own event loop, and the worker closes that Stripe client when it stops."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator

import pytest

from lightningtrack import clock
from lightningtrack.models.landlord import EmailMessage, EmailStatus, Workspace, WorkspaceStatus
from lightningtrack.resolvers.retention import workspace_reminder_key
from lightningtrack.settings import Settings
from tests.billing.conftest import PRICE_BUSINESS, PRICE_STANDARD, checkout
from tests.billing.fake_stripe import FakeStripe
from tests.retention.conftest import DAY, MakePerson, create_workspace
from tests.retention.test_worker import WAIT, eventually, flush, worker_process


@pytest.fixture
async def stripe_env(
    billing_settings: Settings, fake_stripe: FakeStripe
) -> AsyncIterator[dict[str, str]]:
    """The worker's billing configuration, against the fake Stripe; Redis emptied around."""
    assert billing_settings.stripe_webhook_secret is not None
    await flush()
    yield {
        "LT_STRIPE_API_KEY": fake_stripe.api_key,
        "LT_STRIPE_WEBHOOK_SECRET": billing_settings.stripe_webhook_secret,
        "LT_STRIPE_API_BASE": fake_stripe.url,
        "LT_STRIPE_PRICE_STANDARD": PRICE_STANDARD,
        "LT_STRIPE_PRICE_BUSINESS": PRICE_BUSINESS,
    }
    await flush()


async def test_the_worker_closes_its_stripe_client_when_it_stops(
    settings: Settings,
    make_person: MakePerson,
    fake_stripe: FakeStripe,
    stripe_env: dict[str, str],
) -> None:
    owner = await make_person("Wim")
    workspace = await create_workspace(owner, "Closing")
    await checkout(owner.client)  # creates the workspace's Stripe customer
    # Due for erasure with its reminder sent: the worker's first sweep erases it, and
    # erasing deletes the Stripe customer, through the worker's Stripe client.
    due = clock.now() - DAY
    await Workspace.filter(id=workspace.id).update(
        status=WorkspaceStatus.PENDING_DELETION,
        status_before_deletion=WorkspaceStatus.TRIALING,
        deletion_scheduled_at=due,
    )
    row = await Workspace.get(id=workspace.id)
    customer = row.stripe_customer_id
    assert customer is not None
    await EmailMessage.create(
        id=uuid.uuid4(),
        kind="workspace_deletion_reminder",
        dedupe_key=f"{workspace_reminder_key(row)}:{owner.account_id}",
        to_address=owner.email,
        subject="Reminder",
        text_body="Reminder\n",
        html_body="<p>Reminder</p>",
        status=EmailStatus.SENT,
        next_attempt_at=due,
        sent_at=due,
    )

    async with worker_process(settings, **stripe_env) as worker:
        await eventually(
            "the Stripe customer deleted by the worker's sweep",
            lambda: fake_stripe.customers[customer].get("deleted") is True,
            worker,
        )
        await eventually("the erasure recorded", lambda: _gone(workspace.id), worker)
        assert not worker.logged("closed 1 Stripe client(s)")
        worker.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(worker.process.wait(), WAIT)
    assert code == 0, "".join(worker.log)
    assert worker.logged("closed 1 Stripe client(s)"), "".join(worker.log)


async def _gone(workspace_id: uuid.UUID) -> bool:
    return not await Workspace.exists(id=workspace_id)
