"""The raw baseline: the same rows from hand-written SQL on Starlette + asyncpg.

It is what the database allows: no GraphQL, no ORM, no authentication. Run by the
harness as ``uvicorn bench.baseline:app --workers 2`` with ``BENCH_WORKSPACE_DSN`` and
``BENCH_LANDLORD_DSN`` set.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DASHBOARD = """
SELECT i.number, i.title, p.key AS project_key, p.name AS project_name, i.assignee_id,
  COALESCE((SELECT array_agg(l.name ORDER BY l.name) FROM issue_label il
            JOIN label l ON l.id = il.label_id WHERE il.issue_id = i.id), '{}') AS labels,
  COALESCE((SELECT SUM(t.duration_seconds) FROM time_entry t WHERE t.issue_id = i.id), 0)
    AS spent,
  (SELECT COUNT(*) FROM comment c WHERE c.issue_id = i.id) AS comment_count
FROM issue i JOIN project p ON p.id = i.project_id
WHERE i.status = ANY($1::text[]) ORDER BY i.created_at, i.id LIMIT 50
"""
ISSUE = """
SELECT i.id, i.number, i.title, i.description, i.status, p.key AS project_key
FROM issue i JOIN project p ON p.id = i.project_id WHERE p.key = $1 AND i.number = $2
"""
COMMENTS = (
    "SELECT body, created_at, author_id FROM comment WHERE issue_id = $1 ORDER BY id LIMIT 20"
)
NAMES = "SELECT id, name FROM account WHERE id = ANY($1::uuid[])"
NEXT_NUMBER = (
    "UPDATE project SET last_issue_number = last_issue_number + 1 WHERE id = $1 "
    "RETURNING key, last_issue_number"
)
INSERT = """
INSERT INTO issue (project_id, number, title, status, priority, priority_rank,
                   created_at, updated_at)
VALUES ($1, $2, $3, 'BACKLOG', 'NONE', 5, now(), now()) RETURNING id
"""

pools: dict[str, asyncpg.Pool] = {}


def _json(data: Any) -> Response:
    return Response(orjson.dumps({"data": data}), media_type="application/json")


async def _names(ids: set[Any]) -> dict[Any, str]:
    rows = await pools["landlord"].fetch(NAMES, list(ids))
    return {row["id"]: row["name"] for row in rows}


async def typename(request: Request) -> Response:
    await request.body()
    return _json({"__typename": "Query"})


async def dashboard(request: Request) -> Response:
    await request.body()
    rows = await pools["workspace"].fetch(DASHBOARD, ["TODO", "IN_PROGRESS"])
    names = await _names({r["assignee_id"] for r in rows if r["assignee_id"]})
    nodes = [
        {
            "key": f"{r['project_key']}-{r['number']}",
            "title": r["title"],
            "project": {"key": r["project_key"], "name": r["project_name"]},
            "assignee": {"name": names[r["assignee_id"]]} if r["assignee_id"] in names else None,
            "labels": list(r["labels"]),
            "timeSpentSeconds": int(r["spent"]),
            "comments": {"totalCount": r["comment_count"]},
        }
        for r in rows
    ]
    return _json({"issues": {"nodes": nodes}})


async def issue(request: Request) -> Response:
    body = orjson.loads(await request.body())
    project_key, _, number = body["variables"]["key"].rpartition("-")
    found = await pools["workspace"].fetchrow(ISSUE, project_key, int(number))
    comments = await pools["workspace"].fetch(COMMENTS, found["id"])
    names = await _names({c["author_id"] for c in comments if c["author_id"]})
    return _json(
        {
            "issue": {
                "key": f"{found['project_key']}-{found['number']}",
                "title": found["title"],
                "description": found["description"],
                "status": found["status"],
                "project": {"key": found["project_key"]},
                "comments": {
                    "nodes": [
                        {
                            "body": c["body"],
                            "createdAt": c["created_at"].isoformat(),
                            "author": {"name": names.get(c["author_id"])},
                        }
                        for c in comments
                    ]
                },
            }
        }
    )


async def create(request: Request) -> Response:
    body = orjson.loads(await request.body())
    data = body["variables"]["input"]
    async with pools["workspace"].acquire() as conn, conn.transaction():
        project = await conn.fetchrow(NEXT_NUMBER, int(data["projectPk"]))
        new_id = await conn.fetchval(INSERT, int(data["projectPk"]), project[1], data["title"])
    return _json(
        {"issueCreate": {"issue": {"id": str(new_id), "key": f"{project[0]}-{project[1]}"}}}
    )


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    pools["workspace"] = await asyncpg.create_pool(
        os.environ["BENCH_WORKSPACE_DSN"], min_size=1, max_size=8
    )
    pools["landlord"] = await asyncpg.create_pool(
        os.environ["BENCH_LANDLORD_DSN"], min_size=1, max_size=4
    )
    yield
    for pool in pools.values():
        await pool.close()


app = Starlette(
    routes=[
        Route("/typename", typename, methods=["POST"]),
        Route("/dashboard", dashboard, methods=["POST"]),
        Route("/issue", issue, methods=["POST"]),
        Route("/create", create, methods=["POST"]),
    ],
    lifespan=lifespan,
)
