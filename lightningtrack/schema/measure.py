"""Depth, aliases and cost of the fields an operation will actually execute.

The walk follows graphql-core's field collection: ``@skip(if:)`` and ``@include(if:)``
are applied (literal arguments, or the request's variables with their declared
defaults), fragments are expanded, and the fields of one selection set that share a
response key are merged into one field whose selection is the union of theirs. So a
connection reached through two fragments costs once, and two aliases of it cost twice.
Type conditions are not applied: every fragment counts, as if the object matched them
all, which can only overestimate.

A connection costs its page size (``first``/``last``, else the default) times one plus
what is selected inside it; any other field with a selection costs one plus its
children; leaves cost nothing. Introspection fields are left to the introspection switch.

The walk never expands the document: the fields a selection set collects, and the
measure of a merged field's selection, depend only on the selection sets involved (not on
where they are reached from), so each is computed once, however often a fragment is
spread. Its work follows the size of the document, not of the shape it stands for (2^60
fields, say). A fragment cycle, which validation refuses before execution, is not
followed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    VariableNode,
    value_from_ast_untyped,
)

from lightningtrack.resolvers.pagination import DEFAULT_PAGE, MAX_PAGE

# (response key, field name): fields merge on the response key; the name is part of the
# key because fields of different names may share one under different type conditions.
FieldKey = tuple[str, str]
# The field nodes of one merged field; the same node reached twice is one.
Collected = dict[FieldKey, list[FieldNode]]


@dataclass
class Measure:
    depth: int = 0
    aliases: int = 0
    cost: int = 0


class Walker:
    def __init__(
        self,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
        connections: frozenset[str],
    ) -> None:
        self.fragments = fragments
        self.variables = variables
        self.connections = connections
        self._collected: dict[int, Collected] = {}
        # By the selection set, or the set of selection sets merged into one field.
        self._measured: dict[int | frozenset[int], Measure] = {}
        self._collecting: set[int] = set()
        self._measuring: set[int | frozenset[int]] = set()
        # Selections and merged entries visited: what keeps the walk linear, for tests.
        self.steps = 0

    def _flag(self, directive: DirectiveNode) -> bool | None:
        """The ``if:`` of ``@skip``/``@include``, or None when it is not a known boolean
        (execution then refuses the variable; counting the field is the safe side)."""
        for argument in directive.arguments or ():
            if argument.name.value != "if":
                continue
            value = argument.value
            if isinstance(value, BooleanValueNode):
                return value.value
            if isinstance(value, VariableNode):
                given = self.variables.get(value.name.value)
                return given if isinstance(given, bool) else None
        return None

    def included(self, node: SelectionNode) -> bool:
        for directive in node.directives or ():
            name = directive.name.value
            if name not in ("skip", "include"):
                continue
            flag = self._flag(directive)
            if flag is None:
                continue
            if flag == (name == "skip"):
                return False
        return True

    def collect(self, selection_set: SelectionSetNode) -> Collected:
        """The fields this selection set runs, by response key, fragments expanded."""
        key = id(selection_set)
        found = self._collected.get(key)
        if found is not None:
            return found
        if key in self._collecting:
            return {}  # a fragment cycle: not followed
        self._collecting.add(key)
        collected: Collected = {}
        # As in execution, a fragment spread twice in one selection set is expanded once.
        expanded: set[int] = set()
        for selection in selection_set.selections:
            self.steps += 1
            if selection.directives and not self.included(selection):
                continue
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if name.startswith("__"):
                    continue
                response = selection.alias.value if selection.alias else name
                _add(collected, (response, name), selection)
                continue
            if isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is None:
                    continue
                inner = fragment.selection_set
            else:
                assert isinstance(selection, InlineFragmentNode)
                inner = selection.selection_set
            if id(inner) in expanded:
                continue
            expanded.add(id(inner))
            self._merge(collected, self.collect(inner))
        self._collecting.discard(key)
        self._collected[key] = collected
        return collected

    def _merge(self, into: Collected, collected: Collected) -> None:
        for field_key, nodes in collected.items():
            self.steps += 1
            for node in nodes:
                _add(into, field_key, node)

    def page_size(self, field: FieldNode) -> int:
        for argument in field.arguments or ():
            name = argument.name.value
            if name in ("first", "last"):
                value = argument.value
                given: object = None
                if isinstance(value, IntValueNode):
                    given = int(value.value)
                elif isinstance(value, VariableNode):
                    given = self.variables.get(value.name.value)
                if isinstance(given, int) and not isinstance(given, bool):
                    # Refused here, before execution, so that a mutation asking for a page
                    # too large is not run first and reported as failed after.
                    if not 0 <= given <= MAX_PAGE:
                        raise GraphQLError(
                            f"{name} must be between 0 and {MAX_PAGE}.",
                            extensions={"code": "BAD_USER_INPUT", "field": name},
                        )
                    return given
        return DEFAULT_PAGE

    def measure(self, selection_sets: list[SelectionSetNode]) -> Measure:
        """The measure of the merged selection of these selection sets."""
        key: int | frozenset[int] = (
            id(selection_sets[0])
            if len(selection_sets) == 1
            else frozenset(id(s) for s in selection_sets)
        )
        found = self._measured.get(key)
        if found is not None:
            return found
        if key in self._measuring:
            return Measure()  # a fragment cycle: not followed
        self._measuring.add(key)
        if len(selection_sets) == 1:
            merged = self.collect(selection_sets[0])
        else:
            merged = {}
            for selection_set in selection_sets:
                self._merge(merged, self.collect(selection_set))
        total = Measure()
        for (response, name), nodes in merged.items():
            self.steps += 1
            if response != name:
                total.aliases += 1
            inner = [n.selection_set for n in nodes if n.selection_set is not None]
            if not inner:
                total.depth = max(total.depth, 1)
                continue
            if len(inner) > 1:
                inner = list({id(s): s for s in inner}.values())
            child = self.measure(inner)
            total.aliases += child.aliases
            total.depth = max(total.depth, child.depth + 1)
            if name in self.connections:
                # Fields merged under one key take the same arguments when they meet on
                # one type; under different type conditions the larger page counts.
                page = max(self.page_size(n) for n in nodes)
                total.cost += page * (1 + child.cost)
            else:
                total.cost += 1 + child.cost
        self._measuring.discard(key)
        self._measured[key] = total
        return total


def _add(collected: Collected, key: FieldKey, node: FieldNode) -> None:
    nodes = collected.get(key)
    if nodes is None:
        collected[key] = [node]
    elif not any(n is node for n in nodes):
        nodes.append(node)


def variables_with_defaults(
    operation: OperationDefinitionNode, given: dict[str, Any]
) -> dict[str, Any]:
    """The request's variables, and the declared default of each one it leaves out."""
    values = dict(given)
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name not in values and definition.default_value is not None:
            values[name] = value_from_ast_untyped(definition.default_value)
    return values


def measure(
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: dict[str, Any],
    connections: frozenset[str],
) -> Measure:
    return walker_for(document, operation, variables, connections).measure(
        [operation.selection_set]
    )


def walker_for(
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: dict[str, Any],
    connections: frozenset[str],
) -> Walker:
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return Walker(fragments, variables_with_defaults(operation, variables), connections)
