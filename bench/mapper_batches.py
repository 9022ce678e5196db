"""The mapper's handlers in one process on PostgreSQL: CPU and statements per document (issue 15).

The Cin7 simulator's first account at scale N/1500 (as ``bench/pipeline.py``) becomes
``cin7.documents`` messages in the fetcher's order (contacts, products, sales orders, ...);
they are mapped by ``handlers.handle_documents`` in batches of ``--batch`` (the mapper's
prefetch), then, with ``--results``, every entry published ready gets a "posted" result
through ``handlers.handle_results`` in batches, and with ``--reevaluate`` everything open is
mapped again as after new settings. No broker, no other service: the figures are the
handlers' own (CPU of this process, SQL statements counted by kind).

    .venv/bin/python bench/mapper_batches.py --orders 2000 --results 2>/dev/null
    .venv/bin/python bench/mapper_batches.py --orders 2000 --results --results-batch 5 \
        --qb-customers 1000 2>/dev/null   # results as the service often gets them
    .venv/bin/python bench/mapper_batches.py --orders 300 --dump /tmp/rows.txt 2>/dev/null

Run it with another revision's code on PYTHONPATH to compare (see ``bench/console.py``'s
``source_env``); ``--dump`` writes what was stored, without ids and times, for ``diff``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import event
from sqlmodel import select

from omni2qbd.demo.company import demo_settings
from omni2qbd_fetcher.kinds import KINDS, MODIFIED
from omni2qbd_mapper import handlers
from omni2qbd_shared import messages as m
from omni2qbd_shared.db.cogs_totals import CogsCounted, CogsMonthTotal
from omni2qbd_shared.db.engine import create_engine, session_factory, unit_of_work
from omni2qbd_shared.db.migrate import upgrade_async
from omni2qbd_shared.db.models import (
    Entry,
    FetchedDocument,
    QbListItem,
    Tenant,
    TenantSettingsVersion,
)
from omni2qbd_shared.logging import configure_logging
from omni2qbd_shared.revision import revision_of
from omni2qbd_shared.tenant_settings import TenantSettings
from omni2qbd_sims.cin7.dates import DateForm, parse_date
from omni2qbd_sims.cin7.generator import generate
from omni2qbd_sims.cin7.query import to_wire
from tests.mapper.conftest import mirror_rows

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TENANT = "11111111-2222-3333-4444-555555555555"  # fixed: external GUIDs derive from it
ORDERS_AT_SCALE_ONE = 1500


def documents(orders: int, seed: int) -> list[m.Cin7DocumentMessage]:
    account = next(iter(generate(seed, orders / ORDERS_AT_SCALE_ONE).tenants.values()))
    out = []
    for spec in KINDS:
        for record in account.rows(spec.resource):
            payload = to_wire(dict(record), DateForm.ISO_Z)
            modified = payload.get(MODIFIED)
            out.append(
                m.Cin7DocumentMessage(
                    tenant_id=TENANT,
                    kind=spec.kind_of(payload),
                    cin7_id=str(payload["id"]),
                    revision=revision_of(payload),
                    modified_date=parse_date(modified) if modified else None,
                    fetched_at=datetime.now(UTC),
                    payload=payload,
                )
            )
    return out


class Statements:
    """SQL statements by shape (parameters and IN lists folded)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def __call__(self, *args: Any) -> None:
        statement = " ".join(str(args[2]).split())
        statement = re.sub(r"\$\d+(::\w+)?", "?", statement)
        statement = re.sub(r"\(\?(, \?)*\)", "(..)", statement)
        start = statement.find("FROM ")
        verb = statement.split()[0]
        self.counts[
            f"{verb} {statement[start : start + 150] if start > 0 else statement[:80]}"
        ] += 1

    def take(self) -> Counter[str]:
        counts, self.counts = self.counts, Counter()
        return counts


def _tenths(per_batch: Sequence[tuple[float, str]]) -> dict[str, dict[str, float]]:
    """CPU ms per document of batches holding one kind only: first and last tenth per kind."""
    by_kind: dict[str, list[float]] = {}
    for cost, kind in per_batch:
        if kind:
            by_kind.setdefault(kind, []).append(cost)
    figures = {}
    for kind, costs in by_kind.items():
        tenth = max(1, len(costs) // 10)
        first, last = sum(costs[:tenth]) / tenth, sum(costs[-tenth:]) / tenth
        figures[kind] = {
            "batches": len(costs),
            "first_tenth": round(first, 2),
            "last_tenth": round(last, 2),
            "ratio": round(last / first, 2) if first else 0.0,
        }
    return figures


async def _stored(sessions: Any) -> list[str]:
    """What was stored, as sorted JSON lines without ids and times."""
    async with sessions() as session:
        entries = (await session.exec(select(Entry))).all()
        counted = (await session.exec(select(CogsCounted))).all()
        totals = (await session.exec(select(CogsMonthTotal))).all()
    columns = ["entry_kind", "source_kind", "cin7_id", "revision", "version", "state", "ref_number"]
    columns += ["txn_date", "total", "body", "findings"]
    lines = [
        json.dumps([getattr(r, c) for c in columns], sort_keys=True, default=str) for r in entries
    ]
    lines += [json.dumps(r.model_dump(), sort_keys=True, default=str) for r in counted]
    lines += [json.dumps(r.model_dump(), sort_keys=True, default=str) for r in totals]
    return sorted(lines)


def _message_line(message: m.Message) -> str:
    """A published entry message without its entry id (``--dump``)."""
    fields = message.model_dump(mode="json", exclude={"entry_id"})
    return "published " + json.dumps(fields, sort_keys=True, default=str)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    name = f"bench_mapper_batches_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    figures: dict[str, Any] = {"orders": args.orders}
    try:
        await upgrade_async(url)
        engine = create_engine(url)
        sessions = session_factory(engine)
        body = demo_settings(Decimal("8.25"))
        async with unit_of_work(sessions) as session:
            session.add(
                Tenant(id=TENANT, name="Acme", qbwc_username="bench", qbwc_password_hash="x")
            )
            await session.flush()
            session.add(
                TenantSettingsVersion(tenant_id=TENANT, version=1, body=body, created_by="bench")
            )
            await session.flush()
            for row in mirror_rows(TENANT, TenantSettings.model_validate(body)):
                session.add(row)
        messages = documents(args.orders, args.seed)
        async with unit_of_work(sessions) as session:  # as the fetcher keeps them
            for message in messages:
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
        figures["documents"] = dict(Counter(message.kind for message in messages))
        statements = Statements()
        event.listen(engine.sync_engine, "before_cursor_execute", statements)

        ready: list[str] = []
        result_messages: list[str] = []  # what the results published, in order (``--dump``)
        per_batch: list[tuple[float, str]] = []
        cpu, wall = time.process_time(), time.perf_counter()
        for start in range(0, len(messages), args.batch):
            batch = messages[start : start + args.batch]
            began = time.process_time()
            async with unit_of_work(sessions) as session:
                out = await handlers.handle_documents(batch, session)
            kinds = {message.kind for message in batch}
            per_batch.append(
                (
                    1000 * (time.process_time() - began) / len(batch),
                    kinds.pop() if len(kinds) == 1 else "",
                )
            )
            ready += [
                o.entry_id for o in out if isinstance(o, m.EntryMessage) and o.state == "ready"
            ]
        counts = statements.take()
        figures["map"] = {
            "cpu_s": round(time.process_time() - cpu, 2),
            "wall_s": round(time.perf_counter() - wall, 2),
            "cpu_ms_per_document": round(1000 * (time.process_time() - cpu) / len(messages), 2),
            "statements_per_document": round(sum(counts.values()) / len(messages), 2),
            "cpu_ms_per_document_by_kind": _tenths(per_batch),
            "statements": dict(counts.most_common(args.top)),
        }
        if args.results:
            if args.qb_customers:
                async with unit_of_work(sessions) as session:  # as the gateway mirrors its adds
                    for n in range(args.qb_customers):
                        session.add(
                            QbListItem(
                                tenant_id=TENANT,
                                list_type="customer",
                                list_id=f"BENCH-{n}",
                                full_name=f"Bench customer {n}",
                                data={"ret": "CustomerRet", "email": f"c{n}@example.com"},
                            )
                        )
            results = [
                m.ResultMessage(entry_id=entry_id, tenant_id=TENANT, outcome="posted")
                for entry_id in dict.fromkeys(ready)
            ]
            cpu, wall = time.process_time(), time.perf_counter()
            size = args.results_batch or args.batch
            for start in range(0, len(results), size):
                async with unit_of_work(sessions) as session:
                    published = await handlers.handle_results(
                        results[start : start + size], session
                    )
                result_messages += [_message_line(message) for message in published]
            counts = statements.take()
            figures["results"] = {
                "results": len(results),
                "batch": size,
                "cpu_s": round(time.process_time() - cpu, 2),
                "wall_s": round(time.perf_counter() - wall, 2),
                "cpu_ms_per_result": round(1000 * (time.process_time() - cpu) / len(results), 2),
                "statements_per_result": round(sum(counts.values()) / len(results), 2),
                "statements": dict(counts.most_common(args.top)),
            }
        if args.reevaluate:
            cpu = time.process_time()
            async with unit_of_work(sessions) as session:
                await handlers.reevaluate(session, TENANT, held_only=False)
            counts = statements.take()
            figures["reevaluate"] = {
                "cpu_s": round(time.process_time() - cpu, 2),
                "statements": sum(counts.values()),
            }
        if args.dump:
            stored = await _stored(sessions) + result_messages
            Path(args.dump).write_text("\n".join(stored) + "\n")  # noqa: ASYNC240 - a bench
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
    parser.add_argument(
        "--batch", type=int, default=50, help="batch size (the mapper's prefetch, default 50)"
    )
    parser.add_argument("--results", action="store_true")
    parser.add_argument(
        "--results-batch",
        type=int,
        default=0,
        help="results per batch (default --batch; the service's are often a few)",
    )
    parser.add_argument(
        "--qb-customers",
        type=int,
        default=0,
        help="customers added to the QuickBooks lists before the results (as the gateway's "
        "adds; about 1,000 at 10,000 orders)",
    )
    parser.add_argument("--reevaluate", action="store_true")
    parser.add_argument("--dump", help="write what was stored here (for diff)")
    parser.add_argument("--top", type=int, default=8, help="statement shapes listed")
    args = parser.parse_args(argv)
    configure_logging("INFO", True)  # as the service logs (to stderr: 2>/dev/null)
    print(json.dumps(asyncio.run(run(args)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
