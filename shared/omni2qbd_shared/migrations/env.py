"""Alembic environment: runs the migrations on the async engine of OMNI2QBD_DATABASE_URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from omni2qbd_shared.config import get_settings
from omni2qbd_shared.db import models  # noqa: F401  (registers the tables)
from omni2qbd_shared.db.engine import create_engine

target_metadata = SQLModel.metadata


def _database_url() -> str:
    url = context.config.get_main_option("sqlalchemy.url")
    if url:
        return url

    return get_settings().database_url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(_database_url())
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
