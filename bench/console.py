"""Benchmark of the console's pages with 10,000 entries in one tenant (issue 11 §10).

Seeds a fresh database with one tenant holding ``--entries`` entries spread over the states
a working tenant has (ready, held with findings, approved, posted, failed, locked), starts
the real gateway (``omni2qbd run gateway``), signs in through the login form like a browser
and times each page, server time as the client sees it (HTTP on localhost):

    .venv/bin/python bench/console.py                                  # SQLite file database
    .venv/bin/python bench/console.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432

With ``--baseline REV`` (a git revision, e.g. the commit before a speed change) the same run
also seeds a second database migrated by REV's code, starts REV's gateway on it, and times
each page on both gateways in turn (baseline, new, baseline, ...), so both see the same load
on a shared machine. ``--rounds`` repeats the pass over all pages; the figures are over all
requests of all rounds.

The broker is deliberately unreachable: pages need only the database, and the benchmark
leaves nothing behind on a shared RabbitMQ. PostgreSQL databases are created for the run and
dropped after it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import text

from omni2qbd_gateway.tenants import create_tenant
from omni2qbd_gateway.workflow import users
from omni2qbd_shared.db.engine import create_engine, session_factory, unit_of_work
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
                            txn_date=entry.txn_date.isoformat() if entry.txn_date else "",
                            body=entry.model_dump(mode="json"),
                            last_status_code="3140" if failed else None,
                            last_status_message=(
                                "QuickBooks does not know the item 'Widget'" if failed else None
                            ),
                        )
                    )
        if not database_url.startswith("sqlite"):
            # PostgreSQL's autovacuum vacuums and analyses a table that grew by inserts; a
            # benchmark run right after a bulk load must do it itself, or the planner still
            # thinks the outbox is empty and no index is known to cover the rows.
            async with engine.connect() as connection:
                auto = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await auto.execute(text("VACUUM ANALYZE"))
        async with unit_of_work(sessions) as db:
            person = await users.create_user(
                db, email="bench-operator@example.com", role="operator", tenants=[], actor="bench"
            )
        return tenant.tenant_id, person.email, person.password, sample
    finally:
        await engine.dispose()


def source_env(tree: Path | None) -> dict[str, str]:
    """The environment that runs ``tree``'s code (None: this checkout's, as installed)."""
    if tree is None:
        return dict(os.environ)
    roots = [tree, *(tree / "services" / n for n in ("fetcher", "mapper", "qbwc-gateway"))]
    roots += [tree / "shared", tree / "simulators"]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(str(r) for r in roots)}


def export_revision(revision: str, into: Path) -> Path:
    """The files of a git revision (``git archive``), to run its gateway beside this one."""
    tree = into / "baseline"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision], cwd=REPO, check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def migrate(database_url: str, tree: Path | None) -> None:
    """Migrate with ``tree``'s migrations (in a child process: its code, not ours)."""
    code = "import sys; from omni2qbd_shared.db.migrate import upgrade; upgrade(sys.argv[1])"
    subprocess.run(
        [sys.executable, "-c", code, database_url], env=source_env(tree), cwd=REPO, check=True
    )


class Gateway:
    def __init__(self, database_url: str, tree: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **source_env(tree),
            "OMNI2QBD_DATABASE_URL": database_url,
            "OMNI2QBD_AMQP_URL": f"amqp://guest:guest@127.0.0.1:{free_port()}/",
            "OMNI2QBD_GATEWAY_PUBLIC_URL": self.url,
            "OMNI2QBD_LOG_LEVEL": "WARNING",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "omni2qbd", "run", "gateway", "--port", str(self.port)],
            cwd=tree or REPO,
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
    seconds: dict[str, list[float]] = field(default_factory=dict)

    def figures(self, side: str) -> tuple[float, float, float]:
        ms = sorted(s * 1000 for s in self.seconds[side])
        p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
        return statistics.median(ms), p95, max(ms)


@dataclass
class Side:
    """One gateway under test, signed in, with the paths of its tenant's pages."""

    name: str
    client: httpx.Client
    paths: dict[str, str]


PAGES = (
    ("Tenants (operator home)", "/console/"),
    ("Review & import (tenant home)", "{t}/"),
    ("Queue: ready", "{t}/entries?state=ready"),
    ("Queue: needs attention", "{t}/entries?state=needs_attention"),
    ("Queue: posted", "{t}/entries?state=posted"),
    ("Queue: posted, searched", "{t}/entries?state=posted&q=Customer+042"),
    ("Queue: posted, page 2", None),
    ("Entry", "{t}/entries/{entry}"),
    ("Entry qbXML (htmx)", "{t}/entries/{entry}/qbxml"),
    ("Run progress (htmx)", "{t}/progress"),
    ("Connection", "{t}/connect"),
    ("Connection health (operator)", "/console/health"),
)


def page_paths(client: httpx.Client, tenant: str, entry: str) -> dict[str, str]:
    t = f"/console/tenants/{tenant}"
    paths = {}
    for name, pattern in PAGES:
        if pattern is None:
            listing = client.get(f"{t}/entries?state=posted").text
            found = re.search(r'href="\?([^"]*cursor=[^"]+)" rel="next"', listing)
            assert found, "no next page link"
            paths[name] = f"{t}/entries?{found.group(1).replace('&amp;', '&')}"
        else:
            paths[name] = pattern.format(t=t, entry=entry)
    return paths


def timed_get(client: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    response = client.get(path)
    took = time.perf_counter() - started
    assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return took


def measure(sides: list[Side], repeat: int, rounds: int) -> list[PageTiming]:
    timings = {name: PageTiming(name, {side.name: [] for side in sides}) for name, _ in PAGES}
    for _ in range(rounds):
        for name, _ in PAGES:
            for side in sides:
                timed_get(side.client, side.paths[name])  # warm-up
            for _ in range(repeat):
                for side in sides:  # in turn, so both see the same load
                    timings[name].seconds[side.name].append(
                        timed_get(side.client, side.paths[name])
                    )
    return list(timings.values())


@contextlib.contextmanager
def database(engine: str, server: str | None, tmp: Path, label: str) -> Iterator[str]:
    """A fresh, empty database for one side of the run (dropped after it on PostgreSQL)."""
    if engine == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp / f'{label}.db'}"
        return
    assert server is not None
    name = f"bench_console_{label}_{uuid.uuid4().hex[:8]}"
    admin = server.replace("+asyncpg", "").rstrip("/") + "/postgres"

    def run(sql: str) -> None:
        subprocess.run(["psql", admin, "-q", "-c", sql], check=True)

    run(f"CREATE DATABASE {name}")
    try:
        yield f"{server.rstrip('/')}/{name}"
    finally:
        run(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def prepare(
    url: str, tree: Path | None, entries: int, side: str
) -> tuple[Gateway, tuple[str, ...]]:
    migrate(url, tree)
    started = time.perf_counter()
    seeded = asyncio.run(seed(url, entries))
    print(f"{side}: seeded {entries:,} entries in {time.perf_counter() - started:.1f} s")
    return Gateway(url, tree), seeded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", metavar="SERVER_URL", default=None)
    parser.add_argument("--baseline", metavar="GIT_REVISION", default=None)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    engine = "postgresql" if args.postgres else "sqlite"
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        trees: dict[str, Path | None] = {"new": None}
        if args.baseline:
            trees = {"baseline": export_revision(args.baseline, tmp), **trees}
        sides: list[Side] = []
        gateways: list[Gateway] = []
        try:
            for side, tree in trees.items():
                url = stack.enter_context(database(engine, args.postgres, tmp, side))
                gateway, (tenant, email, password, entry) = prepare(url, tree, args.entries, side)
                gateways.append(gateway)
                gateway.wait()
                client = stack.enter_context(httpx.Client(base_url=gateway.url, timeout=30))
                sign_in(client, email, password)
                sides.append(Side(side, client, page_paths(client, tenant, entry)))
            load_before = os.getloadavg()[0]
            results = measure(sides, args.repeat, args.rounds)
            load_after = os.getloadavg()[0]
        finally:
            for gateway in gateways:
                gateway.stop()
    samples = args.repeat * args.rounds
    print(
        f"\n{args.entries:,} entries, {'PostgreSQL' if args.postgres else 'SQLite'}, "
        f"{samples} requests per page and side over {args.rounds} rounds (ms); load average "
        f"{load_before:.1f} before, {load_after:.1f} after, on {os.cpu_count()} CPUs\n"
    )
    names = [side.name for side in sides]
    print("| page | " + " | ".join(f"{n} p50 | {n} p95" for n in names) + " |")
    print("|---|" + "---:|---:|" * len(names))
    for result in results:
        cells = []
        for name in names:
            p50, p95, _ = result.figures(name)
            cells += [f"{p50:.0f}", f"{p95:.0f}"]
        print(f"| {result.name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
