"""Planned root fields: the root ``issues`` connection answered from its rows.

Compiled selection sets (``compiled``) still start from objects: a resolver reads the page
into Tortoise models, wraps each in a Strawberry object with its facts, and builds the
connection around them, before any builder runs. For the root list of issues (a
dashboard's query) all of that is known from the document alone: which facts the
statement must read (projects, labels, time spent, comment counts), whose accounts, and
what the response holds. A planned field is that knowledge, made once per document: the
wanted facts and the builders that turn the page's models, facts and accounts straight into
the response dictionary, with no resolver, no object and no completion per field. Each
object's builder is a function written out for the fields the document selects
(``_generated``): its values read inline and completed only where they are not answered as
they are.

A plan exists only for a selection every part of which it answers as the resolvers and
graphql-core would (the fields in ``_TABLES``, without arguments below the root). At
request time anything unexpected (the membership check, an argument the resolver would
refuse, a cursor that does not decode, a row whose project went, a value a scalar cannot
serialize, null where it is not allowed, any error of the database) gives up the plan for
this request: the executor then runs the field's resolver as always, which answers exactly
what it always would, errors included. Planning reads nothing but the rows, so starting
again loses nothing.

Plans are cached like compiled builders: by the field's nodes (those of the parsed
document, kept by the parser cache), the root type itself and the operation's Boolean
variables (for ``@include``/``@skip``), in a bounded cache whose entries hold what their
keys name.
"""

from __future__ import annotations

import enum
import keyword
from collections.abc import Awaitable, Callable
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.values import get_argument_values
from graphql.type.scalars import GRAPHQL_MAX_INT, GRAPHQL_MIN_INT
from strawberry.schema.schema_converter import GraphQLCoreConverter

from lightningtrack.models import workspace as models
from lightningtrack.resolvers import ids, issues, projects
from lightningtrack.resolvers.issue_facts import Fact, Facts
from lightningtrack.resolvers.pagination import Page, PageArgs
from lightningtrack.schema.compiled import Collect, NodeCache, Unfit, as_is_type, complete_leaf

# A field of a table: how to read it from its object's source, and what the statement must
# read for it (facts, accounts, the page's total or far side).
Read = Callable[[Any], Any]
Build = Callable[[Any], Any]


class Column(NamedTuple):
    read: Read
    needs: frozenset[str] = frozenset()
    # The attribute path ``read`` follows from its source ("facts.labels"; "" for the
    # source itself), read inline by the generated builder; None: the builder calls read.
    path: str | None = None


def _attribute(path: str, needs: frozenset[str] = frozenset()) -> Column:
    # The path is written into generated source (see _generated): identifiers only.
    if not all(name.isidentifier() and not keyword.iskeyword(name) for name in _parts(path)):
        raise ValueError(f"not an attribute path: {path!r}")
    return Column(attrgetter(path) if path else _same, needs, path)


def _parts(path: str) -> list[str]:
    return path.split(".") if path else []


class _Row(NamedTuple):
    """An issue of the page, its facts, and the accounts read for the page."""

    issue: models.Issue
    facts: Facts
    people: dict[Any, Any]


class _Answer(NamedTuple):
    """What the connection's fields read: the page, its rows, what the plan awaited."""

    page: Page[models.Issue]
    rows: list[_Row]
    total: int | None
    has_next: bool | None
    has_previous: bool | None


def _person(row: _Row, account_id: Any) -> Any:
    return None if account_id is None else row.people.get(account_id)


def _edges(answer: _Answer) -> list[tuple[str, _Row]]:
    cursors = answer.page.cursors
    return [(cursors[index], row) for index, row in enumerate(answer.rows)]


def _start(answer: _Answer) -> str | None:
    cursors = answer.page.cursors
    return cursors[0] if cursors else None


def _end(answer: _Answer) -> str | None:
    cursors = answer.page.cursors
    return cursors[-1] if cursors else None


def _same(value: Any) -> Any:
    return value


def _account_id(account: Any) -> str:
    return ids.encode("Account", account.id)


_ASSIGNEE = "assignee"
_CREATOR = "creator"
_TOTAL = "total"
_HAS_NEXT = "has_next"
_HAS_PREVIOUS = "has_previous"

# What each type of the plan answers, by GraphQL field name: read from the source the
# parent's field hands it (the connection: an _Answer; an edge: (cursor, row); an issue:
# a _Row; a project and an account: their models; an issue's comments: its count). Fields
# the types copy from their models as they are (``from_model``) are added below by their
# Python names.
_TABLES: dict[str, dict[str, Column]] = {
    "IssueConnection": {
        "totalCount": _attribute("total", frozenset({_TOTAL})),
        "nodes": _attribute("rows"),
        "edges": Column(_edges),
        "pageInfo": _attribute(""),
    },
    "IssueEdge": {"cursor": Column(itemgetter(0)), "node": Column(itemgetter(1))},
    "PageInfo": {
        "hasNextPage": _attribute("has_next", frozenset({_HAS_NEXT})),
        "hasPreviousPage": _attribute("has_previous", frozenset({_HAS_PREVIOUS})),
        "startCursor": Column(_start),
        "endCursor": Column(_end),
    },
    "Issue": {
        "id": Column(lambda row: issues.global_id(row.issue)),
        "key": Column(lambda row: issues.issue_key(row.issue, row.facts.project.key)),
        "project": _attribute("facts.project"),
        "assignee": Column(lambda row: _person(row, row.issue.assignee_id), frozenset({_ASSIGNEE})),
        "creator": Column(lambda row: _person(row, row.issue.creator_id), frozenset({_CREATOR})),
        "labels": _attribute("facts.labels", frozenset({Fact.LABELS})),
        "timeSpentSeconds": _attribute("facts.time_spent", frozenset({Fact.TIME_SPENT})),
        "comments": _attribute("facts.comment_count", frozenset({Fact.COMMENT_COUNT})),
    },
    "CommentConnection": {"totalCount": _attribute("")},
    "Project": {"id": Column(projects.global_id)},
    "Account": {"id": Column(_account_id)},
}
# Python names of the attributes each type copies from its model as they are.
_COPIED = {
    "Issue": (
        "number",
        "title",
        "description",
        "status",
        "priority",
        "estimate_seconds",
        "created_at",
        "updated_at",
    ),
    "Project": ("key", "name", "description", "archived", "created_at", "updated_at"),
    "Account": ("name", "email", "email_verified", "created_at", "deletion_scheduled_at"),
}
# Where a type's source is not its model: the attribute that holds it.
_MODEL_OF = {"Issue": "issue."}
# Types whose objects many rows of a page share.
_SHARED = frozenset({"Project", "Account"})
_PEOPLE = {_ASSIGNEE: "assignee_id", _CREATOR: "creator_id"}


class Plan(NamedTuple):
    build: Build  # the connection's response from an _Answer
    facts: frozenset[Fact]
    people: tuple[str, ...]  # the issue columns whose accounts the page reads
    total: bool
    has_next: bool
    has_previous: bool


def _column(object_type: GraphQLObjectType, name: str, field: GraphQLField) -> Column | None:
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    # A field with permissions or extensions runs them: only its resolver answers it.
    if definition is None or definition.permission_classes or definition.extensions:
        return None
    found = _TABLES.get(object_type.name, {}).get(name)
    if found is not None:
        return found
    python_name = definition.python_name
    # Only a plain field (no resolver) is its object's copy of the model's attribute.
    plain = getattr(field.resolve, "_is_default", False) and definition.is_basic_field
    if plain and python_name in _COPIED.get(object_type.name, ()):
        return _attribute(_MODEL_OF.get(object_type.name, "") + python_name)
    return None


class _Step(NamedTuple):
    """A field of an object's response: its name, how its value is read, and completed."""

    name: str
    column: Column | None  # None: __typename
    complete: Build | None  # None: __typename, the object's type name
    as_is: type | None  # values of this type are answered as they are
    nullable: bool
    small_int: bool = False  # an Int: ints within 32 bits are answered as they are


def _generated(type_name: str, steps: list[_Step]) -> Build:
    """The builder of one object's response, written out as a function of its own: each
    field read inline (an attribute path) or by one call, completed only where its value
    is not of the type answered as it is; null where it may be, Unfit where it may not.

    The source names nothing from the request: response names are repr() literals (and
    GraphQL names, which the parser holds to letters, digits and underscores), attribute
    paths are the plan's own identifiers (``_attribute`` takes no other), and every
    callable is passed in by name."""
    namespace: dict[str, Any] = {"Unfit": Unfit}
    lines = ["def build(s):"]
    entries = []
    for index, step in enumerate(steps):
        value = f"v{index}"
        entries.append(f"{step.name!r}: {value}")
        if step.complete is None:  # __typename
            lines.append(f"    {value} = {type_name!r}")
            continue
        column = step.column
        assert isinstance(column, Column)
        if column.path is not None:
            lines.append(f"    {value} = {'.'.join(['s', *_parts(column.path)])}")
        else:
            namespace[f"r{index}"] = column.read
            lines.append(f"    {value} = r{index}(s)")
        namespace[f"c{index}"] = step.complete
        indent = "    "
        if step.as_is is not None:
            namespace[f"t{index}"] = step.as_is
            lines.append(f"    if type({value}) is not t{index}:")
            indent = "        "
        elif step.small_int:
            bounds = f"{GRAPHQL_MIN_INT} <= {value} <= {GRAPHQL_MAX_INT}"
            lines.append(f"    if type({value}) is not int or not {bounds}:")
            indent = "        "
        lines.append(f"{indent}if {value} is None:")
        lines.append(f"{indent}    {'pass' if step.nullable else 'raise Unfit'}")
        lines.append(f"{indent}else:")
        lines.append(f"{indent}    {value} = c{index}({value})")
    lines.append(f"    return {{{', '.join(entries)}}}")
    source = "\n".join(lines)
    exec(compile(source, f"<plan of {type_name}>", "exec"), namespace)  # noqa: S102
    built: Build = namespace["build"]
    return built


class _Planning:
    """One plan being made: what its builders need, gathered as they are made."""

    def __init__(self, collect: Collect) -> None:
        self.collect = collect
        self.needs: set[str] = set()
        # Objects many rows share (a project, an account), built once per answer: the
        # plan's build is synchronous, so one answer is built at a time.
        self.shared: dict[tuple[int, int], dict[str, Any]] = {}

    def object(self, object_type: GraphQLObjectType, fields: FieldDetailsList) -> Build | None:
        steps: list[_Step] = []
        for name, subfields in self.collect(object_type, fields).items():
            node = subfields[0].node
            field_name = node.name.value
            if field_name == "__typename":
                steps.append(_Step(name, None, None, None, False))
                continue
            field = object_type.fields.get(field_name)
            if field is None or node.arguments:
                return None
            column = _column(object_type, field_name, field)
            if column is None:
                return None
            nullable = not isinstance(field.type, GraphQLNonNull)
            inner = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
            complete = self.complete_non_null(inner, subfields)
            if complete is None:
                return None
            self.needs |= column.needs
            small_int = isinstance(inner, GraphQLScalarType) and inner.name == "Int"
            steps.append(_Step(name, column, complete, as_is_type(inner), nullable, small_int))

        build = _generated(object_type.name, steps)

        if object_type.name not in _SHARED:
            return build
        shared = self.shared
        kind = id(build)

        def build_shared(source: Any) -> dict[str, Any]:
            key = (kind, id(source))
            found = shared.get(key)
            if found is None:
                found = shared[key] = build(source)
            return found

        return build_shared

    def complete_non_null(self, inner: GraphQLOutputType, fields: FieldDetailsList) -> Build | None:
        if isinstance(inner, GraphQLScalarType | GraphQLEnumType):
            return complete_leaf(inner)
        if isinstance(inner, GraphQLObjectType):
            return self.object(inner, fields)
        if not isinstance(inner, GraphQLList):
            return None  # interfaces and unions
        item_type = inner.of_type
        nullable = not isinstance(item_type, GraphQLNonNull)
        item_inner = item_type if nullable else item_type.of_type
        item = self.complete_non_null(item_inner, fields)
        if item is None:
            return None
        as_is = as_is_type(item_inner)

        def complete_list(value: Any) -> list[Any]:
            if not isinstance(value, list):
                raise Unfit
            if None in value and not nullable:
                raise Unfit
            return [
                entry if type(entry) is as_is else None if entry is None else item(entry)
                for entry in value
            ]

        return complete_list


class Planner:
    """Plans of one root field, by document and Boolean variables; None where none fits."""

    def __init__(self) -> None:
        self._plans: NodeCache[Plan | None] = NodeCache()
        # Plans made, answers given by one, and answers given up for the resolver.
        self.planned = 0
        self.answered = 0
        self.gave_up = 0

    def plan(
        self,
        root: GraphQLObjectType,
        field: GraphQLField,
        fields: FieldDetailsList,
        flags: tuple[tuple[str, bool], ...],
        collect: Collect,
    ) -> Plan | None:
        def make() -> Plan | None:
            made = _plan_issues(field, fields, collect)
            self.planned += 1
            return made

        return self._plans.get((root, *(details.node for details in fields)), flags, make)


def _plan_issues(field: GraphQLField, fields: FieldDetailsList, collect: Collect) -> Plan | None:
    planning = _Planning(collect)
    connection = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    build = planning.complete_non_null(connection, fields)
    if build is None:
        return None
    needs = planning.needs
    shared = planning.shared

    def answer(source: _Answer) -> Any:
        shared.clear()
        try:
            return build(source)
        finally:
            shared.clear()

    return Plan(
        build=answer,
        # The root list always reads its rows' projects (an issue's key needs its own).
        facts=frozenset({Fact.PROJECT} | {need for need in needs if isinstance(need, Fact)}),
        people=tuple(column for name, column in _PEOPLE.items() if name in needs),
        total=_TOTAL in needs,
        has_next=_HAS_NEXT in needs,
        has_previous=_HAS_PREVIOUS in needs,
    )


def _value(value: Any) -> Any:
    """An enum's value as graphql-core coerced it (its value, or its member)."""
    return value.value if isinstance(value, enum.Enum) else value


def _members(enum_type: type[enum.Enum], values: Any) -> tuple[Any, ...] | None:
    return None if values is None else tuple(enum_type(_value(v)) for v in values)


_FILTER_KEYS = frozenset(
    {
        "projectId",
        "status",
        "priority",
        "assigneeId",
        "label",
        "search",
        "createdAfter",
        "updatedAfter",
    }
)


def _filter(raw: dict[str, Any] | None) -> issues.IssueFilter | None:
    """IssueFilterInput.to_args of the coerced input object (a filter key this does not
    know gives the plan up, rather than being ignored)."""
    if raw is None:
        return None
    if not _FILTER_KEYS.issuperset(raw):
        raise Unfit
    return issues.IssueFilter(
        project_id=raw.get("projectId"),
        status=_members(models.IssueStatus, raw.get("status")),
        priority=_members(models.IssuePriority, raw.get("priority")),
        assignee_id=raw.get("assigneeId"),
        label=raw.get("label"),
        search=raw.get("search"),
        created_after=raw.get("createdAfter"),
        updated_after=raw.get("updatedAfter"),
    )


def _order(raw: dict[str, Any] | None) -> Any:
    if raw is None:
        return issues.sort_key(None, None)
    return issues.sort_key(_value(raw["field"]), _value(raw["direction"]))


async def _resolved(value: Any | Callable[[], Awaitable[Any]]) -> Any:
    return await value() if callable(value) else value


async def answer_issues(
    plan: Plan,
    context: Any,
    field: GraphQLField,
    fields: FieldDetailsList,
    variable_values: Any,
) -> Any:
    """The root ``issues`` field's response by its plan; raises for anything the plan
    does not answer as the resolver would (the caller then runs the resolver)."""
    context.require_membership()
    details = fields[0]
    raw = get_argument_values(
        field, details.node, variable_values, details.fragment_variable_values
    )
    args = PageArgs(
        first=raw.get("first"),
        after=raw.get("after"),
        last=raw.get("last"),
        before=raw.get("before"),
    )
    page, read = await issues.list_page(
        args, _filter(raw.get("filter")), _order(raw.get("orderBy")), plan.facts
    )
    assert read is not None  # the plan's facts always name the projects
    people: dict[Any, Any] = {}
    if plan.people and page.rows:
        wanted = {getattr(r, c) for r in page.rows for c in plan.people} - {None}
        if wanted:
            found = await context.loaders.account_by_id.load_many(list(wanted))
            people = {a.id: a for a in found if a is not None}
    rows = []
    for issue in page.rows:
        facts = read[issue.id]
        if facts.project is None:
            raise Unfit  # the resolver leaves the row out
        rows.append(_Row(issue, facts, people))
    return plan.build(
        _Answer(
            page=page,
            rows=rows,
            total=await _resolved(page.count) if plan.total else None,
            has_next=await _resolved(page.has_next) if plan.has_next else None,
            has_previous=await _resolved(page.has_previous) if plan.has_previous else None,
        )
    )


# The root fields with plans, by (type name, field name).
PLANNERS = {("Query", "issues"): (Planner(), answer_issues)}
