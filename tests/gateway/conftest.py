"""Gateway test fixtures (the shared ones live in tests/conftest.py)."""

from __future__ import annotations

import pytest

from omni2qbd_shared.db.migrate import upgrade


@pytest.fixture
def sqlite_db(sqlite_url: str) -> str:
    """A migrated SQLite database, for tests whose logic does not depend on the engine."""
    upgrade(sqlite_url)
    return sqlite_url
