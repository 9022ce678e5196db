"""The gateway's ``qb.entries`` handler in one process on PostgreSQL: CPU and statements per
entry, one by one against batched (issue 15).

The Cin7 simulator's first account at scale N/1500 (as ``bench/pipeline.py`` and
``bench/mapper_batches.py``) is mapped by the mapper's ``handlers.handle_documents`` in
batches of 50; the ``qb.entries`` messages it publishes, in that order, are then stored by
the gateway's handler: ``--mode single`` one transaction per entry (``upsert_entry``, what the
shared ``Consumer`` did), ``--mode batch`` ``--batch`` entries per transaction
(``upsert_entries``, what ``BatchingEntriesConsumer`` does when that many are waiting), or
``--mode both``: one by one, then the outbox and audit log emptied and the same messages
batched, and what each stored compared. No broker, no other service: the figures are the
handler's own (CPU of this process, SQL statements, the consumer's transaction included).

    .venv/bin/python bench/gateway_entries.py --orders 2000 --mode both 2>/dev/null

``--mode single`` runs on a revision without ``upsert_entries`` too (another revision's code on
PYTHONPATH, as ``bench/pipeline.py --baseline`` does), for a before/after in one sitting.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import delete, event
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bench.mapper_batches import PG_ADMIN, TENANT, Statements, documents
from omni2qbd.demo.company import demo_settings
from omni2qbd_gateway import outbox
from omni2qbd_mapper import handlers
from omni2qbd_shared import messages as m
from omni2qbd_shared.db.engine import create_engine, session_factory, unit_of_work
from omni2qbd_shared.db.migrate import upgrade_async
from omni2qbd_shared.db.models import (
    AuditLog,
    FetchedDocument,
    OutboxItem,
    Tenant,
    TenantSettingsVersion,
)
from omni2qbd_shared.logging import configure_logging
from omni2qbd_shared.tenant_settings import TenantSettings
from tests.mapper.conftest import mirror_rows

Sessions = async_sessionmaker[AsyncSession]


async def _setup(sessions: Sessions, orders: int, seed: int) -> list[m.EntryMessage]:
    """The tenant as the demo sets it up, and the entries the mapper publishes for it."""
    body = demo_settings(Decimal("8.25"))
    async with unit_of_work(sessions) as session:
        session.add(Tenant(id=TENANT, name="Acme", qbwc_username="bench", qbwc_password_hash="x"))
        await session.flush()
        session.add(
            TenantSettingsVersion(tenant_id=TENANT, version=1, body=body, created_by="bench")
        )
        await session.flush()
        for row in mirror_rows(TENANT, TenantSettings.model_validate(body)):
            session.add(row)
    cin7 = documents(orders, seed)
    async with unit_of_work(sessions) as session:  # as the fetcher keeps them
        for message in cin7:
            session.add(
                FetchedDocument(
                    tenant_id=TENANT,
                    kind=message.kind,
                    cin7_id=message.cin7_id,
                    revision=message.revision,
                    modified_date=message.modified_date,
                    payload=message.payload,
                )
            )
    entries: list[m.EntryMessage] = []
    for start in range(0, len(cin7), 50):
        async with unit_of_work(sessions) as session:
            out = await handlers.handle_documents(cin7[start : start + 50], session)
        entries += [o for o in out if isinstance(o, m.EntryMessage)]
    return entries


async def _store(
    sessions: Sessions, statements: Statements, entries: list[m.EntryMessage], batch: int
) -> dict[str, Any]:
    """Store ``entries`` as the consumer would: ``batch`` per transaction (1: one by one)."""
    statements.take()
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, len(entries), batch):
        chunk = entries[start : start + batch]
        async with unit_of_work(sessions) as session:
            if batch == 1:
                await outbox.upsert_entry(chunk[0], session)
            else:
                await outbox.upsert_entries(chunk, session)
    cpu_s, wall_s = time.process_time() - cpu, time.perf_counter() - wall
    counts = statements.take()
    return {
        "batch": batch,
        "cpu_s": round(cpu_s, 2),
        "wall_s": round(wall_s, 2),
        "cpu_ms_per_entry": round(1000 * cpu_s / len(entries), 3),
        "statements_per_entry": round(sum(counts.values()) / len(entries), 2),
        "statements": dict(counts.most_common(8)),
    }


async def _stored(sessions: Sessions) -> list[str]:
    """The outbox and the audit log, without times."""
    async with sessions() as session:
        items = (await session.exec(select(OutboxItem))).all()
        audit = (await session.exec(select(AuditLog))).all()
    lines = [r.model_dump(exclude={"updated_at", "approved_at"}) for r in items]
    lines += [r.model_dump(exclude={"id", "at"}) for r in audit]
    return sorted(json.dumps(line, sort_keys=True, default=str) for line in lines)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    name = f"bench_gateway_entries_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    try:
        await upgrade_async(url)
        engine = create_engine(url)
        sessions = session_factory(engine)
        entries = await _setup(sessions, args.orders, args.seed)
        figures: dict[str, Any] = {
            "orders": args.orders,
            "entries": len(entries),
            "entry_kinds": dict(Counter(e.entry_kind for e in entries)),
            "distinct_entry_ids": len({e.entry_id for e in entries}),
            "documents_with_entries": len(
                {(e.entry_kind, e.source.kind, e.source.cin7_id) for e in entries}
            ),
        }
        statements = Statements()
        event.listen(engine.sync_engine, "before_cursor_execute", statements)
        if args.mode in ("single", "both"):
            figures["single"] = await _store(sessions, statements, entries, 1)
        if args.mode == "both":
            single = await _stored(sessions)
            async with unit_of_work(sessions) as session:
                await session.exec(delete(OutboxItem))
                await session.exec(delete(AuditLog))
        if args.mode in ("batch", "both"):
            figures["batched"] = await _store(sessions, statements, entries, args.batch)
        if args.mode == "both":
            figures["stored_the_same"] = single == await _stored(sessions)
        await engine.dispose()
    finally:
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mode", choices=("single", "batch", "both"), default="both")
    parser.add_argument(
        "--batch", type=int, default=50, help="entries per batch (gateway_prefetch, default 50)"
    )
    args = parser.parse_args(argv)
    configure_logging("INFO", True)  # as the service logs (to stderr: 2>/dev/null)
    print(json.dumps(asyncio.run(run(args)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
