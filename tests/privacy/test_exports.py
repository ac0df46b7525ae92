"""Workspace export: the privacy policy promises "a workspace's data as a JSON archive, at
any time". Every row must be in it, as the API shows it, and only a complete archive may
ever be offered, to the workspace's admins, for 7 days."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from lightningtrack import clock
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.models import workspace as wsm
from lightningtrack.models.landlord import DataExport, DataExportKind, JobStatus, Role
from lightningtrack.models.landlord import Workspace as WorkspaceModel
from lightningtrack.resolvers import exports
from lightningtrack.settings import Settings
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import Client, signed_up
from tests.privacy.conftest import (
    COMMENT_DELETE,
    DATA_EXPORT,
    DATA_EXPORT_CREATE,
    DATA_EXPORTS,
    PROJECT_ARCHIVE,
    comment,
    create_issue,
    create_project,
    download,
    join,
    log_time,
    raw_key,
    read_zip,
    viewer,
    zip_bytes,
)

UNICODE = "ünïcode 🚀 日本"
FILES = {
    "workspace.json",
    "members.json",
    "projects.json",
    "issues.json",
    "comments.json",
    "time_entries.json",
    "email_sources.json",
    "settings.json",
    "webhooks.json",
    "issue_senders.json",
}
ACCOUNT = "id name email emailVerified createdAt deletionScheduledAt"
EVERYTHING = (
    f"""
{{
  workspace {{ id slug name region status trialEndsAt createdAt }}
  members {{ account {{ {ACCOUNT} }} role joinedAt }}
  projects(first: 100, includeArchived: true) {{
    nodes {{ id key name description archived createdAt updatedAt }}
    pageInfo {{ hasNextPage }}
  }}
}}
""",
    """
{
  issues(first: 20) {
    nodes {
      id key number title description status priority estimateSeconds labels
      createdAt updatedAt project { id } assignee { id } creator { id }
      comments(first: 20) {
        nodes { id body createdAt updatedAt author { id } issue { id } }
        pageInfo { hasNextPage }
      }
    }
    pageInfo { hasNextPage }
  }
}
""",
    """
{
  timeEntries(first: 100) {
    nodes {
      id startedAt durationSeconds note billable createdAt account { id } issue { id }
    }
    pageInfo { hasNextPage }
  }
}
""",
)


def id_of(node: dict[str, Any] | None) -> str | None:
    return node["id"] if node else None


def by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    keyed = {row["id"]: row for row in rows}
    assert len(keyed) == len(rows), "duplicate ids"
    return keyed


def expected_tables(api: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """What the GraphQL API shows, in the archive's layout: the archive must match it."""
    issues = api["issues"]["nodes"]
    return {
        "workspace.json": [api["workspace"]],
        "members.json": api["members"],
        "projects.json": api["projects"]["nodes"],
        "issues.json": [
            {
                "id": i["id"],
                "key": i["key"],
                "projectId": i["project"]["id"],
                "number": i["number"],
                "title": i["title"],
                "description": i["description"],
                "status": i["status"],
                "priority": i["priority"],
                "assigneeId": id_of(i["assignee"]),
                "creatorId": id_of(i["creator"]),
                "labels": sorted(i["labels"]),
                "estimateSeconds": i["estimateSeconds"],
                "createdAt": i["createdAt"],
                "updatedAt": i["updatedAt"],
            }
            for i in issues
        ],
        "comments.json": [
            {
                "id": c["id"],
                "issueId": c["issue"]["id"],
                "authorId": id_of(c["author"]),
                "body": c["body"],
                "createdAt": c["createdAt"],
                "updatedAt": c["updatedAt"],
            }
            for i in issues
            for c in i["comments"]["nodes"]
        ],
        "time_entries.json": [
            {
                "id": t["id"],
                "issueId": t["issue"]["id"],
                "accountId": id_of(t["account"]),
                "startedAt": t["startedAt"],
                "durationSeconds": t["durationSeconds"],
                "note": t["note"],
                "billable": t["billable"],
                "createdAt": t["createdAt"],
            }
            for t in api["timeEntries"]["nodes"]
        ],
    }


def assert_timestamps(value: Any, key: str = "") -> None:
    """Every *At value in a record is ISO-8601 with a time zone (or null)."""
    if isinstance(value, dict):
        for k, v in value.items():
            assert_timestamps(v, k)
    elif isinstance(value, list):
        for item in value:
            assert_timestamps(item, key)
    elif key.endswith("At") and value is not None:
        assert datetime.fromisoformat(value).tzinfo is not None, (key, value)


def assert_same_rows(name: str, archived: list[dict[str, Any]], api: list[dict[str, Any]]) -> None:
    """The archive and the API hold the same rows, field by field."""
    if name == "members.json":  # members have no id of their own: their account's
        archived_rows = {m["account"]["id"]: m for m in archived}
        api_rows = {m["account"]["id"]: m for m in api}
    else:
        archived_rows, api_rows = by_id(archived), by_id(api)
    assert len(archived_rows) == len(archived), name
    assert sorted(archived_rows) == sorted(api_rows), name
    for key, row in api_rows.items():
        assert archived_rows[key] == row, (name, key)


async def seed(make_client: Any, owner: Client) -> dict[str, Client]:
    """A workspace with rows of every kind, written by several members, unicode included;
    a deleted comment must not be exported."""
    assert owner.workspace is not None
    people = {"owner": owner}
    for name, role in (("admin", Role.ADMIN), ("member", Role.MEMBER), ("guest", Role.GUEST)):
        client = await signed_up(make_client, name.title())
        await join(client, owner.workspace, role)
        client.workspace = owner.workspace
        people[name] = client
    member = people["member"]
    member_id = (await viewer(member) or {})["id"]
    owner_id = (await viewer(owner) or {})["id"]

    web = await create_project(owner, "WEB", f"Web {UNICODE}", description='Line 1\nLine "2"')
    ops = await create_project(people["admin"], "OPS", "Ops")
    first = await create_issue(
        owner,
        web,
        UNICODE,
        description=f'{UNICODE}\n<b>not html</b> \\ "quoted"',
        status="TODO",
        priority="HIGH",
        labels=["bug", "ürgent"],
        assigneeId=member_id,
        estimateSeconds=3600,
    )
    second = await create_issue(
        member, web, "Member\N{RIGHT SINGLE QUOTATION MARK}s issue", assigneeId=owner_id
    )
    third = await create_issue(people["admin"], ops, "Ops issue", labels=["ops"])
    await owner.gql(PROJECT_ARCHIVE, {"id": ops})

    await comment(owner, first, f"Looks good 👍 {UNICODE}")
    await comment(member, first, "On it.")
    await comment(people["admin"], third, "Archived, but kept.")
    gone = await comment(member, second, "typo")
    await member.gql(COMMENT_DELETE, {"id": gone})

    await log_time(owner, first, 600, note=UNICODE)
    await log_time(member, second, 1800, billable=False)
    await log_time(member, first, 60)
    await log_time(people["admin"], third, 7200, note="ops work")
    return people


async def workspace_row(client: Client) -> WorkspaceModel:
    assert client.workspace is not None
    return await WorkspaceModel.get(slug=client.workspace)


async def row_counts(tenancy: Tenancy, client: Client) -> dict[str, int]:
    """Rows in the workspace database itself: the archive must not miss any."""
    async with tenancy.workspace(await workspace_row(client)):
        return {
            "projects.json": await wsm.Project.all().count(),
            "issues.json": await wsm.Issue.all().count(),
            "comments.json": await wsm.Comment.all().count(),
            "time_entries.json": await wsm.TimeEntry.all().count(),
        }


def leftovers(settings: Settings, export_id: str | uuid.UUID) -> list[str]:
    """Files of this export in any exports folder (the archive, or temporary ones)."""
    return sorted(
        p.name
        for folder in exports.archive_folders(settings)
        if folder.exists()
        for p in folder.glob(f"{export_id}*")
    )


def export_uuid(export: dict[str, Any]) -> uuid.UUID:
    return uuid.UUID(raw_key(export["id"]))


def token_of(settings: Settings, export: dict[str, Any]) -> str:
    url: str = export["downloadUrl"]
    return url.removeprefix(f"{settings.public_url}/exports/")


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Holds export jobs until set: what is QUEUED stays queued while the test looks."""
    opened = asyncio.Event()
    build = exports.build

    async def held(settings: Settings, tenancy: Tenancy, export_id: uuid.UUID) -> None:
        await opened.wait()
        await build(settings, tenancy, export_id)

    monkeypatch.setattr(exports, "build", held)
    return opened


async def test_only_admins_and_owners_may_export(make_client: Any, owner: Client) -> None:
    """An export holds everyone's data: members and guests must not take it home."""
    assert owner.workspace is not None
    for role in (Role.MEMBER, Role.GUEST):
        client = await signed_up(make_client, role.value.title())
        await join(client, owner.workspace, role)
        client.workspace = owner.workspace
        error = await client.error(DATA_EXPORT_CREATE)
        assert error["extensions"]["code"] == "FORBIDDEN"
    workspace = await workspace_row(owner)
    assert not await DataExport.exists(workspace_id=workspace.id)
    error = await (await signed_up(make_client, "Solo")).error(DATA_EXPORT_CREATE)
    assert error["extensions"]["code"] == "WORKSPACE_REQUIRED"


async def test_a_second_request_while_queued_returns_the_same_export(
    jobs: InProcessRunner, make_client: Any, owner: Client, gate: asyncio.Event
) -> None:
    """Clicking "export" twice must not build two archives of the same data."""
    assert owner.workspace is not None
    admin = await signed_up(make_client, "Ada")
    await join(admin, owner.workspace, Role.ADMIN)
    admin.workspace = owner.workspace

    first = (await owner.gql(DATA_EXPORT_CREATE))["dataExportCreate"]
    second = (await owner.gql(DATA_EXPORT_CREATE))["dataExportCreate"]
    third = (await admin.gql(DATA_EXPORT_CREATE))["dataExportCreate"]
    assert first["status"] == "QUEUED" and first["downloadUrl"] is None
    assert first["kind"] == "WORKSPACE"
    assert second["id"] == first["id"] == third["id"]
    assert await DataExport.filter(workspace_id=(await workspace_row(owner)).id).count() == 1

    gate.set()
    await jobs.drain()
    done = (await owner.gql(DATA_EXPORT, {"id": first["id"]}))["dataExport"]
    assert done["status"] == "SUCCEEDED"
    # Once done, a new request starts a new export (the data may have changed).
    fresh = (await owner.gql(DATA_EXPORT_CREATE))["dataExportCreate"]
    assert fresh["id"] != first["id"] and fresh["status"] == "QUEUED"
    await jobs.drain()


async def test_the_archive_holds_every_row_as_the_api_shows_it(
    settings: Settings,
    tenancy: Tenancy,
    jobs: InProcessRunner,
    make_client: Any,
    owner: Client,
    other_workspace: Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The promised export: a ZIP of UTF-8 JSON arrays with the API's global ids, every row
    of every table, offered through a signed link for 7 days, to the workspace's admins."""
    people = await seed(make_client, owner)
    created = (await owner.gql(DATA_EXPORT_CREATE))["dataExportCreate"]
    await jobs.drain()

    listed = (await owner.gql(DATA_EXPORTS))["dataExports"]
    export = next(e for e in listed if e["id"] == created["id"])
    assert export["status"] == "SUCCEEDED" and export["kind"] == "WORKSPACE"
    completed = datetime.fromisoformat(export["completedAt"])
    assert datetime.fromisoformat(export["expiresAt"]) - completed == timedelta(days=7)
    # Each read signs the link afresh, stamped with the second it is read in: here the two
    # reads are stamped a second apart, as they may be in any run (a stamp ahead of the
    # clock would not verify, so the second one is put behind). The links differ; both
    # open this export, and everything else reads the same.
    signed_at = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: signed_at(self) - 1)
    as_admin = (await people["admin"].gql(DATA_EXPORT, {"id": export["id"]}))["dataExport"]
    monkeypatch.undo()
    assert as_admin["downloadUrl"] != export["downloadUrl"]
    assert {**as_admin, "downloadUrl": None} == {**export, "downloadUrl": None}
    for read in (export, as_admin):
        assert exports.export_for_token(settings, token_of(settings, read)) == export_uuid(export)

    response = await download(make_client(), settings, export["downloadUrl"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert "no-store" in response.headers["cache-control"]
    files = read_zip(response.content)
    assert set(files) == {*FILES, "manifest.json"}

    manifest = files["manifest.json"]
    assert manifest["format"] == 1
    assert manifest["kind"] == "WORKSPACE"
    assert datetime.fromisoformat(manifest["exportedAt"]).tzinfo is not None
    assert manifest["workspace"] == files["workspace.json"][0]
    assert manifest["files"] == {name: len(files[name]) for name in FILES}

    api: dict[str, Any] = {}
    for query in EVERYTHING:
        api.update(await owner.gql(query))
    assert not api["projects"]["pageInfo"]["hasNextPage"]
    assert not api["issues"]["pageInfo"]["hasNextPage"]
    assert not any(i["comments"]["pageInfo"]["hasNextPage"] for i in api["issues"]["nodes"])
    assert not api["timeEntries"]["pageInfo"]["hasNextPage"]
    expected = expected_tables(api)
    for name, rows in expected.items():
        assert_same_rows(name, files[name], rows)
    for name in ("email_sources.json", "webhooks.json", "issue_senders.json"):
        assert files[name] == []
    assert files["settings.json"] == [
        {"timezone": "UTC", "weekStartsOn": "MONDAY", "defaultProjectId": None, "updatedAt": None}
    ]
    for name in FILES:
        assert_timestamps(files[name])

    # Every row of the workspace's own tables, not only what the API pages showed.
    counts = await row_counts(tenancy, owner)
    assert counts == {name: len(files[name]) for name in counts}
    assert counts == {
        "projects.json": 2,
        "issues.json": 3,
        "comments.json": 3,
        "time_entries.json": 4,
    }
    assert len(files["members.json"]) == 4
    assert {m["role"] for m in files["members.json"]} == {"OWNER", "ADMIN", "MEMBER", "GUEST"}

    raw = zip_bytes(response.content)
    assert UNICODE.encode() in raw["issues.json"]
    assert UNICODE.encode() in raw["comments.json"]
    assert UNICODE.encode() in raw["time_entries.json"]
    first = next(i for i in files["issues.json"] if i["title"] == UNICODE)
    assert first["labels"] == ["bug", "ürgent"]
    assert first["key"] == "WEB-1"
    assert not any(name.endswith(".partial") for name in leftovers(settings, export_uuid(export)))
    assert leftovers(settings, export_uuid(export)) == [f"{export_uuid(export)}.zip"]

    # Not for members, nor for another workspace's admin.
    for outsider in (people["member"], people["guest"], other_workspace):
        assert export["id"] not in [
            e["id"] for e in (await outsider.gql(DATA_EXPORTS))["dataExports"]
        ]
        assert (await outsider.gql(DATA_EXPORT, {"id": export["id"]}))["dataExport"] is None
    foreign = await other_workspace.gql(
        DATA_EXPORT, {"id": export["id"]}, workspace=owner.workspace
    )
    assert foreign["dataExport"] is None  # the owner's slug is not theirs: no binding


async def test_bad_and_expired_download_links_are_not_found(
    settings: Settings, jobs: InProcessRunner, make_client: Any, owner: Client
) -> None:
    """The download link is the only key to the archive: forged, altered or old links
    must find nothing."""
    created = (await owner.gql(DATA_EXPORT_CREATE))["dataExportCreate"]
    await jobs.drain()
    export = (await owner.gql(DATA_EXPORT, {"id": created["id"]}))["dataExport"]
    token = token_of(settings, export)
    anonymous: Client = make_client()
    assert (await download(anonymous, settings, export["downloadUrl"])).status_code == 200

    export_id = str(export_uuid(export))
    salt = "lightningtrack.export"
    forged = URLSafeTimedSerializer("not-our-secret-key-" + "y" * 30, salt=salt).dumps(export_id)
    unknown = URLSafeTimedSerializer(settings.secret_key, salt=salt).dumps(str(uuid.uuid4()))
    # Alter the signature's first character: its last one may only carry base64 padding
    # bits, and changing those leaves the decoded signature (and so the link) valid.
    cut = token.rindex(".") + 1
    altered = token[:cut] + ("A" if token[cut] != "A" else "B") + token[cut + 1 :]
    tampered = [
        altered,
        token[1:],
        token + "x",
        forged,
        unknown,
        export_id,
        "",
        "x" * 2000,
    ]
    for bad in tampered:
        response = await anonymous.http.get(f"/exports/{bad}")
        assert response.status_code == 404, bad
        assert not response.content.startswith(b"PK")

    clock.freeze(datetime.fromisoformat(export["completedAt"]) + timedelta(days=8))
    response = await download(anonymous, settings, export["downloadUrl"])
    assert response.status_code == 404


async def test_a_failed_run_leaves_no_archive_and_a_retry_completes_it(
    settings: Settings,
    tenancy: Tenancy,
    make_client: Any,
    owner: Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A crash half-way (after some tables are written) must not leave a half archive to
    download; the export goes back to the queue and a later run writes it whole."""
    project = await create_project(owner, "HALF", "Half")
    issue = await create_issue(owner, project, UNICODE)
    await comment(owner, issue, "a comment")
    workspace = await workspace_row(owner)
    row = await DataExport.create(
        id=uuid.uuid4(), kind=DataExportKind.WORKSPACE, workspace_id=workspace.id
    )

    original = exports.WorkspaceRecords.comments
    calls: list[int] = []

    async def crash_once(
        self: exports.WorkspaceRecords, rows: list[wsm.Comment]
    ) -> list[dict[str, Any]]:
        calls.append(len(rows))
        if len(calls) == 1:
            raise OSError("disk full")
        return await original(self, rows)

    monkeypatch.setattr(exports.WorkspaceRecords, "comments", crash_once)

    with pytest.raises(OSError, match="disk full"):
        await exports.build(settings, tenancy, row.id)
    failed = await DataExport.get(id=row.id)
    assert failed.status == JobStatus.QUEUED
    assert failed.attempts == 1
    assert failed.completed_at is None and failed.expires_at is None
    assert leftovers(settings, row.id) == []
    shown = (await owner.gql(DATA_EXPORT, {"id": exports.global_id(row)}))["dataExport"]
    assert shown["status"] == "QUEUED" and shown["downloadUrl"] is None
    signed = URLSafeTimedSerializer(settings.secret_key, salt="lightningtrack.export")
    response = await make_client().http.get(f"/exports/{signed.dumps(str(row.id))}")
    assert response.status_code == 404  # not offered before it is complete

    await exports.build(settings, tenancy, row.id)
    done = await DataExport.get(id=row.id)
    assert done.status == JobStatus.SUCCEEDED and done.attempts == 2
    assert leftovers(settings, row.id) == [f"{row.id}.zip"]
    shown = (await owner.gql(DATA_EXPORT, {"id": exports.global_id(row)}))["dataExport"]
    response = await download(make_client(), settings, shown["downloadUrl"])
    files = read_zip(response.content)
    assert set(files) == {*FILES, "manifest.json"}
    assert files["manifest.json"]["files"] == {name: len(files[name]) for name in FILES}
    assert [c["body"] for c in files["comments.json"]] == ["a comment"]
    assert [i["title"] for i in files["issues.json"]] == [UNICODE]


async def test_an_archive_is_written_aside_until_complete(
    settings: Settings, tenancy: Tenancy, owner: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a run is writing, nothing sits under the archive's final name: a download
    (or a second run) can never see half a file."""
    await create_project(owner, "MID", "Mid")
    workspace = await workspace_row(owner)
    row = await DataExport.create(
        id=uuid.uuid4(), kind=DataExportKind.WORKSPACE, workspace_id=workspace.id
    )
    seen: list[list[str]] = []
    original: Callable[..., Awaitable[list[dict[str, Any]]]] = exports.WorkspaceRecords.projects

    async def look(self: exports.WorkspaceRecords, rows: list[wsm.Project]) -> list[dict[str, Any]]:
        seen.append(leftovers(settings, row.id))
        return await original(self, rows)

    monkeypatch.setattr(exports.WorkspaceRecords, "projects", look)
    await exports.build(settings, tenancy, row.id)
    assert len(seen) == 1
    (during,) = seen
    assert f"{row.id}.zip" not in during
    assert len(during) == 1 and during[0].endswith(".partial")
    assert leftovers(settings, row.id) == [f"{row.id}.zip"]
    assert (await DataExport.get(id=row.id)).status == JobStatus.SUCCEEDED
