"""Checks on user input shared by the tracker's resolvers; each names the input field."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from lightningtrack.errors import BadUserInput

_LABEL = re.compile(r"^[\w][\w .:/+#&()-]{0,49}$")
MAX_LABELS = 25
LABEL_MAX_LENGTH = 50  # the column's length, as _LABEL allows
MAX_INT = 2**31 - 1


def text(value: str, field: str, *, minimum: int, maximum: int, strip: bool = True) -> str:
    cleaned = value.strip() if strip else value
    if not minimum <= len(cleaned) <= maximum:
        raise BadUserInput(f"Must be {minimum} to {maximum} characters long.", field=field)
    if "\x00" in cleaned:
        raise BadUserInput("Must not contain NUL characters.", field=field)
    return cleaned


def no_nul(value: str, field: str) -> str:
    """``value``, unless it holds a NUL character, which PostgreSQL text cannot hold."""
    if "\x00" in value:
        raise BadUserInput("Must not contain NUL characters.", field=field)
    return value


def optional_text(value: str | None, field: str, *, maximum: int) -> str | None:
    if value is None:
        return None
    return text(value, field, minimum=0, maximum=maximum, strip=False) or None


def integer(value: int, field: str, *, minimum: int, maximum: int = MAX_INT) -> int:
    if not minimum <= value <= maximum:
        raise BadUserInput(f"Must be from {minimum} to {maximum}.", field=field)
    return value


def aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise BadUserInput(
            "A date and time needs a UTC offset, e.g. 2026-01-31T09:00:00Z.", field=field
        )
    try:
        # In UTC: SQLite compares the stored UTC text with the value as text.
        return value.astimezone(UTC)
    except OverflowError:
        raise BadUserInput("This date and time is out of range.", field=field) from None


def labels(values: list[str], field: str) -> list[str]:
    cleaned: list[str] = []
    for value in values:
        name = value.strip()
        if not _LABEL.fullmatch(name):
            raise BadUserInput(
                f"The label {value!r} is not allowed: 1 to 50 letters, digits, spaces and "
                "_ . : / + # & ( ) -, starting with a letter or digit.",
                field=field,
            )
        if name not in cleaned:
            cleaned.append(name)
    if len(cleaned) > MAX_LABELS:
        raise BadUserInput(f"At most {MAX_LABELS} labels.", field=field)
    return sorted(cleaned)


def required(value: object, field: str) -> None:
    """For update inputs: a field that may be left out but not set to null."""
    if value is None:
        raise BadUserInput("Must not be null.", field=field)
