"""API keys: who may make them, what is stored, what a key of each scope may do, and when
a key stops working."""

from __future__ import annotations

import hashlib
import json
import re
import string
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

from lightningtrack import clock
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.models.landlord import ApiKey, DataExport, DataExportKind, Role, Workspace
from lightningtrack.resolvers.api_keys import new_secret, well_formed
from tests.conftest import WORKSPACE_CREATE, Client, unique, with_workspace
from tests.integrators.conftest import (
    API_KEY_CREATE,
    API_KEY_REVOKE,
    API_KEYS,
    ISSUE_CREATE,
    MEMBER_INVITE,
    MEMBER_REMOVE,
    MEMBER_ROLE_UPDATE,
    PROJECT_CREATE,
    account_id,
    account_row,
    create_key,
    create_project,
    join,
    key_client,
    new_email,
    project_key,
    statements,
    touching,
)

BASE62 = string.digits + string.ascii_lowercase + string.ascii_uppercase
SECRET_SHAPE = re.compile(r"^ltk_[0-9A-Za-z]{30}[0-9A-Za-z]{6}$")
COUNTS = "{ projects(includeArchived: true) { totalCount } issues { totalCount } }"
WORKSPACE_SLUG = "{ workspace { slug } }"
DATA_EXPORT_CREATE = "mutation { dataExportCreate { id kind } }"


def crc32_base62(body: str) -> str:
    """The checksum as the format defines it: CRC32 of the body, 6 base62 digits."""
    number = zlib.crc32(body.encode())
    digits = ""
    for _ in range(6):
        number, rest = divmod(number, 62)
        digits = BASE62[rest] + digits
    assert number == 0
    return digits


def issue_input(project_id: str) -> dict[str, Any]:
    return {"input": {"projectId": project_id, "title": "From CI"}}


def project_input(key: str | None = None) -> dict[str, Any]:
    return {"input": {"key": key or project_key(), "name": "Made by a key"}}


async def counts(client: Client) -> tuple[int, int]:
    data = await client.gql(COUNTS)
    return data["projects"]["totalCount"], data["issues"]["totalCount"]


async def code_of(client: Client, query: str, variables: dict[str, Any] | None = None) -> str:
    error = await client.error(query, variables)
    code: str = error["extensions"]["code"]
    return code


async def test_only_admins_and_owners_create_keys(make_client: Any, owner: Client) -> None:
    """A key acts for the workspace: making one is an administrator's decision."""
    admin = await join(make_client, owner, Role.ADMIN, "Ada")
    member = await join(make_client, owner, Role.MEMBER, "Mia")
    guest = await join(make_client, owner, Role.GUEST, "Gus")
    variables = {"input": {"name": "CI", "scopes": ["READ"]}}

    for allowed in (owner, admin):
        data = await allowed.gql(API_KEY_CREATE, variables)
        assert well_formed(data["apiKeyCreate"]["secret"])
    for refused in (member, guest):
        assert await code_of(refused, API_KEY_CREATE, variables) == "FORBIDDEN"
    listed = (await owner.gql(API_KEYS))["apiKeys"]
    assert len(listed) == 2


async def test_secret_is_shown_once_and_only_its_hash_is_stored(
    make_client: Any, owner: Client
) -> None:
    """A leaked database must not leak usable keys; the listing shows a prefix, never the key."""
    data = await owner.gql(API_KEY_CREATE, {"input": {"name": "Deploy", "scopes": ["WRITE"]}})
    secret: str = data["apiKeyCreate"]["secret"]
    shown = data["apiKeyCreate"]["apiKey"]

    assert SECRET_SHAPE.match(secret), secret
    assert well_formed(secret)
    assert secret[34:] == crc32_base62(secret[4:34])
    assert shown["prefix"] == secret[:12]
    assert shown["scopes"] == ["WRITE"]
    assert shown["lastUsedAt"] is None and shown["revokedAt"] is None

    digest = hashlib.sha256(secret.encode()).hexdigest()
    rows = await ApiKey.filter(secret_hash=digest).values()
    assert len(rows) == 1
    stored = rows[0]
    assert stored["prefix"] == secret[:12]
    for column, value in stored.items():
        if column != "prefix":
            assert secret[4:] not in str(value), column
        assert secret not in str(value), column

    listing = await owner.post(API_KEYS)
    text = json.dumps(listing)
    assert secret not in text and secret[12:] not in text
    [listed] = listing["data"]["apiKeys"]
    assert listed["prefix"] == secret[:12]
    assert listed["id"] == shown["id"]


async def test_a_key_binds_its_workspace_without_a_header(make_client: Any, owner: Client) -> None:
    """Integrators send only the key: the key says which workspace it is for."""
    secret, _ = await create_key(owner, ["READ"])
    integrator = key_client(make_client, secret)
    assert (await integrator.gql(WORKSPACE_SLUG))["workspace"]["slug"] == owner.workspace
    viewer = (await integrator.gql("{ viewer { id } }"))["viewer"]
    assert viewer["id"] == await account_id(owner)  # it acts as its creator


async def test_last_used_is_written_on_first_use_then_at_most_every_five_minutes(
    make_client: Any, owner: Client
) -> None:
    """Every request writing the landlord would make a busy key a write hot spot."""
    start = datetime.now(UTC).replace(microsecond=0)
    clock.freeze(start)
    secret, key_id = await create_key(owner, ["READ"])
    digest = hashlib.sha256(secret.encode()).hexdigest()
    integrator = key_client(make_client, secret)
    assert (await owner.gql(API_KEYS))["apiKeys"][0]["lastUsedAt"] is None

    with statements() as sent:
        await integrator.gql(WORKSPACE_SLUG)
        clock.freeze(start + timedelta(minutes=1))
        await integrator.gql(WORKSPACE_SLUG)
    assert len(touching(sent, "UPDATE", "api_key")) == 1, sent
    row = await ApiKey.get(secret_hash=digest)
    assert row.last_used_at == start

    clock.freeze(start + timedelta(minutes=5, seconds=1))
    with statements() as sent:
        await integrator.gql(WORKSPACE_SLUG)
    assert len(touching(sent, "UPDATE", "api_key")) == 1, sent
    row = await ApiKey.get(secret_hash=digest)
    assert row.last_used_at == start + timedelta(minutes=5, seconds=1)
    [listed] = (await owner.gql(API_KEYS))["apiKeys"]
    assert listed["id"] == key_id
    assert datetime.fromisoformat(listed["lastUsedAt"]) == start + timedelta(minutes=5, seconds=1)


async def test_authenticating_a_key_is_one_statement(make_client: Any, owner: Client) -> None:
    """The key, its workspace and its creator's membership and account: one round trip."""
    secret, _ = await create_key(owner, ["READ"])
    integrator = key_client(make_client, secret)
    await integrator.gql("{ __typename }")  # the first use writes lastUsedAt
    with statements() as sent:
        assert (await integrator.gql("{ __typename }")) == {"__typename": "Query"}
    assert len(sent) == 1, sent
    assert touching(sent, "SELECT", "api_key") == sent
    with statements() as sent:
        assert (await integrator.gql(WORKSPACE_SLUG))["workspace"]["slug"] == owner.workspace
    assert len(sent) == 1, sent  # the workspace came with the key


async def test_write_key_creates_issues_but_not_projects(make_client: Any, owner: Client) -> None:
    """WRITE is a MEMBER's reach: issues yes, projects (an ADMIN's job) no."""
    project = await create_project(owner)
    secret, _ = await create_key(owner, ["WRITE"])
    integrator = key_client(make_client, secret)

    created = await integrator.gql(ISSUE_CREATE, issue_input(project["id"]))
    assert created["issueCreate"]["issue"]["key"] == f"{project['key']}-1"
    before = await counts(owner)
    key = project_key()
    assert await code_of(integrator, PROJECT_CREATE, project_input(key)) == "FORBIDDEN"
    assert await counts(owner) == before


async def test_admin_key_creates_projects_when_its_creator_is_an_admin(
    make_client: Any, owner: Client
) -> None:
    """An ADMIN-scope key of an ADMIN (or OWNER) may do what an ADMIN may."""
    admin = await join(make_client, owner, Role.ADMIN, "Ada")
    for creator in (admin, owner):
        secret, _ = await create_key(creator, ["ADMIN"])
        made = await key_client(make_client, secret).gql(PROJECT_CREATE, project_input())
        assert made["projectCreate"]["project"]["id"]


async def test_read_key_cannot_run_any_mutation_but_reads(make_client: Any, owner: Client) -> None:
    """READ is for dashboards and reports: not a single write, whatever the mutation."""
    project = await create_project(owner)
    secret, key_id = await create_key(owner, ["READ"])
    integrator = key_client(make_client, secret)
    me = await account_id(owner)
    before = await counts(owner)

    mutations: list[tuple[str, dict[str, Any]]] = [
        (ISSUE_CREATE, issue_input(project["id"])),
        (PROJECT_CREATE, project_input()),
        (API_KEY_CREATE, {"input": {"name": "more", "scopes": ["ADMIN"]}}),
        (API_KEY_REVOKE, {"id": key_id}),
        (MEMBER_REMOVE, {"id": me}),
        ("mutation { signOut }", {}),
        (DATA_EXPORT_CREATE, {}),
    ]
    for query, variables in mutations:
        assert await code_of(integrator, query, variables) == "FORBIDDEN", query

    assert await counts(owner) == before
    assert len((await owner.gql(API_KEYS))["apiKeys"]) == 1
    data = await integrator.gql(
        "{ workspace { slug } members { role } projects { nodes { key } } issues { totalCount } }"
    )
    assert data["workspace"]["slug"] == owner.workspace
    assert [p["key"] for p in data["projects"]["nodes"]] == [project["key"]]
    assert data["members"] == [{"role": "OWNER"}]


async def test_admin_scope_is_needed_for_keys_invitations_and_exports(
    make_client: Any, owner: Client, jobs: InProcessRunner
) -> None:
    """A WRITE key of an owner still cannot mint keys, invite people or export everything."""
    write_secret, _ = await create_key(owner, ["WRITE", "READ"])
    writer = key_client(make_client, write_secret)
    requests: list[tuple[str, dict[str, Any]]] = [
        (API_KEYS, {}),
        (API_KEY_CREATE, {"input": {"name": "more", "scopes": ["READ"]}}),
        (MEMBER_INVITE, {"email": new_email(), "role": "MEMBER"}),
        (DATA_EXPORT_CREATE, {}),
    ]
    for query, variables in requests:
        assert await code_of(writer, query, variables) == "FORBIDDEN", query
    assert len((await owner.gql(API_KEYS))["apiKeys"]) == 1

    admin_secret, _ = await create_key(owner, ["ADMIN"])
    administrator = key_client(make_client, admin_secret)
    for query, variables in requests:
        body = await administrator.post(query, variables)
        assert not body.get("errors"), (query, body)
    await jobs.drain()
    assert len((await owner.gql(API_KEYS))["apiKeys"]) == 3


async def test_revoked_key_stops_at_once(make_client: Any, owner: Client) -> None:
    """Revoking a leaked key must shut it out on the very next request, for everything."""
    secret, key_id = await create_key(owner, ["ADMIN"])
    integrator = key_client(make_client, secret)
    assert (await integrator.gql(WORKSPACE_SLUG))["workspace"]["slug"] == owner.workspace

    revoked = (await owner.gql(API_KEY_REVOKE, {"id": key_id}))["apiKeyRevoke"]
    assert revoked["revokedAt"] is not None
    for query in ("{ viewer { id } }", "{ __typename }", WORKSPACE_SLUG, API_KEYS):
        assert await code_of(integrator, query) == "UNAUTHENTICATED", query
    assert await code_of(integrator, PROJECT_CREATE, project_input()) == "UNAUTHENTICATED"
    [listed] = (await owner.gql(API_KEYS))["apiKeys"]
    assert listed["revokedAt"] == revoked["revokedAt"]


async def test_a_key_with_a_bad_checksum_is_refused_without_a_lookup(
    make_client: Any, owner: Client
) -> None:
    """Random guesses must cost no database work: the checksum refuses them first."""
    secret, _ = await create_key(owner, ["ADMIN"])
    body = secret[4:34]
    tampered = secret[:4] + ("a" if body[0] != "a" else "b") + secret[5:]
    wrong_check = secret[:34] + ("0" if secret[34] != "0" else "1") + secret[35:]
    malformed = [
        tampered,
        wrong_check,
        secret[:-1],  # too short
        secret + "0",  # too long
        "ltx_" + secret[4:],  # wrong prefix
        secret[:10] + "-" + secret[11:],  # not base62
    ]
    for candidate in malformed:
        assert not well_formed(candidate), candidate
        with statements() as sent:
            error = await key_client(make_client, candidate).error("{ viewer { id } }")
        assert error["extensions"]["code"] == "UNAUTHENTICATED"
        assert touching(sent, "SELECT", "api_key") == [], sent

    # The control: a well-formed key that does not exist is looked up (so the count works).
    unknown = new_secret()
    with statements() as sent:
        error = await key_client(make_client, unknown).error("{ viewer { id } }")
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert touching(sent, "SELECT", "api_key"), sent


async def test_account_level_mutations_refuse_keys(make_client: Any, owner: Client) -> None:
    """A workspace's key must not rename its creator, make workspaces or pull personal data."""
    secret, _ = await create_key(owner, ["ADMIN"])
    integrator = key_client(make_client, secret)
    account = await account_row(owner)
    slug = unique("bykey")

    update = (
        "mutation($input: AccountUpdateInput!) { accountUpdate(input: $input) { account { id } } }"
    )
    assert await code_of(integrator, update, {"input": {"name": "Hacked"}}) == "FORBIDDEN"
    assert (
        await code_of(integrator, WORKSPACE_CREATE, {"input": {"name": "K", "slug": slug}})
        == "FORBIDDEN"
    )
    assert await code_of(integrator, "mutation { accessReportCreate { id } }") == "FORBIDDEN"

    assert (await account_row(owner)).name == account.name
    assert not await Workspace.exists(slug=slug)
    assert not await DataExport.exists(account_id=account.id, kind=DataExportKind.ACCESS_REPORT)


async def test_workspaces_lists_only_the_keys_workspace(make_client: Any, owner: Client) -> None:
    """A key must not reveal the other workspaces its creator belongs to."""
    first = owner.workspace
    secret, _ = await create_key(owner, ["READ"])
    second = await with_workspace(owner, "Second")
    integrator = key_client(make_client, secret)

    listed = (await integrator.gql("{ workspaces { slug } }"))["workspaces"]
    assert listed == [{"slug": first}]
    mine = {w["slug"] for w in (await owner.gql("{ workspaces { slug } }"))["workspaces"]}
    assert {first, second} <= mine


async def test_a_key_cannot_reach_another_workspace(
    make_client: Any, owner: Client, other_workspace: Client
) -> None:
    """X-Workspace does not rebind a key: B's data stays out of reach of A's key."""
    theirs = await create_project(other_workspace)
    secret, _ = await create_key(owner, ["ADMIN"])
    integrator = key_client(make_client, secret)
    b = other_workspace.workspace

    data = await integrator.gql(
        "query($key: String, $id: ID!) { workspace { slug } project(key: $key) { id } "
        "node(id: $id) { id } projects { totalCount } }",
        {"key": theirs["key"], "id": theirs["id"]},
        workspace=b,
    )
    assert data == {
        "workspace": {"slug": owner.workspace},
        "project": None,
        "node": None,
        "projects": {"totalCount": 0},
    }
    code = await code_of(
        integrator,
        ISSUE_CREATE,
        issue_input(theirs["id"]),
    )
    assert code == "NOT_FOUND"
    assert (await other_workspace.gql(COUNTS))["issues"]["totalCount"] == 0


async def test_revoking_another_workspaces_key_is_not_found(
    make_client: Any, owner: Client, other_workspace: Client
) -> None:
    """Key ids are global: A's admins must not be able to switch off B's integrations."""
    b_secret, b_key = await create_key(other_workspace, ["READ"])
    a_secret, _ = await create_key(owner, ["ADMIN"])
    assert await code_of(owner, API_KEY_REVOKE, {"id": b_key}) == "NOT_FOUND"
    assert await code_of(key_client(make_client, a_secret), API_KEY_REVOKE, {"id": b_key}) == (
        "NOT_FOUND"
    )
    b_integrator = key_client(make_client, b_secret)
    slug = (await b_integrator.gql(WORKSPACE_SLUG))["workspace"]["slug"]
    assert slug == other_workspace.workspace
    [listed] = (await other_workspace.gql(API_KEYS))["apiKeys"]
    assert listed["revokedAt"] is None


async def test_a_key_stops_when_its_creator_leaves(make_client: Any, owner: Client) -> None:
    """Someone removed from a team must not keep access through keys they made."""
    admin = await join(make_client, owner, Role.ADMIN, "Ada")
    secret, _ = await create_key(admin, ["ADMIN"])
    integrator = key_client(make_client, secret)
    assert (await integrator.gql(WORKSPACE_SLUG))["workspace"]["slug"] == owner.workspace

    await owner.gql(MEMBER_REMOVE, {"id": await account_id(admin)})
    assert await code_of(integrator, WORKSPACE_SLUG) == "UNAUTHENTICATED"
    assert await code_of(integrator, "{ viewer { id } }") == "UNAUTHENTICATED"


async def test_a_key_never_exceeds_its_creators_current_role(
    make_client: Any, owner: Client
) -> None:
    """Demoting someone must also demote the keys they made, on the next request."""
    project = await create_project(owner)
    admin = await join(make_client, owner, Role.ADMIN, "Ada")
    secret, _ = await create_key(admin, ["ADMIN"])
    integrator = key_client(make_client, secret)
    assert (await integrator.gql(PROJECT_CREATE, project_input()))["projectCreate"]

    await owner.gql(MEMBER_ROLE_UPDATE, {"id": await account_id(admin), "role": "MEMBER"})
    before = await counts(owner)
    assert await code_of(integrator, PROJECT_CREATE, project_input()) == "FORBIDDEN"
    assert await code_of(integrator, API_KEYS) == "FORBIDDEN"
    assert await counts(owner) == before
    assert (await integrator.gql(ISSUE_CREATE, issue_input(project["id"])))["issueCreate"]
