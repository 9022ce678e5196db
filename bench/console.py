"""Benchmark of the console's pages with 10,000 entries in one tenant (issue 11 §10).

Seeds a fresh database with one tenant holding ``--entries`` entries spread over the states
a working tenant has (ready, held with findings, approved, posted, failed, locked), starts
the real gateway (``omni2qbd run gateway``), signs in through the login form like a browser
and times each page, server time as the client sees it (HTTP on localhost):

    .venv/bin/python bench/console.py                        # SQLite file database
    .venv/bin/python bench/console.py --database-url postgresql+asyncpg://postgres@127.0.0.1/x

The broker is deliberately unreachable: pages need only the database, and the benchmark
leaves nothing behind on a shared RabbitMQ.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import text

from omni2qbd_gateway.tenants import create_tenant
from omni2qbd_gateway.workflow import users
from omni2qbd_shared.db.engine import create_engine, session_factory, unit_of_work
from omni2qbd_shared.db.migrate import upgrade
from omni2qbd_shared.db.models import OutboxItem
from omni2qbd_shared.entries import (
    Entry,
    EntryHeader,
    EntryKind,
    EntryLine,
    Finding,
    Ref,
    SourceRef,
    external_guid_for,
)

REPO = Path(__file__).resolve().parent.parent
# How a working tenant's 10,000 entries are spread (share of the total, by outbox state).
SPREAD = (
    ("posted", 0.55),
    ("ready", 0.2),
    ("held", 0.12),
    ("approved", 0.05),
    ("failed", 0.05),
    ("locked", 0.03),
)
CUSTOMERS = [f"Customer {n:03d} Pty" for n in range(200)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def invoice(tenant_id: str, number: int, state: str) -> Entry:
    key = f"invoice:sales_order:{number}"
    amount = Decimal(100 + number % 900) + Decimal(number % 100) / 100
    findings = []
    if state == "held":
        findings.append(
            Finding(
                code="contact_unmatched",
                blocking=True,
                message=f"Cin7 customer {CUSTOMERS[number % 200]!r} is not matched to a "
                "QuickBooks customer",
                field="contacts.customer_map",
            )
        )
    return Entry(
        kind=EntryKind.INVOICE,
        source=SourceRef(
            kind="sales_order", cin7_id=str(number), revision="r1", reference=f"SO-{number}"
        ),
        key=key,
        tenant_id=tenant_id,
        header=EntryHeader(
            party=Ref(name=CUSTOMERS[number % 200]), is_pending=True, memo=f"SO-{number}"
        ),
        lines=[
            EntryLine(
                item=Ref(name="Widget"),
                qty=Decimal(1),
                rate=amount,
                amount=amount,
                description="Widget",
            )
        ],
        ref_number=f"B{number}",
        txn_date=date(2026, 1, 1) + timedelta(days=number % 330),
        total=amount,
        external_guid=external_guid_for(tenant_id, key, "r1"),
        findings=findings,
    )


async def seed(database_url: str, entries: int) -> tuple[str, str, str, str]:
    """A tenant with ``entries`` entries and an operator; (tenant, email, password, entry)."""
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    try:
        async with unit_of_work(sessions) as db:
            tenant = await create_tenant(
                db, name="Bench Outdoor Supply", secret_key="bench", actor="bench"
            )
        states = [s for s, share in SPREAD for _ in range(round(share * entries))]
        states += ["ready"] * (entries - len(states))
        sample = ""
        for start in range(0, entries, 1000):
            async with unit_of_work(sessions) as db:
                for number in range(start, min(entries, start + 1000)):
                    entry = invoice(tenant.tenant_id, number, states[number])
                    entry_id = str(uuid.uuid4())
                    sample = sample or entry_id
                    failed = states[number] == "failed"
                    db.add(
                        OutboxItem(
                            entry_id=entry_id,
                            tenant_id=tenant.tenant_id,
                            entry_kind="invoice",
                            source_kind="sales_order",
                            cin7_id=str(number),
                            revision="r1",
                            state=states[number],
                            ref_number=entry.ref_number,
                            body=entry.model_dump(mode="json"),
                            last_status_code="3140" if failed else None,
                            last_status_message=(
                                "QuickBooks does not know the item 'Widget'" if failed else None
                            ),
                        )
                    )
        if not database_url.startswith("sqlite"):
            # PostgreSQL's autovacuum analyses a table that grew; a benchmark run right after
            # a bulk load must do it itself, or the planner still thinks the outbox is empty.
            async with engine.connect() as connection:
                await connection.execute(text("ANALYZE"))
                await connection.commit()
        async with unit_of_work(sessions) as db:
            person = await users.create_user(
                db, email="bench-operator@example.com", role="operator", tenants=[], actor="bench"
            )
        return tenant.tenant_id, person.email, person.password, sample
    finally:
        await engine.dispose()


class Gateway:
    def __init__(self, database_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "OMNI2QBD_DATABASE_URL": database_url,
            "OMNI2QBD_AMQP_URL": f"amqp://guest:guest@127.0.0.1:{free_port()}/",
            "OMNI2QBD_GATEWAY_PUBLIC_URL": self.url,
            "OMNI2QBD_LOG_LEVEL": "WARNING",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "omni2qbd", "run", "gateway", "--port", str(self.port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait(self) -> None:
        for _ in range(300):
            try:
                httpx.get(f"{self.url}/livez", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("the gateway did not start")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def sign_in(client: httpx.Client, email: str, password: str) -> None:
    form = client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, "no CSRF token on the sign-in page"
    done = client.post(
        "/console/login",
        data={"email": email, "password": password, "csrf_token": token.group(1), "next": ""},
    )
    assert done.status_code == 303, done.text[:500]


@dataclass
class PageTiming:
    name: str
    path: str
    seconds: list[float]

    def row(self) -> str:
        ms = sorted(s * 1000 for s in self.seconds)
        p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
        return f"| {self.name} | {statistics.median(ms):.0f} | {p95:.0f} | {max(ms):.0f} |"


def measure(client: httpx.Client, name: str, path: str, repeat: int) -> PageTiming:
    first = client.get(path)
    assert first.status_code == 200, (path, first.status_code, first.text[:300])
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code)
    return PageTiming(name, path, timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database_url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(database_url)
        started = time.perf_counter()
        tenant, email, password, sample = asyncio.run(seed(database_url, args.entries))
        print(f"seeded {args.entries:,} entries in {time.perf_counter() - started:.1f} s")
        gateway = Gateway(database_url)
        try:
            gateway.wait()
            with httpx.Client(base_url=gateway.url, timeout=30) as client:
                sign_in(client, email, password)
                t = f"/console/tenants/{tenant}"
                pages = [
                    ("Tenants (operator home)", "/console/"),
                    ("Review & import (tenant home)", f"{t}/"),
                    ("Queue: ready", f"{t}/entries?state=ready"),
                    ("Queue: needs attention", f"{t}/entries?state=needs_attention"),
                    ("Queue: posted", f"{t}/entries?state=posted"),
                    ("Queue: posted, searched", f"{t}/entries?state=posted&q=Customer+042"),
                    ("Queue: posted, page 2", None),
                    ("Entry", f"{t}/entries/{sample}"),
                    ("Entry qbXML (htmx)", f"{t}/entries/{sample}/qbxml"),
                    ("Run progress (htmx)", f"{t}/progress"),
                    ("Connection", f"{t}/connect"),
                    ("Connection health (operator)", "/console/health"),
                ]
                results = []
                for name, path in pages:
                    if path is None:
                        listing = client.get(f"{t}/entries?state=posted").text
                        found = re.search(r'href="\?([^"]*cursor=[^"]+)" rel="next"', listing)
                        assert found, "no next page link"
                        path = f"{t}/entries?{found.group(1).replace('&amp;', '&')}"
                    results.append(measure(client, name, path, args.repeat))
        finally:
            gateway.stop()
    engine = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
    print(f"\n{args.entries:,} entries, {engine}, {args.repeat} requests per page (ms)\n")
    print("| page | p50 | p95 | max |")
    print("|---|---:|---:|---:|")
    for result in results:
        print(result.row())


if __name__ == "__main__":
    main()
