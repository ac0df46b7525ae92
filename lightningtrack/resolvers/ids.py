"""Opaque global IDs that carry their type: base64url of ``Type:key``.

An id of one type passed where another is expected decodes to nothing, and the caller
answers NOT_FOUND, exactly as for an id that names no row.
"""

from __future__ import annotations

import base64
import binascii
import uuid

from lightningtrack.errors import NotFound


def encode(type_name: str, key: object) -> str:
    raw = f"{type_name}:{key}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(global_id: str) -> tuple[str, str] | None:
    """The (type, key) inside a global id, or None if it is not one of ours."""
    if not global_id or len(global_id) > 200:
        return None
    padded = global_id + "=" * (-len(global_id) % 4)
    try:
        text = base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, sep, key = text.partition(":")
    if not sep or not key:
        return None
    return type_name, key


def decode_as(global_id: str, type_name: str) -> str:
    """The key of a global id of ``type_name``; NOT_FOUND for anything else."""
    decoded = decode(global_id)
    if decoded is None or decoded[0] != type_name:
        raise NotFound(f"No {type_name} with this id.")
    return decoded[1]


def decode_uuid(global_id: str, type_name: str) -> uuid.UUID:
    key = decode_as(global_id, type_name)
    try:
        return uuid.UUID(key)
    except ValueError:
        raise NotFound(f"No {type_name} with this id.") from None


def encode_scoped(type_name: str, workspace_id: uuid.UUID, pk: int) -> str:
    """A global id of a workspace row: it names its workspace, so that it resolves
    nowhere else (row ids repeat from one workspace database to the next)."""
    return encode(type_name, f"{workspace_id.hex}.{pk}")


def decode_scoped(global_id: str, type_name: str, workspace_id: uuid.UUID) -> int:
    """The primary key of a row of the bound workspace; NOT_FOUND for an id of another
    type or of another workspace."""
    key = decode_as(global_id, type_name)
    owner, _, pk = key.partition(".")
    if owner != workspace_id.hex or not pk.isdigit() or len(pk) > 18:
        raise NotFound(f"No {type_name} with this id.")
    return int(pk)
