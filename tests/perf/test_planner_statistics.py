"""Issue 15: a service that fills tables in bulk analyses them as they grow, so PostgreSQL
plans "these documents' entries" by the whole (tenant, source kind, Cin7 id) index instead
of filtering every stored entry of a kind (57 ms per batch at 13,700 entries, before: the
machine's autovacuum is off, and autovacuum's analyse comes once a minute at best)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from omni2qbd_shared.db.engine import create_engine, session_factory
from omni2qbd_shared.db.planner_statistics import PlannerStatistics
from tests.gateway.gateway_helpers import new_tenant


async def _fill_entries(engine: AsyncEngine, tenant_id: str, first: int, count: int) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO entries (id, tenant_id, entry_kind, source_kind, cin7_id, revision,"
                " version, state, body, findings, created_at, updated_at)"
                " SELECT 'e-' || n, :tenant, 'invoice', 'sales_order', n::text, 'r1', 1, 'ready',"
                " '{}', '[]', now(), now()"
                " FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS n"
            ),
            {"tenant": tenant_id, "first": first, "last": first + count - 1},
        )


async def _analysed(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        when = await connection.scalar(
            text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'entries'")
        )
    return when is not None


async def _batch_lookup_plan(engine: AsyncEngine, tenant_id: str) -> str:
    ids = ", ".join(f"'{n}'" for n in range(100, 250))
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "EXPLAIN SELECT * FROM entries WHERE tenant_id = :tenant"
                f" AND source_kind IN ('sales_order') AND cin7_id IN ({ids})"
            ),
            {"tenant": tenant_id},
        )
        return "\n".join(str(row[0]) for row in rows)


@pytest.mark.postgres
async def test_tables_are_analysed_as_they_grow(postgres_database_url: str) -> None:
    engine = create_engine(postgres_database_url)
    try:
        tenant = (await new_tenant(session_factory(engine))).tenant_id
        statistics = PlannerStatistics(engine, ("entries",), min_rows=1000, growth=0.5)
        await _fill_entries(engine, tenant, 1, 3000)
        await statistics.added(999)
        assert statistics.analyses == 0 and not await _analysed(engine)
        # Without statistics the planner filters every stored entry by Cin7 id.
        assert "Filter: ((cin7_id)" in await _batch_lookup_plan(engine, tenant)

        await statistics.added(1)
        assert statistics.analyses == 1 and await _analysed(engine)
        plan = await _batch_lookup_plan(engine, tenant)
        assert "Filter: ((cin7_id)" not in plan, plan
        assert "cin7_id" in plan.split("Index Cond:", 1)[-1], plan

        # Next time only after the table grew by half of the 3,000 rows it had.
        await statistics.added(1000)
        assert statistics.analyses == 1
        await statistics.added(500)
        assert statistics.analyses == 2
    finally:
        await engine.dispose()


async def test_sqlite_is_left_alone(sqlite_database_url: str) -> None:
    engine = create_engine(sqlite_database_url)
    try:
        statistics = PlannerStatistics(engine, ("entries",), min_rows=1)
        assert not statistics.enabled
        await statistics.added(10_000)
        assert statistics.analyses == 0
    finally:
        await engine.dispose()
