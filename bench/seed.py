"""Seeding the benchmark data: one large workspace and many small ones."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from lightningtrack.models import workspace as wsm
from lightningtrack.models.landlord import Account, Membership, Role, Workspace
from lightningtrack.resolvers import api_keys, ids, passwords
from lightningtrack.resolvers.workspaces import create_workspace
from lightningtrack.settings import Settings
from lightningtrack.tenancy.runtime import Tenancy

STATUSES = list(wsm.IssueStatus)
PRIORITIES = list(wsm.IssuePriority)
LABELS = ["bug", "feature", "ui", "backend", "urgent", "docs"]


@dataclass
class Seeded:
    large_slug: str
    large_key: str  # a WRITE API key of the large workspace
    issue_key: str  # an issue of the large workspace with 20 comments
    project_id: str  # a project global id of the large workspace, for issueCreate
    project_pk: int  # the same project's row id, for the baseline
    small_keys: list[str] = field(default_factory=list)


async def _owner(name: str) -> Account:
    digest = await passwords.hash_password("bench password")
    return await Account.create(
        name=name,
        email=f"{name}@bench.example",
        email_key=f"{name}@bench.example",
        password_hash=digest,
    )


async def _key(workspace: Workspace, owner: Account) -> str:
    membership = await Membership.get(workspace=workspace, account=owner).select_related(
        "workspace"
    )
    _, secret = await api_keys.create(membership, "bench", ["WRITE"])
    return secret


async def _fill(
    tenancy: Tenancy,
    workspace: Workspace,
    people: list[uuid.UUID],
    *,
    projects: int,
    issues: int,
    comments: int,
    entries: int,
    rng: random.Random,
) -> tuple[str, str]:
    """Rows straight into the workspace database; returns (busy issue key, project pk)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    async with tenancy.workspace(workspace):
        labels = [await wsm.Label.create(name=n) for n in LABELS]
        made = [await wsm.Project.create(key=f"P{n}", name=f"Project {n}") for n in range(projects)]
        rows = []
        numbers = {p.id: 0 for p in made}
        for n in range(issues):
            project = made[n % projects]
            numbers[project.id] += 1
            priority = rng.choice(PRIORITIES)
            rows.append(
                wsm.Issue(
                    project=project,
                    number=numbers[project.id],
                    title=f"Issue {n} ünïcode",
                    description="Steps to reproduce: " * 5,
                    status=rng.choice(STATUSES),
                    priority=priority,
                    priority_rank=wsm.PRIORITY_RANK[priority],
                    assignee_id=rng.choice(people),
                    creator_id=rng.choice(people),
                    estimate_seconds=3600,
                    created_at=start + timedelta(minutes=n),
                )
            )
        await wsm.Issue.bulk_create(rows, batch_size=500)
        for project in made:
            await wsm.Project.filter(id=project.id).update(last_issue_number=numbers[project.id])
        all_issues = await wsm.Issue.all().order_by("id")
        for issue in all_issues:
            await issue.labels.add(*rng.sample(labels, 2))
        busy = all_issues[0]
        comment_rows = [
            wsm.Comment(issue=busy, author_id=rng.choice(people), body=f"Comment {n}")
            for n in range(20)
        ]
        comment_rows += [
            wsm.Comment(
                issue=rng.choice(all_issues), author_id=rng.choice(people), body="Looks good"
            )
            for _ in range(max(0, comments - 20))
        ]
        await wsm.Comment.bulk_create(comment_rows, batch_size=1000)
        await wsm.TimeEntry.bulk_create(
            [
                wsm.TimeEntry(
                    issue=rng.choice(all_issues),
                    account_id=rng.choice(people),
                    started_at=start + timedelta(hours=n),
                    duration_seconds=1800,
                    billable=True,
                )
                for n in range(entries)
            ],
            batch_size=1000,
        )
        return f"{made[0].key}-{busy.number}", str(made[0].id)


async def seed(settings: Settings, tenancy: Tenancy, small: int = 200) -> Seeded:
    rng = random.Random(42)
    owner = await _owner("owner")
    large = await create_workspace(settings, owner, "Large", "large", None)
    people = [owner.id]
    for n in range(9):
        member = await _owner(f"member{n}")
        await Membership.create(workspace=large, account=member, role=Role.MEMBER)
        people.append(member.id)
    issue_key, project_pk = await _fill(
        tenancy, large, people, projects=5, issues=2000, comments=10_000, entries=5000, rng=rng
    )
    seeded = Seeded(
        large_slug=large.slug,
        large_key=await _key(large, owner),
        issue_key=issue_key,
        project_id=ids.encode_scoped("Project", large.id, int(project_pk)),
        project_pk=int(project_pk),
    )
    for n in range(small):
        workspace = await create_workspace(settings, owner, f"Small {n}", f"small-{n}", None)
        await _fill(
            tenancy, workspace, [owner.id], projects=1, issues=60, comments=60, entries=20, rng=rng
        )
        seeded.small_keys.append(await _key(workspace, owner))
    return seeded
