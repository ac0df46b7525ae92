"""The whole billing story against a real ``lightningtrack serve`` process, as an operator
would check it: an installation of its own (landlord, data folder, outbox), the fake
Stripe playing Stripe's part with signed events in random order and repetition over
real HTTP, ``lightningtrack retention run --as-of`` at chosen dates, the outbox, and the
list of databases on the server."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import os
import random
import secrets
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from lightningtrack.settings import DatabaseURL, Settings, load_settings
from lightningtrack.tenancy import databases
from tests.billing.conftest import BILLING, CHECKOUT, PRICE_BUSINESS, PRICE_STANDARD
from tests.billing.fake_stripe import Event, FakeStripe, sign
from tests.conftest import BACKEND, POSTGRES_URL, SIGN_UP, WORKSPACE_CREATE, drop_everything

ROOT = Path(__file__).resolve().parents[2]
DAY = timedelta(days=1)
SEED = 7


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Installation:
    env: dict[str, str]
    settings: Settings
    url: str
    secret: str

    async def cli(self, *args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "lightningtrack",
            *args,
            cwd=ROOT,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 0, err.decode()[-2000:]
        return out.decode()

    def outbox(self, address: str) -> list[str]:
        folder = self.settings.data_dir / "outbox"
        found = []
        for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if str(message["To"]).casefold() == address.casefold():
                found.append(str(message["X-LightningTrack-Kind"]))
        return sorted(found)

    async def databases(self, region: str = "US") -> list[str]:
        """The workspace databases on the region's server (files, on SQLite)."""
        server = databases.server_url(self.settings, region)
        names = await databases.list_databases(server, databases.name_prefix(self.settings))
        return [name for name in names if "_ws_" in name]


@pytest.fixture
async def installation(
    fake_stripe: FakeStripe, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Installation]:
    """A served installation of its own, billing on against the fake Stripe; on PostgreSQL
    with two regions, US on the main test server and EU on the run's second cluster."""
    port = free_port()
    secret = f"whsec_{secrets.token_hex(16)}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LT_")}
    env.update(
        {
            "LT_DATA_DIR": str(tmp_path / "data"),
            "LT_SECRET_KEY": "served-secret-" + "y" * 40,
            "LT_PORT": str(port),
            "LT_SWEEP_INTERVAL": "3600",
            "LT_STRIPE_API_KEY": fake_stripe.api_key,
            "LT_STRIPE_WEBHOOK_SECRET": secret,
            "LT_STRIPE_API_BASE": fake_stripe.url,
            "LT_STRIPE_PRICE_STANDARD": PRICE_STANDARD,
            "LT_STRIPE_PRICE_BUSINESS": PRICE_BUSINESS,
            "PYTHONPATH": str(ROOT),
        }
    )
    landlord = f"lt_test_{secrets.token_hex(4)}_served"
    if BACKEND == "postgres":
        env["LT_DATABASE_URL"] = f"{POSTGRES_URL}/{landlord}"
        eu: DatabaseURL = request.getfixturevalue("eu_server")
        env["LT_REGIONS"] = f"us={POSTGRES_URL},eu=postgres://{eu.user}@{eu.host}:{eu.port}"
    settings = load_settings(env)
    if BACKEND == "postgres":
        conn = await asyncpg.connect(f"{POSTGRES_URL}/postgres")
        try:
            await conn.execute(f'CREATE DATABASE "{landlord}"')
        finally:
            await conn.close()
    log = (tmp_path / "server.log").open("wb")
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lightningtrack",
        "serve",
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url) as http:
            for _ in range(300):
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/readyz")).status_code == 200:
                        break
                assert server.returncode is None, (tmp_path / "server.log").read_text()
                await asyncio.sleep(0.1)
            else:
                pytest.fail("the server did not become ready")
        yield Installation(env, settings, url, secret)
    finally:
        if server.returncode is None:
            server.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait(), 30)
            if server.returncode is None:
                server.kill()
                await server.wait()
        log.close()
        await drop_everything(settings)
        if BACKEND == "postgres":
            conn = await asyncpg.connect(f"{POSTGRES_URL}/postgres")
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{landlord}" WITH (FORCE)')
            finally:
                await conn.close()


async def gql(http: httpx.AsyncClient, query: str, variables: Any = None, **headers: str) -> Any:
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]


async def wait_for_mail(installation: Installation, address: str, count: int) -> list[str]:
    """The server sends mail in background jobs: wait until ``count`` mails are out."""
    for _ in range(200):
        found = installation.outbox(address)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    return installation.outbox(address)


async def sign_up(http: httpx.AsyncClient, name: str) -> str:
    address = f"{name.lower()}-{secrets.token_hex(4)}@example.com"
    await gql(
        http, SIGN_UP, {"input": {"name": name, "email": address, "password": "correct horse"}}
    )
    return address


async def start_checkout(
    http: httpx.AsyncClient, fake: FakeStripe, slug: str, region: str, plan: str
) -> str:
    """Create a workspace in ``region`` and open a Checkout; the Stripe session id."""
    workspace = {"name": f"Served {region}", "slug": slug, "region": region}
    await gql(http, WORKSPACE_CREATE, {"input": workspace})
    answer = await gql(http, CHECKOUT, {"plan": plan}, **{"X-Workspace": slug})
    return str(answer["checkoutSessionCreate"]["url"]).rsplit("/", 1)[1]


async def test_a_served_installation_follows_stripe_and_the_retention_sweep(
    installation: Installation, fake_stripe: FakeStripe
) -> None:
    fake = fake_stripe
    two_regions = BACKEND == "postgres"
    slug = f"served-{secrets.token_hex(4)}"
    eu_slug = f"served-eu-{secrets.token_hex(4)}"
    async with httpx.AsyncClient(base_url=installation.url) as http:
        address = await sign_up(http, "Sven")
        session = await start_checkout(http, fake, slug, "US", "STANDARD")
        customer = fake.sessions[session]["customer"]
        events: list[Event] = fake.complete_checkout(session)
        subscription = fake.subscription_of(customer)["id"]
        if two_regions:  # a second workspace, in the EU, paying all along
            eu_session = await start_checkout(http, fake, eu_slug, "EU", "BUSINESS")
            events += fake.complete_checkout(eu_session, last4="9995")
        events += fake.change_card(customer, "8431")
        events += fake.fail_renewal(subscription)
        events += fake.recover(subscription)
        events += fake.cancel(subscription)
        ended = datetime.fromtimestamp(fake.subscriptions[subscription]["ended_at"], UTC)

        rng = random.Random(SEED)
        stream = [e for e in events for _ in range(rng.randint(1, 3))]
        rng.shuffle(stream)
        for event in stream:
            payload = json.dumps(event).encode()
            stale = sign(payload, installation.secret, int(time.time()) - 400)
            forged = await http.post(
                "/webhooks/stripe", content=payload, headers={"Stripe-Signature": stale}
            )
            assert forged.status_code == 400
            response = await http.post(
                "/webhooks/stripe",
                content=payload,
                headers={
                    "Stripe-Signature": sign(payload, installation.secret),
                    "Content-Type": "application/json",
                },
            )
            assert response.status_code == 200, response.text

        billing = (await gql(http, BILLING, **{"X-Workspace": slug}))["billing"]
        deletion = ended + 30 * DAY
        assert billing == {
            "plan": "STANDARD",
            "status": "CANCELLED",
            "trialEndsAt": billing["trialEndsAt"],
            "currentPeriodEnd": billing["currentPeriodEnd"],
            "cancelledAt": ended.isoformat(),
            "cancelAtPeriodEnd": False,
            "cancelAt": None,
            "deletionScheduledAt": deletion.isoformat(),
            "cardLast4": "8431",
        }
        expected = [
            "registration",
            "billing_receipt",
            "billing_receipt",
            "billing_payment_failed",
            "billing_subscription_ended",
        ]
        if two_regions:
            eu_billing = (await gql(http, BILLING, **{"X-Workspace": eu_slug}))["billing"]
            assert (eu_billing["status"], eu_billing["plan"]) == ("ACTIVE", "BUSINESS")
            assert eu_billing["cardLast4"] == "9995"
            expected.append("billing_receipt")
        mails = await wait_for_mail(installation, address, len(expected))
        assert mails == sorted(expected)

        [us_db] = await installation.databases("US")
        if two_regions:
            [eu_db] = await installation.databases("EU")
            assert eu_db != us_db

        for moment in (deletion - 7 * DAY, deletion - DAY):
            await installation.cli("retention", "run", "--as-of", moment.isoformat())
        assert await installation.databases("US") == [us_db]
        printed = await installation.cli("retention", "run", "--as-of", deletion.isoformat())
        assert f"erase workspace: {slug}" in printed
        assert await installation.databases("US") == []
        if two_regions:
            assert await installation.databases("EU") == [eu_db]
            # The sweep ran a month ahead, past the session's idle limit: sign in again.
            await gql(
                http,
                "mutation($i: SignInInput!) { signIn(input: $i) { account { id } } }",
                {"i": {"email": address, "password": "correct horse"}},
            )
            workspaces = (await gql(http, "{ workspaces { slug region status } }"))["workspaces"]
            assert workspaces == [{"slug": eu_slug, "region": "EU", "status": "ACTIVE"}]
        assert installation.outbox(address) == sorted(
            [*mails, "billing_cancellation_reminder", "workspace_deletion_reminder"]
        )
        assert fake.customers[customer].get("deleted") is True
