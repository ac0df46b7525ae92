"""Fixtures of the integration tests: members of every role, as the tracker's tests have."""

from __future__ import annotations

from tests.tracking.conftest import admin as admin
from tests.tracking.conftest import guest as guest
from tests.tracking.conftest import member as member
