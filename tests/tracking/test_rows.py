"""Rows read into models (lightningtrack.models.base): every model of the landlord and of
a workspace, built from real rows of this run's database, is the instance Tortoise's own
hydration builds, attribute for attribute, value for value, type for type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tortoise import connections, timezone
from tortoise import models as tortoise_models
from tortoise.fields.relational import ReverseRelation
from tortoise.functions import Count

from lightningtrack.models import base, landlord
from lightningtrack.models import workspace as tracking
from lightningtrack.tenancy.config import WORKSPACE
from lightningtrack.tenancy.runtime import Tenancy
from lightningtrack.tenancy.serial import OneAtATimeClient
from tests.conftest import BACKEND, Client
from tests.tracking.conftest import create_comment, create_issue, create_project, workspace_of

TORTOISE = tortoise_models.Model._init_from_db.__func__  # type: ignore[attr-defined]


def same_instance(ours: Any, theirs: Any) -> None:
    assert type(ours) is type(theirs)
    assert ours.__dict__.keys() == theirs.__dict__.keys()
    for name, value in theirs.__dict__.items():
        mine = ours.__dict__[name]
        assert mine == value, name
        assert type(mine) is type(value), name
        if hasattr(value, "tzinfo"):
            assert mine.tzinfo is value.tzinfo, name


async def rows_of(model: type[Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await model._meta.db.execute_query_dict(
        f'SELECT * FROM "{model._meta.db_table}"'
    )
    return rows


async def compare(model: type[Any]) -> int:
    rows = await rows_of(model)
    for row in rows:
        same_instance(model._init_from_db(**row), TORTOISE(model, **row))
    return len(rows)


async def test_rows_become_the_models_tortoise_builds(tenancy: Tenancy, owner: Client) -> None:
    project = await create_project(owner, name="Rows")
    issue = await create_issue(
        owner, project["id"], "Read back", estimateSeconds=3600, labels=["bug", "ui"]
    )
    await create_comment(owner, issue["id"])
    await owner.gql('mutation { apiKeyCreate(input: {name: "rows", scopes: [READ]}) { secret } }')
    for model in (landlord.Account, landlord.Workspace, landlord.Membership, landlord.ApiKey):
        assert issubclass(model, base.Model)
        assert await compare(model) > 0, model
    async with tenancy.workspace(await workspace_of(owner)):
        for model in (tracking.Project, tracking.Issue, tracking.Label, tracking.Comment):
            assert issubclass(model, base.Model)
            assert await compare(model) > 0, model
        # The timestamps went through the fast path where the driver gives aware values.
        read = (await tracking.Issue.filter(id__gt=0).first()).created_at  # type: ignore[union-attr]
        assert read.tzinfo is timezone.get_default_timezone()


async def test_a_partial_row_takes_tortoises_own_path(tenancy: Tenancy, owner: Client) -> None:
    project = await create_project(owner, name="Partial")
    await create_issue(owner, project["id"], "Only some columns")
    async with tenancy.workspace(await workspace_of(owner)):
        full = await tracking.Issue.filter(title="Only some columns").first()
        only = await tracking.Issue.filter(title="Only some columns").only("id", "title").first()
    assert full is not None and only is not None
    assert not full._partial
    assert only._partial
    assert (only.id, only.title) == (full.id, full.title)
    assert "created_at" not in only.__dict__


async def test_a_value_no_member_has_fails_as_tortoise_fails(
    tenancy: Tenancy, owner: Client
) -> None:
    project = await create_project(owner, name="Enums")
    await create_issue(owner, project["id"], "Odd status")
    async with tenancy.workspace(await workspace_of(owner)):
        row = (await rows_of(tracking.Issue))[0]
    row["status"] = "NOT_A_STATUS"
    with pytest.raises(ValueError, match="NOT_A_STATUS") as theirs:
        TORTOISE(tracking.Issue, **row)
    with pytest.raises(ValueError, match="NOT_A_STATUS") as ours:
        tracking.Issue._init_from_db(**row)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.skipif(BACKEND != "postgres", reason="the executor of asyncpg leases")
async def test_selects_through_a_lease_build_the_models_tortoises_executor_builds(
    tenancy: Tenancy, owner: Client
) -> None:
    """A lease's client (``OneAtATimeClient``) selects with ``RowExecutor``: whole rows,
    annotated rows, partial rows, joined and prefetched ones come out as the pool's own
    client (Tortoise's executor) makes them."""
    project = await create_project(owner, name="Executor")
    issue = await create_issue(owner, project["id"], "Through the lease", labels=["ops"])
    await create_comment(owner, issue["id"])
    async with tenancy.workspace(await workspace_of(owner)):
        lease = connections.get(WORKSPACE)
        assert isinstance(lease, OneAtATimeClient)
        assert lease.executor_class is base.RowExecutor
        queries: list[Callable[[Any], Any]] = [
            lambda db: tracking.Issue.all().using_db(db).order_by("id"),
            lambda db: (
                tracking.Issue.all()
                .using_db(db)
                .annotate(comments_total=Count("comments"))
                .group_by("id")
                .order_by("id")
            ),
            lambda db: tracking.Issue.all().using_db(db).only("id", "title").order_by("id"),
            lambda db: tracking.Issue.all().using_db(db).select_related("project").order_by("id"),
            lambda db: tracking.Issue.all().using_db(db).prefetch_related("labels").order_by("id"),
            lambda db: tracking.Comment.all().using_db(db).order_by("id"),
        ]
        for query in queries:
            ours = await query(lease)
            theirs = await query(lease.pool_client)
            assert len(ours) == len(theirs) > 0
            related = sum(
                same_model(mine, tortoise_made)
                for mine, tortoise_made in zip(ours, theirs, strict=True)
            )
            # The joined projects and the prefetched labels were compared too.
            assert related > 0 if query in queries[3:5] else related == 0


def same_model(ours: Any, theirs: Any) -> int:
    """``same_instance``, with related models (joined, prefetched) compared likewise."""
    relations = {
        name: value
        for name, value in theirs.__dict__.items()
        if isinstance(value, ReverseRelation | base.Model)
    }
    plain = type("Plain", (), {})
    mine, their = plain(), plain()
    mine.__dict__.update({k: v for k, v in ours.__dict__.items() if k not in relations})
    their.__dict__.update({k: v for k, v in theirs.__dict__.items() if k not in relations})
    same_instance(mine, their)
    compared = 0
    for name, value in relations.items():
        other = ours.__dict__[name]
        if isinstance(value, base.Model):
            compared += 1 + same_model(other, value)
        else:
            assert len(other.related_objects) == len(value.related_objects), name
            for a, b in zip(other.related_objects, value.related_objects, strict=True):
                compared += 1 + same_model(a, b)
    return compared
