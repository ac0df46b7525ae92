"""Two regions on two real PostgreSQL servers: the main test server holds US, a second
cluster started for the run holds EU. A workspace's database is on its region's
server and nowhere else; its exports are written in its region's folder; STANDARD cannot
be bought for an EU workspace; erasure removes it from its own server."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from lightningtrack import clock
from lightningtrack.app import create_app
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.models.landlord import DataExport, JobStatus, Workspace
from lightningtrack.resolvers import retention
from lightningtrack.resolvers.effects import collecting
from lightningtrack.resolvers.exports import archive_path
from lightningtrack.settings import DatabaseURL, Settings
from lightningtrack.tenancy import databases, migration, storage
from lightningtrack.tenancy.runtime import Tenancy
from tests.billing.conftest import CHECKOUT, PROJECT_CREATE, checkout
from tests.conftest import BACKEND, WORKSPACE_CREATE, Client, signed_up, unique
from tests.retention.conftest import DAY

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="regions are PostgreSQL servers")


@pytest.fixture(scope="module")
async def regional(
    billing_settings: Settings,
    tenancy: Tenancy,
    eu_server: DatabaseURL,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[Settings, Tenancy, InProcessRunner]]:
    """This run's landlord with US on the main server and EU on the second one, each with
    a storage folder of its own. Tortoise and the landlord are the session's."""
    folders = tmp_path_factory.mktemp("regions")
    settings = dataclasses.replace(
        billing_settings,
        regions={"US": billing_settings.region_url("US"), "EU": eu_server},
        region_storage={"EU": folders / "eu-storage", "US": folders / "us-storage"},
    )
    await migration.ensure_template(settings, "EU")
    runtime = Tenancy(settings)  # shares the started Tortoise; has pools of its own
    runner = InProcessRunner(settings, runtime)
    try:
        yield settings, runtime, runner
    finally:
        await runner.close()
        await runtime.pools.close_all()
        # The EU server goes with this module: so must the landlord's rows pointing at it,
        # or later tests that visit every workspace would look for a region that is gone.
        await Workspace.filter(region="EU").delete()


@pytest.fixture
async def client(regional: tuple[Settings, Tenancy, InProcessRunner]) -> AsyncIterator[Client]:
    settings, runtime, runner = regional
    app = create_app(settings, runtime, runner)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
    ) as http:

        def make() -> Client:
            return Client(http)

        yield await signed_up(make, "Reg")


async def names_on(server: DatabaseURL, settings: Settings) -> list[str]:
    return await databases.list_databases(server, databases.name_prefix(settings))


async def create(client: Client, region: str | None) -> Workspace:
    slug = unique((region or "default").lower())
    workspace: dict[str, Any] = {"name": f"Region {region}", "slug": slug}
    if region is not None:
        workspace["region"] = region
    data = await client.gql(WORKSPACE_CREATE, {"input": workspace})
    assert data["workspaceCreate"]["workspace"]["slug"] == slug
    return await Workspace.get(slug=slug)


async def test_a_workspace_database_is_on_its_regions_server_and_nowhere_else(
    regional: tuple[Settings, Tenancy, InProcessRunner], client: Client
) -> None:
    settings, _, _ = regional
    us_server, eu_server = settings.region_url("US"), settings.region_url("EU")
    eu = await create(client, "EU")
    us = await create(client, "US")
    default = await create(client, None)
    assert (eu.region, us.region, default.region) == ("EU", "US", "US")

    on_eu, on_us = await names_on(eu_server, settings), await names_on(us_server, settings)
    assert eu.db_name in on_eu and eu.db_name not in on_us
    for workspace in (us, default):
        assert workspace.db_name in on_us and workspace.db_name not in on_eu
    # The EU server holds this installation's EU template and EU workspaces only.
    eu_rows = await Workspace.filter(region="EU").values_list("db_name", flat=True)
    assert set(on_eu) <= {*eu_rows, databases.template_name(settings)}

    # Data written through the API lands in the EU database itself.
    data = await client.gql(
        PROJECT_CREATE, {"input": {"key": "EUR", "name": "Europe"}}, workspace=eu.slug
    )
    assert data["projectCreate"]["project"]["key"] == "EUR"
    conn = await asyncpg.connect(
        host=eu_server.host, port=eu_server.port, user=eu_server.user, database=eu.db_name
    )
    try:
        assert await conn.fetchval("SELECT count(*) FROM project WHERE key = 'EUR'") == 1
    finally:
        await conn.close()
    region = await client.gql("{ workspace { region } }", workspace=eu.slug)
    assert region["workspace"]["region"] == "EU"


async def test_exports_are_written_in_the_regions_folder(
    regional: tuple[Settings, Tenancy, InProcessRunner], client: Client
) -> None:
    settings, _, runner = regional
    written: dict[str, Path] = {}
    for region in ("EU", "US"):
        workspace = await create(client, region)
        await client.gql("mutation { dataExportCreate { id } }", workspace=workspace.slug)
        await runner.drain()
        export = await DataExport.get(workspace_id=workspace.id)
        assert export.status == JobStatus.SUCCEEDED
        written[region] = archive_path(settings, export)
        assert written[region].exists()
    assert written["EU"].parent == storage.region_dir(settings, "EU") / "exports"
    assert written["EU"].is_relative_to(settings.region_storage["EU"])
    assert written["US"].is_relative_to(settings.region_storage["US"])
    assert not list(settings.region_storage["US"].rglob(written["EU"].name))


async def test_standard_is_refused_for_eu_and_business_is_offered(
    regional: tuple[Settings, Tenancy, InProcessRunner], client: Client
) -> None:
    eu = await create(client, "EU")
    error = await client.error(CHECKOUT, {"plan": "STANDARD"}, workspace=eu.slug)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "plan"}
    assert "EU" in error["message"] and "BUSINESS" in error["message"]
    assert await checkout(Client(client.http, eu.slug), "BUSINESS")
    us = await create(client, "US")
    assert await checkout(Client(client.http, us.slug), "STANDARD")
    # The region was never touched by either.
    assert (await Workspace.get(id=eu.id)).region == "EU"


async def test_erasing_an_eu_workspace_drops_it_from_the_eu_server(
    regional: tuple[Settings, Tenancy, InProcessRunner], client: Client
) -> None:
    settings, runtime, runner = regional
    eu = await create(client, "EU")
    await client.gql(
        "mutation($s: String!) { workspaceDelete(confirmSlug: $s) { workspace { slug } } }",
        {"s": eu.slug},
        workspace=eu.slug,
    )
    t0 = clock.now()
    for moment in (t0 + 6 * DAY, t0 + 7 * DAY + DAY):
        clock.freeze(moment)
        with collecting() as deferred:
            await retention.run(settings, runtime)
        await runner.submit(deferred)
        await runner.drain()
    assert not await Workspace.exists(id=eu.id)
    assert eu.db_name not in await names_on(settings.region_url("EU"), settings)


async def test_a_region_without_a_server_is_refused(owner: Client) -> None:
    """An installation whose LT_REGIONS names only US (the session's) refuses EU clearly."""
    slug = unique("eu")
    error = await owner.error(
        WORKSPACE_CREATE, {"input": {"name": "Nowhere", "slug": slug, "region": "EU"}}
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.region"}
    assert not await Workspace.exists(slug=slug)
