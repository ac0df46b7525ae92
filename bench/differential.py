"""Differential run: documents answered compiled and field by field, compared byte for byte.

    python3 -m bench.differential DIR [DIR ...] [--postgres [SERVER]]

Each ``*.graphql`` file in the folders is one document; ``NAME.json`` beside it, if present,
holds its variables. ``{{name}}`` in either is replaced by an id of the seeded data (see
``PLACEHOLDERS``), so that documents written elsewhere can name rows they cannot know.

The run seeds a fresh installation (SQLite in a temporary folder; with ``--postgres``,
databases named ``lt_diff_*`` on SERVER, postgres://postgres@127.0.0.1:5432 unless
given, dropped afterwards): a workspace with
projects, issues, labels, comments and time entries by three people, and a second
workspace whose rows the first must never see. Every document is sent, with a READ API
key of the first workspace, three ways: with compiled selection sets, with plain fields
read directly, and with every field through graphql-core's ``execute_field``. The three
JSON bodies must be identical, errors and their paths included. A document that is not a
query (a mutation would change what the next way reads) is skipped and says so.

Prints one line per document (``same``, with how many objects the compiled path built, or
``DIFFERENT`` with the first place where the bodies part) and exits 1 if any differs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from graphql import GraphQLSyntaxError, OperationDefinitionNode, OperationType, parse

from bench.databases import SERVER, drop_databases
from bench.seed import _fill, _owner
from lightningtrack.app import create_app
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.models import workspace as wsm
from lightningtrack.models.landlord import Membership, Role
from lightningtrack.resolvers import api_keys, ids
from lightningtrack.resolvers.workspaces import create_workspace
from lightningtrack.schema.execution import COMPILER, FieldByFieldExecution
from lightningtrack.settings import load_settings
from lightningtrack.tenancy.runtime import Tenancy

LANDLORD_DB = "lt_diff"
# (read plain fields directly, compile selection sets): the three ways, compiled first.
MODES = ((True, True), (True, False), (False, False))
PLACEHOLDERS = {
    "issue_id": "an issue of the workspace, with comments and time entries",
    "issue_key": "the same issue's key",
    "project_id": "the project of that issue",
    "comment_id": "a comment of that issue",
    "time_entry_id": "a time entry of the workspace",
    "account_id": "the owner, a member of both workspaces",
    "other_issue_id": "an issue of the other workspace",
    "other_project_id": "a project of the other workspace",
}
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")


@dataclass(frozen=True)
class Document:
    name: str
    query: str
    variables: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    name: str
    verdict: str  # "same", "DIFFERENT", "skipped"
    detail: str = ""
    body: bytes = b""  # the compiled way's response


def documents(folders: list[Path], values: dict[str, str]) -> Iterator[Document | Outcome]:
    """The documents of the folders, placeholders filled; unreadable ones as outcomes."""
    for folder in folders:
        for path in sorted(folder.glob("*.graphql")):
            name = str(path)
            try:
                query = fill(path.read_text(), values)
                variables_path = path.with_suffix(".json")
                variables = (
                    json.loads(fill(variables_path.read_text(), values))
                    if variables_path.exists()
                    else {}
                )
            except (KeyError, ValueError, OSError) as error:
                yield Outcome(name, "skipped", f"unreadable: {error}")
                continue
            if not isinstance(variables, dict):
                yield Outcome(name, "skipped", "its variables are not a JSON object")
                continue
            yield Document(name, query, variables)


def fill(text: str, values: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"no placeholder {{{{{key}}}}}; known: {', '.join(sorted(values))}")
        return values[key]

    return _PLACEHOLDER.sub(one, text)


def only_queries(query: str) -> str | None:
    """Why the document is not sent (not a query), or None."""
    try:
        tree = parse(query)
    except GraphQLSyntaxError:
        return None  # sent all the same: the error must be alike too
    for definition in tree.definitions:
        if (
            isinstance(definition, OperationDefinitionNode)
            and definition.operation != OperationType.QUERY
        ):
            return f"a {definition.operation.value}: it would change what the next way reads"
    return None


def compare(bodies: list[bytes]) -> str:
    """Empty when the bodies are identical, else where the first two that differ part."""
    first = bodies[0]
    for way, other in enumerate(bodies[1:], start=1):
        if other != first:
            at = next(
                (i for i, (a, b) in enumerate(zip(first, other, strict=False)) if a != b),
                min(len(first), len(other)),
            )
            start = max(0, at - 60)
            return (
                f"way {way} differs from the compiled way at byte {at}: "
                f"{first[start : at + 60].decode(errors='replace')!r} against "
                f"{other[start : at + 60].decode(errors='replace')!r}"
            )
    return ""


def use_mode(mode: tuple[bool, bool]) -> None:
    (
        FieldByFieldExecution.read_plain_fields_directly,
        FieldByFieldExecution.compile_selection_sets,
    ) = mode


async def answer(http: httpx.AsyncClient, key: str, document: Document) -> Outcome:
    why = only_queries(document.query)
    if why is not None:
        return Outcome(document.name, "skipped", why)
    bodies = []
    built = 0
    try:
        for mode in MODES:
            use_mode(mode)
            before = COMPILER.built
            response = await http.post(
                "/graphql",
                json={"query": document.query, "variables": document.variables},
                headers={"Authorization": f"Bearer {key}"},
            )
            if mode == MODES[0]:
                built = COMPILER.built - before
            bodies.append(response.content)
    finally:
        use_mode(MODES[0])
    difference = compare(bodies)
    if difference:
        return Outcome(document.name, "DIFFERENT", difference, bodies[0])
    errors = len(json.loads(bodies[0]).get("errors") or [])
    return Outcome(
        document.name, "same", f"{built} objects built compiled, {errors} errors", bodies[0]
    )


async def _seed(settings: Any, tenancy: Tenancy) -> tuple[str, dict[str, str]]:
    """Both workspaces; the first's READ API key and the placeholders' values."""
    rng = random.Random(7)
    owner = await _owner("owner")
    people = [owner.id]
    ours = await create_workspace(settings, owner, "Ours", "ours", None)
    for n in range(2):
        member = await _owner(f"member{n}")
        await Membership.create(workspace=ours, account=member, role=Role.MEMBER)
        people.append(member.id)
    await _fill(tenancy, ours, people, projects=3, issues=90, comments=200, entries=60, rng=rng)
    theirs = await create_workspace(settings, owner, "Theirs", "theirs", None)
    await _fill(tenancy, theirs, [owner.id], projects=1, issues=5, comments=5, entries=2, rng=rng)
    async with tenancy.workspace(ours):
        issue = (await wsm.Issue.all().order_by("id").limit(1).select_related("project"))[0]
        comment = (await wsm.Comment.filter(issue_id=issue.id).order_by("id").limit(1))[0]
        entry = (await wsm.TimeEntry.all().order_by("id").limit(1))[0]
    async with tenancy.workspace(theirs):
        other_issue = (await wsm.Issue.all().order_by("id").limit(1))[0]
        other_project = (await wsm.Project.all().order_by("id").limit(1))[0]
    values = {
        "issue_id": ids.encode_scoped("Issue", ours.id, issue.id),
        "issue_key": f"{issue.project.key}-{issue.number}",
        "project_id": ids.encode_scoped("Project", ours.id, issue.project_id),
        "comment_id": ids.encode_scoped("Comment", ours.id, comment.id),
        "time_entry_id": ids.encode_scoped("TimeEntry", ours.id, entry.id),
        "account_id": ids.encode("Account", owner.id),
        "other_issue_id": ids.encode_scoped("Issue", theirs.id, other_issue.id),
        "other_project_id": ids.encode_scoped("Project", theirs.id, other_project.id),
    }
    membership = await Membership.get(workspace=ours, account=owner).select_related("workspace")
    _, secret = await api_keys.create(membership, "differential", ["READ"])
    return secret, values


async def run(folders: list[Path], *, postgres: str | None) -> list[Outcome]:
    with tempfile.TemporaryDirectory(prefix="lt-diff-") as data_dir:
        env = {
            "LT_DATA_DIR": data_dir,
            "LT_SECRET_KEY": "differential-" + "x" * 40,
            "LT_RATE_LIMIT_PER_MINUTE": "100000000",
            "LT_RATE_LIMIT_BURST": "100000000",
        }
        landlord = f"{LANDLORD_DB}_{uuid.uuid4().hex[:8]}"
        if postgres:
            env["LT_DATABASE_URL"] = f"{postgres}/{landlord}"
            await drop_databases(landlord, create=True, server=postgres)
        settings = load_settings(env)
        tenancy = Tenancy(settings)
        await tenancy.start(janitor=False)
        runner = InProcessRunner(settings, tenancy)
        try:
            key, values = await _seed(settings, tenancy)
            app = create_app(settings, tenancy, runner)
            transport = httpx.ASGITransport(app=app)
            outcomes = []
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
                for item in documents(folders, values):
                    outcomes.append(
                        item if isinstance(item, Outcome) else await answer(http, key, item)
                    )
            return outcomes
        finally:
            await runner.close()
            await tenancy.stop()
            if postgres:
                await drop_databases(landlord, server=postgres)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.differential", description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="folders of *.graphql documents")
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=SERVER,
        metavar="SERVER",
        help=f"a PostgreSQL server URL (without a database), not SQLite; default {SERVER}",
    )
    args = parser.parse_args(argv)
    missing = [str(f) for f in args.folders if not f.is_dir()]
    if missing:
        print(f"bench.differential: not a folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    outcomes = asyncio.run(run(args.folders, postgres=args.postgres))
    for outcome in outcomes:
        print(f"{outcome.verdict:9} {outcome.name}  {outcome.detail}".rstrip())
    different = sum(o.verdict == "DIFFERENT" for o in outcomes)
    same = sum(o.verdict == "same" for o in outcomes)
    print(f"{same} same, {different} different, {len(outcomes) - same - different} skipped")
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
