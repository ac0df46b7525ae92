"""A whole subscription, driven through the fake Stripe: trial, checkout, receipt, a new
card, a failed payment, recovery, cancellation, and erasure 30 days later, each mail once."""

from __future__ import annotations

from datetime import UTC, datetime

from lightningtrack import clock
from lightningtrack.models.landlord import Role, Workspace, WorkspaceTombstone
from lightningtrack.settings import Settings
from tests.billing.conftest import (
    PROJECT_CREATE,
    StripeSide,
    besides_syncs,
    billing_of,
    checkout,
    mail_kinds,
    stay_signed_in,
)
from tests.billing.fake_stripe import Event
from tests.retention.conftest import (
    DAY,
    PROJECTS,
    MakePerson,
    Sweep,
    create_project,
    create_workspace,
    database_exists,
    join,
    outbox,
    text_of,
)


def at_second(moment: datetime) -> datetime:
    """Stripe's timestamps are whole seconds."""
    return datetime.fromtimestamp(int(moment.timestamp()), UTC)


async def test_a_subscription_from_trial_to_erasure(
    billing_settings: Settings,
    make_person: MakePerson,
    stripe_side: StripeSide,
    sweep: Sweep,
) -> None:
    settings = billing_settings
    fake = stripe_side.fake
    t0 = clock.now()
    clock.freeze(t0)
    owner = await make_person("Olga")
    workspace = await create_workspace(owner, "Story")
    project = await create_project(owner)
    guest = await make_person("Gus")
    await join(guest, workspace, Role.GUEST)
    delivered: list[Event] = []

    async def move_to(moment: datetime) -> None:
        clock.freeze(moment)
        for person in (owner, guest):
            await stay_signed_in(person)

    async def deliver(events: list[Event]) -> None:
        await stripe_side.deliver_all(events)
        delivered.extend(events)

    trial = await billing_of(guest.client)
    assert trial == {
        "plan": None,
        "status": "TRIALING",
        "trialEndsAt": (t0 + 14 * DAY).isoformat(),
        "currentPeriodEnd": None,
        "cancelledAt": None,
        "cancelAtPeriodEnd": False,
        "cancelAt": None,
        "deletionScheduledAt": None,
        "cardLast4": None,
    }

    # The trial reminder, then a checkout the day before the trial ends.
    t1 = t0 + 13 * DAY
    await move_to(t1)
    await sweep(t1)
    assert mail_kinds(settings, owner.email) == ["trial_ending"]
    first = await checkout(owner.client)
    again = await checkout(owner.client)
    assert first != again
    # One customer, created with the workspace's idempotency key; the second checkout
    # reuses the stored id.
    key = f"lightningtrack-customer-{workspace.id}"
    assert len([r for r in fake.created_customers() if r.idempotency_key == key]) == 1
    row = await Workspace.get(id=workspace.id)
    mine = [
        c for c in fake.customers.values() if c.get("metadata") == {"workspace_id": str(row.id)}
    ]
    assert [c["id"] for c in mine] == [row.stripe_customer_id]
    assert row.stripe_customer_id is not None
    # Nothing changes until Stripe says so.
    assert (await billing_of(owner.client))["status"] == "TRIALING"

    await deliver(fake.complete_checkout(again, last4="4242"))
    subscription = fake.subscription_of(row.stripe_customer_id)
    # Each event made the server read the subscription from Stripe again.
    reads = [r for r in fake.requests if r.path == f"/v1/subscriptions/{subscription['id']}"]
    assert len(reads) >= 4 and all(r.method == "GET" for r in reads)
    paid = await billing_of(guest.client)
    assert paid == {
        "plan": "BUSINESS",
        "status": "ACTIVE",
        "trialEndsAt": (t0 + 14 * DAY).isoformat(),
        "currentPeriodEnd": (at_second(t1) + 30 * DAY).isoformat(),
        "cancelledAt": None,
        "cancelAtPeriodEnd": False,
        "cancelAt": None,
        "deletionScheduledAt": None,
        "cardLast4": "4242",
    }
    [receipt] = outbox(settings, owner.email, "billing_receipt")
    body = text_of(receipt)
    assert "29.00 USD" in body
    assert f"{t1:%Y-%m-%d} to {t1 + 30 * DAY:%Y-%m-%d}" in body
    assert outbox(settings, guest.email, "billing_receipt") == []  # owners only

    # The trial's end passes unnoticed: the workspace is paid for.
    assert besides_syncs(await sweep(t0 + 14 * DAY), workspace.slug) == []
    assert (await Workspace.get(id=workspace.id)).status == "ACTIVE"
    await move_to(t0 + 14 * DAY)

    await move_to(t1 + 5 * DAY)
    await deliver(fake.change_card(row.stripe_customer_id, "5556"))
    assert (await billing_of(guest.client))["cardLast4"] == "5556"

    # The renewal is declined: past due, the owners told once, the workspace still usable.
    t2 = t1 + 30 * DAY
    await move_to(t2)
    await deliver(fake.fail_renewal(subscription["id"]))
    due = await billing_of(owner.client)
    assert due["status"] == "PAST_DUE"
    assert due["currentPeriodEnd"] == (at_second(t1) + 60 * DAY).isoformat()
    [failed] = outbox(settings, owner.email, "billing_payment_failed")
    assert "29.00 USD" in text_of(failed)
    await create_project(owner)

    t3 = t2 + 3 * DAY
    await move_to(t3)
    await deliver(fake.recover(subscription["id"]))
    assert (await billing_of(owner.client))["status"] == "ACTIVE"
    assert len(outbox(settings, owner.email, "billing_receipt")) == 2

    # Cancelled: read-only at once, erasure 30 days later.
    t4 = t3 + 2 * DAY
    await move_to(t4)
    await deliver(fake.cancel(subscription["id"]))
    cancelled = await billing_of(guest.client)
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["cancelledAt"] == at_second(t4).isoformat()
    assert cancelled["deletionScheduledAt"] == (at_second(t4) + 30 * DAY).isoformat()
    error = await owner.client.error(PROJECT_CREATE, {"input": {"key": "NOPE", "name": "No"}})
    assert error["extensions"]["code"] == "PAYMENT_REQUIRED"
    assert project in (await owner.client.gql(PROJECTS))["projects"]["nodes"]
    [ended] = outbox(settings, owner.email, "billing_subscription_ended")
    assert f"{at_second(t4) + 30 * DAY:%Y-%m-%d %H:%M} UTC" in text_of(ended)

    # Stripe delivering everything again changes nothing and sends nothing.
    before = mail_kinds(settings, owner.email)
    for event in delivered:
        response = await stripe_side.deliver(event)
        assert response.status_code == 200 and response.json()["message"] == "Already handled."
    assert await billing_of(guest.client) == cancelled
    assert mail_kinds(settings, owner.email) == before

    deletion = at_second(t4) + 30 * DAY
    assert besides_syncs(await sweep(deletion - 8 * DAY), workspace.slug) == []
    week = besides_syncs(await sweep(deletion - 7 * DAY), workspace.slug)
    assert week == [f"cancelled workspace reminder: {workspace.slug}"]
    assert besides_syncs(await sweep(deletion - 7 * DAY), workspace.slug) == []
    assert besides_syncs(await sweep(deletion - DAY), workspace.slug) == [
        f"workspace deletion reminder: {workspace.slug}"
    ]
    assert await database_exists(settings, workspace)
    assert besides_syncs(await sweep(deletion), workspace.slug) == [
        f"erase workspace: {workspace.slug}"
    ]
    assert not await Workspace.exists(id=workspace.id)
    assert await WorkspaceTombstone.exists(id=workspace.id)
    assert not await database_exists(settings, workspace)
    # Its Stripe customer goes too, and Stripe's events about that find nothing to do.
    assert fake.customers[row.stripe_customer_id].get("deleted") is True
    await stripe_side.deliver_all(
        [e for e in fake.pending_events if e["data"]["object"].get("id") == row.stripe_customer_id]
    )

    assert mail_kinds(settings, owner.email) == sorted(
        [
            "trial_ending",
            "billing_receipt",
            "billing_receipt",
            "billing_payment_failed",
            "billing_subscription_ended",
            "billing_cancellation_reminder",
            "workspace_deletion_reminder",
        ]
    )
    [reminder] = outbox(settings, owner.email, "billing_cancellation_reminder")
    assert f"{deletion:%Y-%m-%d %H:%M} UTC" in text_of(reminder)
    assert mail_kinds(settings, guest.email) == []
