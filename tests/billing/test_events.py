"""Stripe's events in any order, repeated, concurrent or forged: the workspace ends where
the ordered stream leaves it, each mail goes out once, and forgeries change nothing."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from lightningtrack import clock
from lightningtrack.models.landlord import StripeEvent, Workspace
from lightningtrack.settings import Settings
from tests.billing.conftest import (
    StripeSide,
    billing_of,
    checkout,
    mail_kinds,
    stay_signed_in,
)
from tests.billing.fake_stripe import Event, FakeStripe, sign
from tests.retention.conftest import DAY, MakePerson, Person, create_workspace

SEED = 20260101
Deliver = Callable[[list[Event]], Awaitable[None]]


async def play_story(
    person: Person, fake: FakeStripe, moments: list[datetime], deliver: Deliver
) -> list[Event]:
    """Checkout, a new card, a declined renewal, recovery and cancellation, at ``moments``;
    ``deliver`` is given each step's events as they happen. Returns them all."""
    events: list[Event] = []

    async def step(moment: datetime, action: Callable[[], list[Event]]) -> None:
        clock.freeze(moment)
        produced = action()
        events.extend(produced)
        await deliver(produced)

    clock.freeze(moments[0])
    await stay_signed_in(person)
    session = await checkout(person.client, "STANDARD")
    await step(moments[0], lambda: fake.complete_checkout(session, "4242"))
    row = await Workspace.get(slug=person.client.workspace)
    assert row.stripe_customer_id is not None
    customer = row.stripe_customer_id
    subscription = fake.subscription_of(customer)["id"]
    await step(moments[1], lambda: fake.change_card(customer, "3222"))
    await step(moments[2], lambda: fake.fail_renewal(subscription))
    await step(moments[3], lambda: fake.recover(subscription))
    await step(moments[4], lambda: fake.cancel(subscription))
    return events


def forgeries(event: Event, secret: str, other_customer: str) -> list[tuple[bytes, str | None]]:
    """Ways to fake this event: each must be refused with 400 and leave no trace."""
    payload = json.dumps(event).encode()
    now = int(time.time())
    tampered = json.loads(payload)
    obj = tampered["data"]["object"]
    if "customer" in obj:
        obj["customer"] = other_customer  # pointed at another workspace
    obj["status"] = "active"
    signed = sign(payload, secret)
    return [
        (payload, sign(payload, "whsec_" + "0" * 32)),  # another endpoint's secret
        (json.dumps(tampered).encode(), signed),  # changed after signing
        (payload, sign(payload, secret, now - 301)),  # too old: a replay
        (payload, None),  # unsigned
        (payload, "t=notanumber,v1=00"),
        (payload, signed.replace("v1=", "v0=")),  # not Stripe's scheme
    ]


async def test_shuffled_repeated_and_forged_events_end_like_the_ordered_stream(
    billing_settings: Settings,
    make_person: MakePerson,
    stripe_side: StripeSide,
) -> None:
    fake = stripe_side.fake
    t0 = clock.now()
    moments = [t0 + d * DAY for d in (1, 4, 31, 33, 40)]
    clock.freeze(t0)
    ordered_owner = await make_person("Orla")
    ordered = await create_workspace(ordered_owner, "Ordered")
    shuffled_owner = await make_person("Sam")
    shuffled = await create_workspace(shuffled_owner, "Shuffled")

    await play_story(ordered_owner, fake, moments, stripe_side.deliver_all)

    async def hold(events: list[Event]) -> None:
        return None

    clock.freeze(t0)
    events = await play_story(shuffled_owner, fake, moments, hold)
    for person in (ordered_owner, shuffled_owner):
        await stay_signed_in(person)
    assert (await billing_of(shuffled_owner.client))["status"] == "TRIALING"  # none delivered

    rng = random.Random(SEED)
    stream = [e for e in events for _ in range(rng.randint(1, 3))]
    rng.shuffle(stream)
    other = (await Workspace.get(id=ordered.id)).stripe_customer_id
    assert other is not None
    before_forged = await billing_of(ordered_owner.client)
    for event in events:  # every forgery before the genuine event it imitates
        for payload, signature in forgeries(event, stripe_side.secret, other):
            response = await stripe_side.post(payload, signature)
            assert response.status_code == 400, (event["type"], response.text)
    assert not await StripeEvent.filter(id__in=[e["id"] for e in events]).exists()
    assert (await billing_of(shuffled_owner.client))["status"] == "TRIALING"
    assert await billing_of(ordered_owner.client) == before_forged

    # Delivered four at a time, concurrently, in the shuffled order.
    for start in range(0, len(stream), 4):
        batch = stream[start : start + 4]
        responses = await asyncio.gather(*(stripe_side.deliver(e) for e in batch))
        assert [r.status_code for r in responses] == [200] * len(batch)

    expected = await billing_of(ordered_owner.client)
    assert expected["status"] == "CANCELLED" and expected["plan"] == "STANDARD"
    assert expected["cardLast4"] == "3222"
    assert await billing_of(shuffled_owner.client) == expected
    assert mail_kinds(billing_settings, shuffled_owner.email) == mail_kinds(
        billing_settings, ordered_owner.email
    )
    assert mail_kinds(billing_settings, shuffled_owner.email) == sorted(
        [
            "billing_receipt",
            "billing_receipt",
            "billing_payment_failed",
            "billing_subscription_ended",
        ]
    )
    handled = await StripeEvent.filter(id__in=[e["id"] for e in events]).count()
    assert handled == len(events)
    assert shuffled.id != ordered.id


async def test_a_forged_cancellation_is_refused_and_a_genuine_event_is_not_trusted_blindly(
    make_person: MakePerson, stripe_side: StripeSide
) -> None:
    """The event is a prompt to read Stripe, never the truth: even a correctly signed event
    claiming a cancellation leaves a workspace that Stripe says is paid up ACTIVE."""
    fake = stripe_side.fake
    owner = await make_person("Fay")
    await create_workspace(owner, "Forged")
    session = await checkout(owner.client)
    await stripe_side.deliver_all(fake.complete_checkout(session))
    row = await Workspace.get(slug=owner.client.workspace)
    assert row.stripe_customer_id is not None
    subscription = fake.subscription_of(row.stripe_customer_id)
    claim = {**subscription, "status": "canceled", "ended_at": int(time.time())}
    lie = fake.event("customer.subscription.deleted", claim)
    payload = json.dumps(lie).encode()

    for signature in (sign(payload, "whsec_wrong"), sign(payload, stripe_side.secret, 1)):
        response = await stripe_side.post(payload, signature)
        assert response.status_code == 400
    assert not await StripeEvent.exists(id=lie["id"])
    assert (await billing_of(owner.client))["status"] == "ACTIVE"

    response = await stripe_side.deliver(lie)
    assert response.status_code == 200
    assert (await billing_of(owner.client))["status"] == "ACTIVE"


async def test_one_event_delivered_five_times_at_once_sends_one_receipt(
    billing_settings: Settings, make_person: MakePerson, stripe_side: StripeSide
) -> None:
    fake = stripe_side.fake
    owner = await make_person("Ida")
    await create_workspace(owner, "Once")
    session = await checkout(owner.client)
    events = fake.complete_checkout(session)
    [paid] = [e for e in events if e["type"] == "invoice.paid"]
    responses = await asyncio.gather(*(stripe_side.deliver(paid) for _ in range(5)))
    assert [r.status_code for r in responses] == [200] * 5
    assert mail_kinds(billing_settings, owner.email) == ["billing_receipt"]
    assert await StripeEvent.filter(id=paid["id"]).count() == 1
    assert (await billing_of(owner.client))["status"] == "ACTIVE"


async def test_bad_payloads_answer_400(stripe_side: StripeSide) -> None:
    for payload in (b"not json", b"[]", b'{"object": "event"}', "\u00e9".encode("latin-1")):
        response = await stripe_side.post(payload, sign(payload, stripe_side.secret))
        assert response.status_code == 400, payload
    unknown: dict[str, Any] = stripe_side.fake.event("balance.available", {"object": "balance"})
    response = await stripe_side.deliver(unknown)
    assert response.status_code == 200
    assert await StripeEvent.exists(id=unknown["id"])
