"""A subscription set to end at the period's end (cancelled in the portal): shown as such,
usable until then, converging whatever the order of Stripe's events, then ended."""

from __future__ import annotations

from datetime import UTC, datetime

from lightningtrack import clock
from lightningtrack.models.landlord import Role, Workspace
from lightningtrack.settings import Settings
from tests.billing.conftest import StripeSide, billing_of, checkout, mail_kinds, stay_signed_in
from tests.retention.conftest import DAY, MakePerson, create_project, create_workspace, join


def at(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


async def test_a_subscription_set_to_end_stays_usable_and_ends_at_the_period_end(
    billing_settings: Settings, make_person: MakePerson, stripe_side: StripeSide
) -> None:
    fake = stripe_side.fake
    t0 = clock.now()
    clock.freeze(t0)
    owner = await make_person("Cleo")
    workspace = await create_workspace(owner, "Ending")
    guest = await make_person("Gil")
    await join(guest, workspace, Role.GUEST)
    other = await make_person("Otto")
    await create_workspace(other, "Staying")
    await stripe_side.deliver_all(fake.complete_checkout(await checkout(owner.client)))
    await stripe_side.deliver_all(fake.complete_checkout(await checkout(other.client)))
    row = await Workspace.get(id=workspace.id)
    assert row.stripe_customer_id is not None
    subscription = fake.subscription_of(row.stripe_customer_id)
    period_end = subscription["items"]["data"][0]["current_period_end"]
    assert (await billing_of(owner.client))["cancelAtPeriodEnd"] is False

    clock.freeze(t0 + 3 * DAY)
    await stripe_side.deliver_all(fake.set_to_end(subscription["id"]))
    ending = await billing_of(guest.client)  # any member sees it
    assert ending["status"] == "ACTIVE"
    assert ending["cancelAtPeriodEnd"] is True
    assert ending["cancelAt"] == ending["currentPeriodEnd"] == at(period_end)
    assert ending["cancelledAt"] is None and ending["deletionScheduledAt"] is None
    await create_project(owner)  # still writable until the period ends
    untouched = await billing_of(other.client)
    assert untouched["cancelAtPeriodEnd"] is False and untouched["cancelAt"] is None

    # Renewed, and the earlier event delivered late and again: Stripe's state wins.
    clock.freeze(t0 + 4 * DAY)
    scheduled = fake.event("customer.subscription.updated", fake.subscriptions[subscription["id"]])
    await stripe_side.deliver_all(fake.keep(subscription["id"]))
    await stripe_side.deliver_all([scheduled])
    kept = await billing_of(owner.client)
    assert kept["cancelAtPeriodEnd"] is False and kept["cancelAt"] is None

    clock.freeze(t0 + 5 * DAY)
    ended_events = fake.set_to_end(subscription["id"])
    clock.freeze(datetime.fromtimestamp(period_end, UTC))
    ended_events += fake.reach_period_end(subscription["id"])
    await stripe_side.deliver_all(reversed(ended_events))
    for person in (owner, other):
        await stay_signed_in(person)
    ended = await billing_of(owner.client)
    assert ended["status"] == "CANCELLED"
    assert ended["cancelAtPeriodEnd"] is False and ended["cancelAt"] is None
    assert ended["cancelledAt"] == at(period_end)
    assert ended["deletionScheduledAt"] == at(period_end + 30 * 86400)
    assert mail_kinds(billing_settings, owner.email) == sorted(
        ["billing_receipt", "billing_subscription_ended"]
    )
    assert (await billing_of(other.client))["status"] == "ACTIVE"


async def test_an_older_api_version_without_cancel_at_shows_the_period_end(
    make_person: MakePerson, stripe_side: StripeSide
) -> None:
    fake = stripe_side.fake
    owner = await make_person("Lea")
    workspace = await create_workspace(owner, "Legacy")
    await stripe_side.deliver_all(fake.complete_checkout(await checkout(owner.client)))
    row = await Workspace.get(id=workspace.id)
    assert row.stripe_customer_id is not None
    subscription = fake.subscription_of(row.stripe_customer_id)
    await stripe_side.deliver_all(fake.set_to_end(subscription["id"], legacy=True))
    billing = await billing_of(owner.client)
    assert billing["cancelAtPeriodEnd"] is True
    assert billing["cancelAt"] == at(subscription["items"]["data"][0]["current_period_end"])
