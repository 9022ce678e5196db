"""Soak: many tenants through the real services and simulators for a while (issue 13, point 8).

Starts the gateway, mapper and fetcher as ``omni2qbd run SERVICE`` processes on a fresh
PostgreSQL database and RabbitMQ, a Cin7 Omni simulator (in this process, Cin7's rate limits
on, one API key per tenant) holding N copies of a small account, and one QuickBooks company
file per tenant that a Web Connector simulator per tenant drives. Then, round after round until
the time is up: Cin7 changes one sales order of every tenant, every tenant's ready entries are
approved, and every tenant's Web Connector runs a session (a few at a time). The fetcher polls
on its own.

Prints, per round, the resident memory (VmRSS) of each service (sampled every few seconds
throughout), and at the end:

* memory: each service's mean RSS over the first and the last third of the rounds (flat means
  a ratio near 1), and its peak (VmHWM);
* starvation: per tenant, documents fetched, entries mapped, entries posted to QuickBooks, Web
  Connector sessions that ended in an error, and how long ago Cin7 was last synced (the
  oldest of its kinds); a tenant is starved when nothing of it was fetched or mapped, or its
  last sync is older than five poll intervals.

Exit status 1 when a tenant was starved. Run (the minutes of rounds, plus about 4 minutes
of set-up on a 2-core machine):

    .venv/bin/python bench/soak.py --tenants 100 --minutes 10
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
from sqlmodel import col, func, select

from omni2qbd.demo.company import demo_settings, seed_company
from omni2qbd.demo.processes import ManagedProcess, ProcessGroup, free_port
from omni2qbd_gateway.settings_store import save_settings
from omni2qbd_gateway.tenants import create_tenant
from omni2qbd_gateway.workflow import approval
from omni2qbd_gateway.workflow.scope import TenantScope
from omni2qbd_shared.cli_support import get_tenant
from omni2qbd_shared.config import PLACEHOLDER_SECRET_KEY
from omni2qbd_shared.db.engine import create_engine, session_factory, unit_of_work
from omni2qbd_shared.db.migrate import upgrade_async
from omni2qbd_shared.db.models import Entry, FetchedDocument, OutboxItem, SyncStatus, aware
from omni2qbd_shared.db.tenancy import scoped
from omni2qbd_shared.messaging import Topology, connect
from omni2qbd_sims.cin7 import Cin7Store, SimConfig, create_app, generate
from omni2qbd_sims.cin7.server import serve_in_thread
from omni2qbd_sims.cin7.store import ApiConnection
from omni2qbd_sims.quickbooks import QuickBooksSimulator
from omni2qbd_sims.quickbooks.company_file import CompanyFile
from omni2qbd_sims.webconnector import WebConnectorSimulator
from omni2qbd_sims.webconnector.report import SessionReport

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
AMQP_URL = os.environ.get("OMNI2QBD_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
POLL_SECONDS = 30
SERVICES = ("gateway", "mapper", "fetcher")


@dataclass
class SoakTenant:
    tenant_id: str
    username: str  # Web Connector user
    password: str
    cin7_username: str
    company: CompanyFile
    sessions: int = 0
    session_errors: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    # What a session that ended in an error said, kept whole for the first few (issue 13).
    error_reports: list[str] = field(default_factory=list)
    error_kinds: Counter[str] = field(default_factory=Counter)


@dataclass
class Samples:
    rss_mb: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in SERVICES})
    # Fairness across tenants: seconds after the fetcher started at which this many tenants
    # had at least one entry mapped, and this many a document fetched (sampled with memory).
    tenants_mapped: list[tuple[float, int]] = field(default_factory=list)
    tenants_fetched: list[tuple[float, int]] = field(default_factory=list)


async def tenants_with(sessions: Any, table: Any) -> int:
    async with sessions() as db:
        statement = select(func.count(func.distinct(table.tenant_id))).select_from(table)
        return int((await db.exec(statement)).one())


def _changes(steps: list[tuple[float, int]], at: float, count: int) -> None:
    if not steps or steps[-1][1] != count:
        steps.append((at, count))


def _timeline(steps: list[tuple[float, int]]) -> str:
    marks = [f"{count} at {at:.0f} s" for at, count in steps[:: max(1, len(steps) // 8)]]
    if steps:
        marks.append(f"{steps[-1][1]} at {steps[-1][0]:.0f} s")
    return ", ".join(marks)


def _status_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def build_store(tenants: int, scale: float) -> tuple[Cin7Store, Decimal]:
    """N copies of the simulator's first account (same documents, own user and key)."""
    template = next(iter(generate(7, scale).tenants.values()))
    rates = [
        Decimal(str(r["taxRate"]))
        for r in template.records["SalesOrders"].values()
        if r.get("taxRate")
    ]
    tax_rate = max(rates, key=rates.count) if rates else Decimal("0")
    store = Cin7Store()
    for number in range(tenants):
        account = copy.deepcopy(template)
        account.username = f"Soak{number:03d}API"
        account.company = f"Soak Shop {number:03d}"
        account.connections = [ApiConnection(uuid.uuid4().hex, "Omni2QBD")]
        store.add(account)
    return store, tax_rate


async def make_tenants(
    sessions: Any, store: Cin7Store, cin7_api: str, qb: QuickBooksSimulator, tax_rate: Decimal
) -> list[SoakTenant]:
    made: list[SoakTenant] = []
    for account in store.tenants.values():
        async with unit_of_work(sessions) as db:
            created = await create_tenant(
                db,
                name=account.company,
                secret_key=PLACEHOLDER_SECRET_KEY,
                actor="soak",
                cin7_username=account.username,
                cin7_api_key=account.connections[0].api_key,
                cin7_base_url=f"{cin7_api}/",
            )
            row = await get_tenant(db, created.tenant_id)
            row.qb_company_path = f"C:\\Companies\\{account.company}.qbw"
            db.add(row)
            await save_settings(db, created.tenant_id, demo_settings(tax_rate), actor="soak")
        company = qb.company(row.qb_company_path, file_id=row.qb_file_id)
        seed_company(company, tax_rate=tax_rate)
        made.append(
            SoakTenant(
                created.tenant_id,
                created.qbwc_username,
                created.qbwc_password,
                account.username,
                company,
            )
        )
    return made


async def web_connector_round(
    tenants: list[SoakTenant],
    gateway: str,
    qb: QuickBooksSimulator,
    concurrency: int,
    timeout_seconds: float = 60.0,
) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(tenant: SoakTenant) -> None:
        async with gate:
            connector = WebConnectorSimulator(
                f"{gateway}/qbwc",
                tenant.username,
                tenant.password,
                qb,
                tenant.company.path,
                noop_pause_seconds=0.2,
                timeout_seconds=timeout_seconds,
            )
            report = await connector.run_session()
            tenant.sessions += 1
            # "none" (nothing to send) closes at once; anything else short of 100 is an error.
            failed = not (report.completed or report.auth_status == "none")
            tenant.session_errors += failed
            tenant.statuses[report.status] += 1
            if failed:
                tenant.error_kinds[error_kind(report)] += 1
            if failed and len(tenant.error_reports) < 3:
                tenant.error_reports.append(
                    f"auth {report.auth_status}, errors {report.errors}, "
                    f"calls {report.calls[-6:]}, progress {report.progress[-3:]}, "
                    f"close {report.close_result!r}: {report.status}"
                )

    await asyncio.gather(*(one(t) for t in tenants))


def error_kind(report: SessionReport) -> str:
    """Why a session did not complete, in a few classes (what the soak's errors were)."""
    if report.auth_status == "busy":
        # The tenant has a live session the gateway may not end yet: after a lost answer to
        # authenticate, that is the session this Web Connector never got the ticket of.
        return "busy"
    failed_call = report.calls[-1] if report.calls else "none"
    if any("connection to the web service failed" in error for error in report.errors):
        return f"no answer to {failed_call} within the Web Connector's timeout"
    if report.progress and report.progress[-1] < 0:
        return "the gateway stopped the session (negative progress)"
    return f"other ({report.status[:60]})"


async def approve_all(sessions: Any, tenants: list[SoakTenant]) -> None:
    for tenant in tenants:
        async with unit_of_work(sessions) as db:
            await approval.approve(db, TenantScope(tenant.tenant_id, "soak"), all_ready=True)


async def change_in_cin7(
    store: Cin7Store, cin7_root: str, tenants: list[SoakTenant], round_number: int
) -> None:
    """One sales order of every tenant changes in Cin7, so every round has new work."""
    async with httpx.AsyncClient(timeout=30) as http:
        for tenant in tenants:
            orders = sorted(store.tenants[tenant.cin7_username].records["SalesOrders"])
            body = {
                "username": tenant.cin7_username,
                "resource": "SalesOrders",
                "id": orders[round_number % len(orders)],
                "changes": {"customerOrderNo": f"SOAK-{round_number}"},
            }
            (await http.post(f"{cin7_root}/_sim/change-document", json=body)).raise_for_status()


async def tenant_figures(sessions: Any, tenants: list[SoakTenant]) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    rows = []
    async with sessions() as db:
        for tenant in tenants:
            mapped = len((await db.exec(scoped(Entry, tenant.tenant_id))).all())
            fetched = len((await db.exec(scoped(FetchedDocument, tenant.tenant_id))).all())
            posted = len(
                (
                    await db.exec(
                        scoped(OutboxItem, tenant.tenant_id).where(
                            col(OutboxItem.state) == "posted"
                        )
                    )
                ).all()
            )
            synced = [
                aware(s.last_success_at)
                for s in (await db.exec(scoped(SyncStatus, tenant.tenant_id))).all()
                if s.last_success_at is not None
            ]
            rows.append(
                {
                    "tenant": tenant.cin7_username,
                    "fetched": fetched,
                    "mapped": mapped,
                    "posted": posted,
                    "in_qb": len(tenant.company.transactions()),
                    "sessions": tenant.sessions,
                    "session_errors": tenant.session_errors,
                    "last_sync_seconds_ago": (now - min(synced)).total_seconds()
                    if synced
                    else None,
                }
            )
    return rows


async def soak(args: argparse.Namespace) -> int:
    name = f"omni2qbd_soak_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    database_url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    namespace = f"soak{uuid.uuid4().hex[:6]}."
    data_dir = Path(tempfile.mkdtemp(prefix="omni2qbd-soak-"))
    group = ProcessGroup()
    print(f"service logs in {data_dir}", flush=True)
    engine = None
    try:
        await upgrade_async(database_url)
        engine = create_engine(database_url)
        sessions = session_factory(engine)
        store, tax_rate = build_store(args.tenants, args.scale)
        qb = QuickBooksSimulator()
        with serve_in_thread(create_app(store, SimConfig())) as cin7_api:
            tenants = await make_tenants(sessions, store, cin7_api, qb, tax_rate)
            env = {
                "OMNI2QBD_ENVIRONMENT": "development",
                "OMNI2QBD_SECRET_KEY": PLACEHOLDER_SECRET_KEY,
                "OMNI2QBD_DATABASE_URL": database_url,
                "OMNI2QBD_AMQP_URL": AMQP_URL,
                "OMNI2QBD_AMQP_NAMESPACE": namespace,
                "OMNI2QBD_FETCHER_POLL_INTERVAL_SECONDS": str(POLL_SECONDS),
                "OMNI2QBD_MESSAGE_RETRY_DELAY_MS": "1000",
                "OMNI2QBD_CIN7_ALLOWED_HOSTS": "127.0.0.1",
                "OMNI2QBD_LOG_JSON": "true",
                "OMNI2QBD_LOG_LEVEL": "WARNING",
                # A small pool per service: the machine's PostgreSQL is shared (100 clients).
                "OMNI2QBD_DATABASE_POOL_SIZE": "5",
                "OMNI2QBD_DATABASE_MAX_OVERFLOW": "2",
            }
            urls: dict[str, str] = {}
            processes: dict[str, ManagedProcess] = {}
            for service in SERVICES:
                port = free_port()
                urls[service] = f"http://127.0.0.1:{port}"
                processes[service] = ManagedProcess(
                    name=service,
                    args=["run", service, "--port", str(port)],
                    env=env,
                    log_path=data_dir / f"{service}.log",
                    health_url=urls[service],
                    health_path="/livez",
                )
            # A loaded machine with 100 tenants to sync can take a while to answer at first.
            for service in ("gateway", "mapper"):
                group.start(processes[service], wait=False)
                processes[service].wait_until_up(300)
            # The first session of each tenant mirrors its QuickBooks lists, then fetching starts.
            await web_connector_round(
                tenants, urls["gateway"], qb, args.concurrency, args.wc_timeout
            )
            group.start(processes["fetcher"], wait=False)
            processes["fetcher"].wait_until_up(300)
            samples = Samples()
            started = time.monotonic()

            async def sample_memory() -> None:
                # Every few seconds, independent of how long a round takes.
                while True:
                    for service, managed in processes.items():
                        assert managed.process is not None
                        samples.rss_mb[service].append(_status_mb(managed.process.pid, "VmRSS"))
                    at = time.monotonic() - started
                    _changes(samples.tenants_mapped, at, await tenants_with(sessions, Entry))
                    _changes(
                        samples.tenants_fetched, at, await tenants_with(sessions, FetchedDocument)
                    )
                    await asyncio.sleep(args.sample_seconds)

            sampler = asyncio.create_task(sample_memory())
            deadline = started + args.minutes * 60
            round_number = 0
            cin7_root = cin7_api.removesuffix("/api")
            while time.monotonic() < deadline:
                round_number += 1
                group.check_alive()
                await change_in_cin7(store, cin7_root, tenants, round_number)
                await approve_all(sessions, tenants)
                await web_connector_round(
                    tenants, urls["gateway"], qb, args.concurrency, args.wc_timeout
                )
                shown = "  ".join(f"{s} {samples.rss_mb[s][-1]:.0f}" for s in SERVICES)
                mapped = samples.tenants_mapped[-1][1] if samples.tenants_mapped else 0
                print(
                    f"round {round_number:3d} at {time.monotonic() - started:5.0f} s: "
                    f"RSS MB {shown}; tenants with an entry mapped {mapped}/{len(tenants)}",
                    flush=True,
                )
            sampler.cancel()
            figures = await tenant_figures(sessions, tenants)
            peaks = {
                s: _status_mb(m.process.pid, "VmHWM")
                for s, m in processes.items()
                if m.process is not None
            }
        return report(args, tenants, figures, samples, peaks, round_number)
    finally:
        group.stop_all()
        if engine is not None:
            await engine.dispose()
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

        connection = await connect(AMQP_URL)
        channel = await connection.channel()
        topology = Topology(namespace=namespace)
        for spec in topology.all_queues():
            for queue in (spec.name, spec.retry_queue, spec.dead_letter_queue):
                await channel.queue_delete(queue)
        for exchange in topology.exchanges:
            await channel.exchange_delete(topology.exchange_name(exchange))
        await connection.close()


def report(
    args: argparse.Namespace,
    tenants: list[SoakTenant],
    figures: list[dict[str, Any]],
    samples: Samples,
    peaks: dict[str, float],
    rounds: int,
) -> int:
    print(f"\n{args.tenants} tenants, {rounds} rounds in {args.minutes} min")
    print("memory (RSS MB, sampled every few seconds): first third -> last third, peak")
    memory: dict[str, Any] = {}
    for service, values in samples.rss_mb.items():
        third = max(1, len(values) // 3)
        first, last = statistics.mean(values[:third]), statistics.mean(values[-third:])
        memory[service] = {
            "first": round(first),
            "last": round(last),
            "peak": round(peaks[service]),
        }
        ratio = last / first
        print(
            f"  {service:<8} {first:6.0f} -> {last:6.0f}  (x{ratio:.2f}), peak {peaks[service]:.0f}"
        )
    limit = 5 * POLL_SECONDS
    starved = [
        f["tenant"]
        for f in figures
        if f["fetched"] == 0
        or f["mapped"] == 0
        or f["last_sync_seconds_ago"] is None
        or f["last_sync_seconds_ago"] > limit
    ]
    for key in ("fetched", "mapped"):
        values = [f[key] for f in figures]
        print(
            f"per tenant: {key} min {min(values)} / median {statistics.median(values)} / "
            f"max {max(values)}"
        )
    print(f"tenants with nothing posted yet: {sum(1 for f in figures if f['posted'] == 0)}")
    posted = [f["posted"] for f in figures]
    ages = [f["last_sync_seconds_ago"] or 0.0 for f in figures]
    errors = Counter(f["tenant"] for f in figures for _ in range(f["session_errors"]))
    print(
        f"per tenant: entries posted min {min(posted)} / median {statistics.median(posted)} / "
        f"max {max(posted)}; oldest last sync {max(ages):.0f} s ago (limit {limit} s); "
        f"Web Connector sessions ending in an error: {sum(errors.values())}"
    )
    statuses: Counter[str] = Counter()
    for tenant in tenants:
        statuses.update(tenant.statuses)
    print(f"Web Connector statuses: {dict(statuses.most_common(6))}")
    kinds: Counter[str] = Counter()
    for tenant in tenants:
        kinds.update(tenant.error_kinds)
    print(f"Web Connector sessions ending in an error, by cause: {dict(kinds.most_common())}")
    shown = [(t.cin7_username, r) for t in tenants for r in t.error_reports][:4]
    for tenant_name, text in shown:
        print(f"  session error of {tenant_name}: {text[:600]}")
    print(f"starved tenants: {len(starved)} {starved[:10]}")
    print(
        f"tenants with a document fetched, after the fetcher started: "
        f"{_timeline(samples.tenants_fetched)}"
    )
    print(
        f"tenants with an entry mapped, after the fetcher started: "
        f"{_timeline(samples.tenants_mapped)}"
    )
    print(json.dumps({"memory": memory, "starved": starved, "rounds": rounds}))
    return 1 if starved else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--scale", type=float, default=0.003, help="Cin7 data per tenant")
    parser.add_argument("--concurrency", type=int, default=10, help="Web Connectors at once")
    parser.add_argument(
        "--wc-timeout",
        type=float,
        default=60.0,
        help="seconds the Web Connector waits for one call (the simulator's default: 60)",
    )
    parser.add_argument("--sample-seconds", type=float, default=5.0, help="RSS sampling period")
    sys.exit(asyncio.run(soak(parser.parse_args())))


if __name__ == "__main__":
    main()
