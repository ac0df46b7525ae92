"""The one source of "now", so that tests and the retention sweep can move the clock."""

from __future__ import annotations

from datetime import UTC, datetime

_frozen: datetime | None = None


def now() -> datetime:
    return _frozen if _frozen is not None else datetime.now(UTC)


def freeze(at: datetime | None) -> None:
    """Make ``now()`` return ``at`` (a timezone-aware datetime); ``None`` releases it."""
    global _frozen
    if at is not None and at.tzinfo is None:
        raise ValueError("the clock needs a timezone-aware datetime")
    _frozen = at
