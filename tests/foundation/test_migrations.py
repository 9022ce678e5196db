"""The schema is built by the Alembic migrations, identically on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from omni2qbd_shared.db import models  # noqa: F401
from omni2qbd_shared.db.engine import create_engine
from omni2qbd_shared.db.migrate import downgrade_async, upgrade_async


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    return set(names) - {"alembic_version"}


async def test_migrations_create_every_model_table(engine: AsyncEngine) -> None:
    assert await _tables(engine) == set(SQLModel.metadata.tables)


def _column_names(sync: Connection, table: str) -> set[str]:
    return {c["name"] for c in inspect(sync).get_columns(table)}


async def test_migrated_columns_match_the_models(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            columns = await conn.run_sync(_column_names, table.name)
            assert columns == {c.name for c in table.columns}, table.name


@pytest.mark.parametrize("url_fixture", ["sqlite_url", "pg_url"])
async def test_downgrade_to_base_and_upgrade_again(
    url_fixture: str, request: pytest.FixtureRequest
) -> None:
    url: str = request.getfixturevalue(url_fixture)
    await upgrade_async(url)
    await downgrade_async(url, "base")
    engine = create_engine(url)
    try:
        assert await _tables(engine) == set()
        await upgrade_async(url)
        assert await _tables(engine) == set(SQLModel.metadata.tables)
    finally:
        await engine.dispose()
