"""Projects: creation and key rules, lookup by id and key, listing, changes and deletion."""

from __future__ import annotations

from typing import Any

from tests.conftest import Client
from tests.tracking.conftest import (
    PROJECT_BY_ID,
    PROJECT_BY_KEY,
    PROJECT_CREATE,
    PROJECT_DELETE,
    PROJECT_UPDATE,
    create_comment,
    create_issue,
    create_project,
    log_time,
    node,
)

PROJECTS = """
query($first: Int, $after: String, $archived: Boolean) {
  projects(first: $first, after: $after, includeArchived: $archived) {
    totalCount nodes { key } pageInfo { hasNextPage endCursor }
  }
}
"""


async def project_keys(client: Client, archived: bool | None = None) -> list[str]:
    data = await client.gql(PROJECTS, {"archived": archived})
    return [p["key"] for p in data["projects"]["nodes"]]


async def test_project_create_is_listed_and_found_by_id_and_key(owner: Client) -> None:
    """A new project shows in the listing and resolves by id, by key and as a node."""
    data = await owner.gql(
        PROJECT_CREATE, {"input": {"key": "WEB", "name": " Website ", "description": "Public"}}
    )
    project = data["projectCreate"]["project"]
    assert project["key"] == "WEB"
    assert project["name"] == "Website"
    assert project["description"] == "Public"
    assert project["archived"] is False

    assert await project_keys(owner) == ["WEB"]
    assert (await owner.gql(PROJECT_BY_ID, {"id": project["id"]}))["project"] == project
    assert (await owner.gql(PROJECT_BY_KEY, {"key": "WEB"}))["project"] == project
    assert (await owner.gql(PROJECT_BY_KEY, {"key": "API"}))["project"] is None
    found = await node(owner, project["id"])
    assert found is not None
    assert found["__typename"] == "Project"
    assert found["key"] == "WEB"


async def test_project_key_rules(owner: Client) -> None:
    """A key is 2 to 10 of A-Z and 0-9: anything else is BAD_USER_INPUT on input.key and
    creates nothing; keys at the limits are fine."""
    for key in ("W", "ABCDEFGHIJK", "web", "WE B", "WE-B", "WÉB", "", " WEB", "WEB\n", "AB\n"):
        error = await owner.error(PROJECT_CREATE, {"input": {"key": key, "name": "X"}})
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.key"}, key
    assert await project_keys(owner, archived=True) == []
    for key in ("AB", "ABCDEFGHIJ", "V2", "42"):
        assert (await create_project(owner, key))["key"] == key


async def test_taken_project_key_is_a_conflict(owner: Client) -> None:
    """Keys are unique in the workspace: a second WEB is CONFLICT on input.key, even archived."""
    project = await create_project(owner, "WEB")
    await owner.gql(PROJECT_UPDATE, {"id": project["id"], "input": {"archived": True}})
    error = await owner.error(PROJECT_CREATE, {"input": {"key": "WEB", "name": "Again"}})
    assert error["extensions"] == {"code": "CONFLICT", "field": "input.key"}
    data = await owner.gql(PROJECTS, {"archived": True})
    assert data["projects"]["totalCount"] == 1


async def test_same_key_in_another_workspace_is_fine(
    owner: Client, other_workspace: Client
) -> None:
    """Uniqueness is per workspace."""
    await create_project(owner, "WEB")
    assert (await create_project(other_workspace, "WEB"))["key"] == "WEB"


BAD_PROJECT_CHANGES: list[tuple[dict[str, Any], str]] = [
    ({"name": ""}, "input.name"),
    ({"name": "   "}, "input.name"),
    ({"name": "x" * 201}, "input.name"),
    ({"name": None}, "input.name"),
    ({"archived": None}, "input.archived"),
    ({"description": "x" * 65537}, "input.description"),
]


async def test_bad_project_update_is_rejected_and_changes_nothing(owner: Client) -> None:
    """Invalid changes, explicit nulls included, leave the project as it was: the valid
    fields sent alongside are not written either."""
    project = await create_project(owner, "WEB", name="Website")
    for changes, field in BAD_PROJECT_CHANGES:
        error = await owner.error(
            PROJECT_UPDATE, {"id": project["id"], "input": {"description": "new", **changes}}
        )
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, changes
    assert (await owner.gql(PROJECT_BY_ID, {"id": project["id"]}))["project"] == project


async def test_project_update_changes_only_the_given_fields(owner: Client) -> None:
    """Left-out fields keep their values; description: null clears it."""
    data = await owner.gql(
        PROJECT_CREATE, {"input": {"key": "WEB", "name": "Website", "description": "Text"}}
    )
    project = data["projectCreate"]["project"]
    data = await owner.gql(PROJECT_UPDATE, {"id": project["id"], "input": {"name": "Site"}})
    assert data["projectUpdate"]["project"] == {**project, "name": "Site"}
    data = await owner.gql(PROJECT_UPDATE, {"id": project["id"], "input": {"description": None}})
    assert data["projectUpdate"]["project"] == {**project, "name": "Site", "description": None}


async def test_archived_projects_are_listed_only_when_asked(owner: Client) -> None:
    """includeArchived defaults to false; archived projects stay reachable by key."""
    await create_project(owner, "WEB")
    api = await create_project(owner, "API")
    await owner.gql(PROJECT_UPDATE, {"id": api["id"], "input": {"archived": True}})
    assert await project_keys(owner) == ["WEB"]
    assert await project_keys(owner, archived=False) == ["WEB"]
    assert await project_keys(owner, archived=True) == ["WEB", "API"]
    data = await owner.gql(PROJECT_BY_KEY, {"key": "API"})
    assert data["project"]["archived"] is True


async def test_projects_page_with_keyset_cursors(owner: Client) -> None:
    """Projects page in creation order; a deleted project does not shift the next page."""
    keys = [f"P{n:02d}" for n in range(7)]
    created = [await create_project(owner, key) for key in keys]
    data = await owner.gql(PROJECTS, {"first": 3})
    page = data["projects"]
    assert [p["key"] for p in page["nodes"]] == keys[:3]
    assert page["totalCount"] == 7
    assert page["pageInfo"]["hasNextPage"] is True
    await owner.gql(PROJECT_DELETE, {"id": created[1]["id"]})
    data = await owner.gql(PROJECTS, {"first": 3, "after": page["pageInfo"]["endCursor"]})
    assert [p["key"] for p in data["projects"]["nodes"]] == keys[3:6]
    assert data["projects"]["totalCount"] == 6


async def test_project_delete_takes_issues_comments_and_time_along(owner: Client) -> None:
    """Deleting a project deletes what hangs off it, and nothing of other projects."""
    web = await create_project(owner, "WEB")
    api = await create_project(owner, "API")
    issue = await create_issue(owner, web["id"])
    comment = await create_comment(owner, issue["id"])
    entry = await log_time(owner, issue["id"], 100)
    kept = await create_issue(owner, api["id"])
    await log_time(owner, kept["id"], 30)

    data = await owner.gql(PROJECT_DELETE, {"id": web["id"]})
    assert data["projectDelete"]["deletedId"] == web["id"]
    for gone in (web, issue, comment, entry):
        assert await node(owner, gone["id"]) is None
    assert (await owner.gql(PROJECT_BY_KEY, {"key": "WEB"}))["project"] is None
    data = await owner.gql("{ issues { nodes { key } } timeEntries { totalSeconds } }")
    assert data == {"issues": {"nodes": [{"key": "API-1"}]}, "timeEntries": {"totalSeconds": 30}}
    error = await owner.error(PROJECT_DELETE, {"id": web["id"]})
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_project_time_spent_sums_its_issues(owner: Client) -> None:
    """timeSpentSeconds adds up every entry of every issue of the project, and no others."""
    web = await create_project(owner, "WEB")
    api = await create_project(owner, "API")
    one = await create_issue(owner, web["id"])
    two = await create_issue(owner, web["id"])
    other = await create_issue(owner, api["id"])
    await log_time(owner, one["id"], 100)
    await log_time(owner, one["id"], 20)
    await log_time(owner, two["id"], 3)
    await log_time(owner, other["id"], 5000)
    data = await owner.gql(
        "{ projects { nodes { key timeSpentSeconds issues { totalCount nodes { key } } } } }"
    )
    assert data["projects"]["nodes"] == [
        {
            "key": "WEB",
            "timeSpentSeconds": 123,
            "issues": {"totalCount": 2, "nodes": [{"key": "WEB-1"}, {"key": "WEB-2"}]},
        },
        {
            "key": "API",
            "timeSpentSeconds": 5000,
            "issues": {"totalCount": 1, "nodes": [{"key": "API-1"}]},
        },
    ]


async def test_project_issues_take_their_arguments(owner: Client) -> None:
    """A project's issues: filter, order and keyset pages given as arguments or variables,
    and every argument left out (each row's list defaults to the first page)."""
    web = await create_project(owner, "WEB")
    for n, status in enumerate(["TODO", "DONE", "TODO", "TODO"]):
        await create_issue(owner, web["id"], f"Issue {n}", status=status)
    nested = """
    query($first: Int, $after: String) {
      project(key: "WEB") {
        all: issues { totalCount nodes { key } }
        todo: issues(filter: {status: [TODO]}, orderBy: {field: NUMBER, direction: DESC},
                     first: $first, after: $after) {
          totalCount nodes { key } pageInfo { hasNextPage endCursor }
        }
      }
    }
    """
    first = (await owner.gql(nested, {"first": 2}))["project"]
    assert first["all"] == {
        "totalCount": 4,
        "nodes": [{"key": f"WEB-{n}"} for n in range(1, 5)],
    }
    assert first["todo"]["totalCount"] == 3
    assert first["todo"]["nodes"] == [{"key": "WEB-4"}, {"key": "WEB-3"}]
    assert first["todo"]["pageInfo"]["hasNextPage"] is True
    cursor = first["todo"]["pageInfo"]["endCursor"]
    rest = (await owner.gql(nested, {"first": 2, "after": cursor}))["project"]["todo"]
    assert rest["nodes"] == [{"key": "WEB-1"}]
    assert rest["pageInfo"]["hasNextPage"] is False
    # An explicit null is the same as leaving the argument out.
    null = (await owner.gql(nested, {"first": None}))["project"]["todo"]
    assert [n["key"] for n in null["nodes"]] == ["WEB-4", "WEB-3", "WEB-1"]
