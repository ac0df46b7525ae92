"""Billing fixtures: a fake Stripe on a loopback port, the app configured against it, and
the test's side of Stripe (signing and delivering events).

The app here is the real one with billing on: ``LT_STRIPE_API_BASE`` points at the fake,
whose prices stand for the two plans. Jobs (mail) run on the test's loop and are drained
after each delivery and sweep, so the outbox shows what was sent.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from lightningtrack import clock
from lightningtrack.app import create_app
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.resolvers import retention
from lightningtrack.resolvers.billing import gateway
from lightningtrack.resolvers.billing.reconciliation import KIND as SYNC
from lightningtrack.resolvers.effects import collecting
from lightningtrack.resolvers.retention import Action
from lightningtrack.settings import DatabaseURL, Settings
from lightningtrack.tenancy.runtime import Tenancy
from tests import clusters
from tests.billing.fake_stripe import Event, FakeStripe, sign
from tests.conftest import Client
from tests.retention.conftest import Person, Sweep, kinds
from tests.retention.conftest import make_person as make_person

PRICE_STANDARD = "price_lt_standard_monthly"
PRICE_BUSINESS = "price_lt_business_monthly"
BILLING_FIELDS = (
    "plan status trialEndsAt currentPeriodEnd cancelledAt cancelAtPeriodEnd cancelAt "
    "deletionScheduledAt cardLast4"
)
BILLING = f"{{ billing {{ {BILLING_FIELDS} }} }}"
CHECKOUT = "mutation($plan: Plan!) { checkoutSessionCreate(plan: $plan) { url } }"
PORTAL = "mutation { billingPortalSessionCreate { url } }"
PROJECT_CREATE = """
mutation($input: ProjectCreateInput!) { projectCreate(input: $input) { project { id key } } }
"""


@pytest.fixture(scope="session")
def fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe(
        api_key=f"sk_test_{secrets.token_hex(12)}",
        prices={PRICE_STANDARD: (1200, "usd"), PRICE_BUSINESS: (2900, "usd")},
    )
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session", autouse=True)
async def _stripe_clients() -> AsyncIterator[None]:
    """The server keeps one Stripe client per event loop; the run's loop closes it last."""
    yield
    await gateway.close()


@pytest.fixture(scope="session")
def eu_server() -> Iterator[DatabaseURL]:
    """A second PostgreSQL server for the EU region, for the whole run."""
    reason = clusters.unavailable_reason()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"a second PostgreSQL cluster is needed: {reason}")
        pytest.skip(reason)
    with clusters.postgres_cluster() as url:
        yield DatabaseURL.parse("LT_REGIONS", url)


@pytest.fixture(scope="session")
def billing_settings(settings: Settings, fake_stripe: FakeStripe) -> Settings:
    return dataclasses.replace(
        settings,
        stripe_api_key=fake_stripe.api_key,
        stripe_webhook_secret=f"whsec_{secrets.token_hex(16)}",
        stripe_api_base=fake_stripe.url,
        stripe_price_standard=PRICE_STANDARD,
        stripe_price_business=PRICE_BUSINESS,
    )


@pytest.fixture(scope="session")
async def billing_jobs(
    billing_settings: Settings, tenancy: Tenancy
) -> AsyncIterator[InProcessRunner]:
    runner = InProcessRunner(billing_settings, tenancy)
    yield runner
    await runner.close()


@pytest.fixture(scope="session")
async def app(billing_settings: Settings, tenancy: Tenancy, billing_jobs: InProcessRunner) -> Any:
    """The application with billing on (every client of these tests talks to it)."""
    return create_app(billing_settings, tenancy, billing_jobs)


@pytest.fixture
def sweep(billing_settings: Settings, tenancy: Tenancy, billing_jobs: InProcessRunner) -> Sweep:
    async def run(moment: datetime) -> list[Action]:
        clock.freeze(moment)
        with collecting() as deferred:
            actions = await retention.run(billing_settings, tenancy)
        await billing_jobs.submit(deferred)
        await billing_jobs.drain()
        return actions

    return run


@dataclasses.dataclass
class StripeSide:
    """What Stripe does towards the server: sign events and POST them to the webhook."""

    fake: FakeStripe
    secret: str
    http: httpx.AsyncClient
    jobs: InProcessRunner

    async def post(
        self, payload: bytes, signature: str | None, content_type: str = "application/json"
    ) -> httpx.Response:
        headers = {"Content-Type": f"{content_type}; charset=utf-8"}
        if signature is not None:
            headers["Stripe-Signature"] = signature
        response = await self.http.post("/webhooks/stripe", content=payload, headers=headers)
        await self.jobs.drain()
        return response

    async def deliver(self, event: Event, timestamp: int | None = None) -> httpx.Response:
        payload = json.dumps(event, indent=2).encode()
        return await self.post(payload, sign(payload, self.secret, timestamp))

    async def deliver_all(self, events: Iterable[Event]) -> None:
        for event in events:
            response = await self.deliver(event)
            assert response.status_code == 200, response.text


@pytest.fixture
async def stripe_side(
    app: Any, fake_stripe: FakeStripe, billing_settings: Settings, billing_jobs: InProcessRunner
) -> AsyncIterator[StripeSide]:
    assert billing_settings.stripe_webhook_secret is not None
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
    ) as http:
        yield StripeSide(fake_stripe, billing_settings.stripe_webhook_secret, http, billing_jobs)


async def billing_of(client: Client) -> dict[str, Any]:
    found: dict[str, Any] = (await client.gql(BILLING))["billing"]
    return found


async def checkout(client: Client, plan: str = "BUSINESS") -> str:
    """Start a Checkout for ``plan``; the id of the Stripe session its URL names."""
    url = (await client.gql(CHECKOUT, {"plan": plan}))["checkoutSessionCreate"]["url"]
    assert urlsplit(url).netloc == "checkout.stripe.com", url
    return str(url).rsplit("/", 1)[1]


async def stay_signed_in(person: Person) -> None:
    """After the clock jumped past the session's idle or absolute limit, sign in again."""
    data = await person.client.gql("{ viewer { id } }")
    if data["viewer"] is None:
        await person.sign_in()


def besides_syncs(actions: list[Action], subject: str) -> list[str]:
    """What a sweep does to one workspace, leaving out its reading Stripe again, which any
    sweep a day after the last read may do (test_reconciliation is about those)."""
    return [a.describe() for a in actions if a.subject == subject and a.kind != SYNC]


def mail_kinds(settings: Settings, address: str) -> list[str]:
    """The kinds of mail sent to ``address``, sorted, without the registration mail."""
    return [k for k in kinds(settings, address) if k != "registration"]
