"""SSRF: in production, targets on private, loopback and link-local addresses are refused
when a webhook is saved and again when a delivery is made."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lightningtrack import clock
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.resolvers import deliveries, targets
from lightningtrack.resolvers.effects import collecting
from lightningtrack.resolvers.targets import TargetRefused
from lightningtrack.settings import Settings, load_settings
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import SIGN_UP, WORKSPACE_CREATE, Client, environment_for, unique
from tests.integrations.conftest import Receiver
from tests.integrations.webhook_helpers import WEBHOOK_CREATE, create_webhook
from tests.integrations.webhook_helpers import deliveries as log
from tests.integrators.test_production import production
from tests.tracking.conftest import create_project, workspace_of

REFUSED = [
    "https://127.0.0.1/hooks",
    "https://127.1.2.3:8443/hooks",
    "https://10.0.0.5/hooks",
    "https://10.255.255.255/",
    "https://172.16.0.1/",
    "https://192.168.1.1/",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/hooks",
    "https://[::ffff:127.0.0.1]/",
    "https://[fe80::1]/",
    "https://[fd00::1]/",
    "https://100.64.0.1/",
    "https://0.0.0.0/",
    "https://localhost/hooks",
    "https://224.0.0.1/",
    "http://93.184.216.34/hooks",  # public, but not https
    "ftp://example.com/x",
    "https://user:pass@93.184.216.34/",
    "not a url",
]


def production_settings(settings: Settings) -> Settings:
    env = environment_for(settings.data_dir, settings.database_url.database or "")
    return load_settings(
        {
            **env,
            "LT_ENV": "production",
            "LT_PUBLIC_URL": "https://api.example",
            "LT_SECRET_KEY": "production-secret-" + "y" * 40,
        }
    )


async def test_production_refuses_non_public_targets(
    settings: Settings, tenancy: Tenancy, jobs: InProcessRunner
) -> None:
    async with production(settings, tenancy, jobs) as http:
        email = f"{unique('prod')}@example.com"
        await http.post(
            "/graphql",
            json={
                "query": SIGN_UP,
                "variables": {"input": {"name": "P", "email": email, "password": "correct horse"}},
            },
        )
        slug = unique("prod")
        await http.post(
            "/graphql",
            json={"query": WORKSPACE_CREATE, "variables": {"input": {"name": "P", "slug": slug}}},
        )
        client = Client(http, workspace=slug)
        for url in REFUSED:
            error = await client.error(
                WEBHOOK_CREATE, {"input": {"url": url, "events": ["ISSUE_CREATED"]}}
            )
            assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.url"}, url
        assert (await client.gql("{ webhooks { id } }"))["webhooks"] == []
        # A public address is accepted (and never called: nothing happens in this workspace).
        made = await client.gql(
            WEBHOOK_CREATE,
            {"input": {"url": "https://93.184.216.34/hooks", "events": ["ISSUE_CREATED"]}},
        )
        hook_id = made["webhookCreate"]["webhook"]["id"]
        await client.gql(
            "mutation($id: ID!) { webhookDelete(id: $id) { deletedId } }", {"id": hook_id}
        )


async def test_development_allows_http_only_to_loopback(owner: Client) -> None:
    for url in ("http://10.0.0.5/hooks", "http://example.com/hooks", "http://169.254.169.254/"):
        error = await owner.error(
            WEBHOOK_CREATE, {"input": {"url": url, "events": ["ISSUE_CREATED"]}}
        )
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.url"}, url
    for url in ("http://127.0.0.1:9/x", "http://localhost:9/x", "http://[::1]:9/x"):
        await create_webhook(owner, url, ["ISSUE_CREATED"])


@pytest.mark.parametrize(
    "url", ["https://127.0.0.1/", "https://10.1.2.3/", "https://169.254.169.254/", "https://[::1]/"]
)
async def test_delivery_time_check_refuses_in_production(settings: Settings, url: str) -> None:
    with pytest.raises(TargetRefused):
        await targets.pick(production_settings(settings), url)


async def test_a_delivery_connects_to_the_address_it_checked(settings: Settings) -> None:
    target = await targets.pick(settings, "http://localhost:8123/a/b?c=d")
    assert str(target.address) in ("127.0.0.1", "::1")
    assert target.host == "localhost:8123"
    assert target.url.endswith(":8123/a/b?c=d") and "localhost" not in target.url
    v6 = await targets.pick(settings, "http://[::1]:8123/")
    assert v6.url == "http://[::1]:8123/" and v6.host == "[::1]:8123"


async def test_a_target_that_turned_private_is_refused_at_delivery(
    settings: Settings, tenancy: Tenancy, owner: Client, receiver: Receiver, jobs: InProcessRunner
) -> None:
    """A webhook saved while its target was allowed (here: in development) is checked again
    at each delivery: under the production guard the retry is refused, and nothing more
    reaches the receiver."""
    hook = await create_webhook(owner, receiver.url, ["PROJECT_CREATED"])
    receiver.answer(500)
    await create_project(owner)
    await jobs.drain()
    assert len(receiver.received) == 1
    clock.freeze(clock.now() + timedelta(minutes=5))
    with collecting():  # the retry it schedules is not run here
        async with tenancy.workspace(await workspace_of(owner)):
            assert await deliveries.deliver_due(production_settings(settings)) == 1
    [row] = await log(owner, hook["id"])
    assert row["attempts"] == 2 and row["status"] == "PENDING"
    # The receiver is plain http on loopback: refused for its scheme before its address.
    assert row["lastError"].startswith("Use an https:// URL") and row["responseStatus"] is None
    assert len(receiver.received) == 1
