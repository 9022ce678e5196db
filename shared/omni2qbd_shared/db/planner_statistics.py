"""Keeping PostgreSQL's planner statistics up to date while a service fills tables in bulk.

A tenant's first sync stores thousands of rows a minute. Until the tables are analysed, the
planner has no statistics: for a batch's "these 150 documents' entries" it used the index on
(tenant, source kind) and filtered every stored entry of that kind by Cin7 id, 57 ms per batch
at 13,700 entries instead of 0.5 ms, growing with what is stored (issue 15). Autovacuum's
analyse would come at most once a minute, and not at all where autovacuum is off (as on the
machine the benchmarks run on). So a service that writes in bulk analyses the tables it reads
back after they grew by half since it last did (at least ``min_rows``): a few times during a
first sync, about 0.1 s each at 17,000 rows, and rarely afterwards.

PostgreSQL only (SQLite plans these lookups by its indexes without statistics). A role that
does not own a table gets a warning from ANALYZE and nothing else, so this never fails work.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = structlog.get_logger(__name__)

GROWTH = 0.5  # analyse again once a table grew by half since the last analyse
MIN_ROWS = 1000


class PlannerStatistics:
    """Counts rows a service added to ``tables`` and analyses them when they grew enough."""

    def __init__(
        self,
        engine: AsyncEngine,
        tables: Sequence[str],
        *,
        min_rows: int = MIN_ROWS,
        growth: float = GROWTH,
    ) -> None:
        self._engine = engine
        self._tables = tuple(tables)
        self._min_rows = min_rows
        self._growth = growth
        self._added = 0
        self._size = 0.0  # rows in the largest table at the last analyse
        self.analyses = 0

    @property
    def enabled(self) -> bool:
        return self._engine.dialect.name == "postgresql" and bool(self._tables)

    def _due(self) -> bool:
        return self._added >= max(self._min_rows, self._size * self._growth)

    async def added(self, rows: int) -> None:
        """``rows`` were committed to the tables (about: a batch's messages will do)."""
        if not self.enabled:
            return
        self._added += rows
        if not self._due():
            return
        self._added = 0
        try:
            self._size = await self._analyse()
        except Exception as exc:  # statistics are an optimisation: never fail work for them
            log.warning("analyse_failed", tables=self._tables, reason=str(exc)[:200])
            return
        self.analyses += 1
        log.info("tables_analysed", tables=self._tables, rows=int(self._size))

    async def _analyse(self) -> float:
        async with self._engine.connect() as connection:
            for table in self._tables:
                await connection.execute(text(f'ANALYZE "{table}"'))
            sizes = await connection.execute(
                text("SELECT reltuples FROM pg_class WHERE relname = ANY(:tables)"),
                {"tables": list(self._tables)},
            )
            await connection.commit()
            return max((float(size) for (size,) in sizes), default=0.0)
