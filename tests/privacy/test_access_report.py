"""Access report (accessReportCreate): "a copy of all data held about a person", across
every workspace they belong to, and nothing about anyone else, nor any secret."""

from __future__ import annotations

import hashlib
from typing import Any

from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.models.landlord import Account, AccountToken, Role, Session
from lightningtrack.settings import Settings
from tests.conftest import Client, signed_up, with_workspace
from tests.privacy.conftest import (
    ACCESS_REPORT_CREATE,
    DATA_EXPORT,
    DATA_EXPORTS,
    PASSWORD,
    comment,
    create_issue,
    create_project,
    download,
    join,
    log_time,
    new_email,
    read_zip,
    sign_up_as,
    viewer,
    zip_bytes,
)

PERSON_FILES = ("issues_created.json", "issues_assigned.json", "comments.json", "time_entries.json")
ISSUES = """
{
  issues(first: 100) {
    nodes { id key title creator { id } assignee { id } comments(first: 20) { nodes { id } } }
  }
  timeEntries(first: 100) { nodes { id durationSeconds account { id } } }
}
"""


async def busy_workspace(
    make_client: Any, person: Client, person_id: str, name: str
) -> tuple[Client, str]:
    """A workspace where the person and its owner both create, get assigned, comment and
    log time; returns the owner and the slug."""
    owner = await signed_up(make_client, f"{name}Owner")
    slug = await with_workspace(owner, name)
    await join(person, slug, Role.MEMBER)
    person.workspace = slug
    owner_id = (await viewer(owner) or {})["id"]

    project = await create_project(owner, "CORE", f"{name} core")
    mine = await create_issue(person, project, f"{name}: mine 🚀", assigneeId=owner_id)
    for_me = await create_issue(owner, project, f"{name}: for me", assigneeId=person_id)
    theirs = await create_issue(owner, project, f"{name}: theirs")
    await comment(person, mine, f"{name}: my comment ✓")
    await comment(person, theirs, f"{name}: my other comment")
    await comment(owner, for_me, f"{name}: owner's comment")
    await log_time(person, for_me, 900, note=f"{name}: my time")
    await log_time(owner, mine, 300, note=f"{name}: owner's time")
    person.workspace = None
    return owner, slug


async def test_the_report_holds_exactly_the_persons_data_from_every_workspace(
    settings: Settings, jobs: InProcessRunner, make_client: Any
) -> None:
    """Right of access: the person's account, memberships and sessions, and their own rows
    of each workspace (not their teammates'), without secrets."""
    address = new_email("access")
    person = await sign_up_as(make_client, address, "Pat")
    second_device: Client = make_client()
    await second_device.gql(
        "mutation($input: SignInInput!) { signIn(input: $input) { account { id } } }",
        {"input": {"email": address, "password": PASSWORD}},
    )
    me = await viewer(person)
    assert me is not None
    spaces = {}
    for name in ("Alpha", "Beta"):
        spaces[name] = await busy_workspace(make_client, person, me["id"], name)

    created = (await person.gql(ACCESS_REPORT_CREATE))["accessReportCreate"]
    assert created["kind"] == "ACCESS_REPORT" and created["status"] == "QUEUED"
    await jobs.drain()
    report = (await person.gql(DATA_EXPORT, {"id": created["id"]}))["dataExport"]
    assert report["status"] == "SUCCEEDED"
    response = await download(make_client(), settings, report["downloadUrl"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    files = read_zip(response.content)

    per_workspace = {
        f"workspaces/{slug}/{name}" for _, slug in spaces.values() for name in PERSON_FILES
    }
    expected_files = {"account.json", "memberships.json", "sessions.json", *per_workspace}
    assert expected_files <= set(files) - {"manifest.json"}
    manifest = files["manifest.json"]
    assert manifest["format"] == 1 and manifest["kind"] == "ACCESS_REPORT"
    assert manifest["account"] == files["account.json"][0]
    assert manifest["files"] == {
        name: len(files[name]) for name in files if name != "manifest.json"
    }

    assert files["account.json"] == [me]
    memberships = files["memberships.json"]
    assert sorted(m["workspace"]["slug"] for m in memberships) == sorted(
        slug for _, slug in spaces.values()
    )
    assert {m["role"] for m in memberships} == {"MEMBER"}
    account = await Account.get(email_key=address)
    assert len(files["sessions.json"]) == await Session.filter(account_id=account.id).count() == 2

    for name, (owner, slug) in spaces.items():
        api = await owner.gql(ISSUES)
        issues = api["issues"]["nodes"]
        prefix = f"workspaces/{slug}/"
        created_rows = files[f"{prefix}issues_created.json"]
        assert [r["title"] for r in created_rows] == [f"{name}: mine 🚀"]
        assert {r["id"] for r in created_rows} == {
            i["id"] for i in issues if (i["creator"] or {}).get("id") == me["id"]
        }
        assigned = files[f"{prefix}issues_assigned.json"]
        assert [r["title"] for r in assigned] == [f"{name}: for me"]
        assert {r["id"] for r in assigned} == {
            i["id"] for i in issues if (i["assignee"] or {}).get("id") == me["id"]
        }
        assert all(r["creatorId"] == me["id"] for r in created_rows)
        assert all(r["assigneeId"] == me["id"] for r in assigned)
        comments = files[f"{prefix}comments.json"]
        assert sorted(c["body"] for c in comments) == [
            f"{name}: my comment ✓",
            f"{name}: my other comment",
        ]
        assert all(c["authorId"] == me["id"] for c in comments)
        all_comments = {c["id"] for i in issues for c in i["comments"]["nodes"]}
        assert {c["id"] for c in comments} < all_comments
        entries = files[f"{prefix}time_entries.json"]
        assert [(e["note"], e["durationSeconds"]) for e in entries] == [(f"{name}: my time", 900)]
        assert all(e["accountId"] == me["id"] for e in entries)
        assert {e["id"] for e in entries} < {t["id"] for t in api["timeEntries"]["nodes"]}

    # No secret: no session id or its hash, no token hash, no password hash.
    raw = b"".join(zip_bytes(response.content).values())
    secrets = [
        *(await Session.filter(account_id=account.id).values_list("token_hash", flat=True)),
        *(await AccountToken.filter(account_id=account.id).values_list("token_hash", flat=True)),
        account.password_hash,
        *(c.value for c in (*person.http.cookies.jar, *second_device.http.cookies.jar)),
    ]
    assert len(secrets) >= 6
    for secret in secrets:
        assert secret.encode() not in raw
        assert hashlib.sha256(secret.encode()).hexdigest().encode() not in raw
    for word in (b"token_hash", b"tokenHash", b"password", b"$argon2"):
        assert word not in raw


async def test_the_report_is_the_persons_alone(
    settings: Settings, jobs: InProcessRunner, make_client: Any, owner: Client
) -> None:
    """Access reports hold one person's data: even their workspace's owner cannot list it."""
    person = await sign_up_as(make_client, new_email("alone"), "Al")
    assert owner.workspace is not None
    await join(person, owner.workspace, Role.MEMBER)
    created = (await person.gql(ACCESS_REPORT_CREATE))["accessReportCreate"]
    again = (await person.gql(ACCESS_REPORT_CREATE))["accessReportCreate"]
    assert again["id"] == created["id"]
    await jobs.drain()

    listed = [e["id"] for e in (await owner.gql(DATA_EXPORTS))["dataExports"]]
    assert created["id"] not in listed
    assert (await owner.gql(DATA_EXPORT, {"id": created["id"]}))["dataExport"] is None
    mine = [e["id"] for e in (await person.gql(DATA_EXPORTS))["dataExports"]]
    assert created["id"] in mine
    error = await make_client().error(ACCESS_REPORT_CREATE)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_the_report_holds_the_persons_rows_in_workspaces_they_left(
    settings: Settings, jobs: InProcessRunner, make_client: Any
) -> None:
    """Leaving a workspace keeps one's issues, comments and time there: the report lists
    the workspace as a former one and holds those rows, and nothing else of it."""
    person = await sign_up_as(make_client, new_email("leaver"), "Lee")
    me = await viewer(person)
    assert me is not None
    _, kept = await busy_workspace(make_client, person, me["id"], "Kept")
    _, left = await busy_workspace(make_client, person, me["id"], "Left")
    person.workspace = left
    removed = await person.gql(
        "mutation($id: ID!) { memberRemove(accountId: $id) { deletedId } }", {"id": me["id"]}
    )
    assert removed["memberRemove"]["deletedId"] == me["id"]
    person.workspace = None

    created = (await person.gql(ACCESS_REPORT_CREATE))["accessReportCreate"]
    await jobs.drain()
    report = (await person.gql(DATA_EXPORT, {"id": created["id"]}))["dataExport"]
    assert report["status"] == "SUCCEEDED"
    files = read_zip((await download(make_client(), settings, report["downloadUrl"])).content)

    assert [m["workspace"]["slug"] for m in files["memberships.json"]] == [kept]
    assert [w["slug"] for w in files["former_workspaces.json"]] == [left]
    former = f"workspaces/{left}/"
    assert sorted(c["body"] for c in files[f"{former}comments.json"]) == [
        "Left: my comment ✓",
        "Left: my other comment",
    ]
    assert [r["title"] for r in files[f"{former}issues_created.json"]] == ["Left: mine 🚀"]
    assert [r["title"] for r in files[f"{former}issues_assigned.json"]] == ["Left: for me"]
    assert [e["note"] for e in files[f"{former}time_entries.json"]] == ["Left: my time"]
    # Of the workspace left, only the person's rows: none of its settings or sources.
    assert {name for name in files if name.startswith(former)} == {
        former + name for name in PERSON_FILES
    }
    assert {name for name in files if name.startswith(f"workspaces/{kept}/")} > {
        f"workspaces/{kept}/{name}" for name in PERSON_FILES
    }
    assert files["manifest.json"]["files"]["former_workspaces.json"] == 1
