"""GraphQL input types."""

from __future__ import annotations

import strawberry

from lightningtrack.schema.types import Region


@strawberry.input
class SignUpInput:
    name: str
    email: str
    password: str


@strawberry.input
class SignInInput:
    email: str
    password: str


@strawberry.input
class WorkspaceCreateInput:
    name: str
    slug: str
    region: Region | None = None
