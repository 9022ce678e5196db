"""Benchmark of the qbwc-gateway (issue 5 §9).

Runs the real gateway as its own process (``omni2qbd run gateway``) on a fresh database and
drives it over HTTP with Web Connector sessions against the in-memory QuickBooks simulator:

1. SOAP round trips per second and p50/p99 latency per call with 1, 10 and 50 Web
   Connectors at once (one tenant each, each posting ``--invoices`` invoices in batches);
2. Web Connector round trips needed to post 1,000 invoices with adaptive sets (the default:
   50 requests, growing while QuickBooks answers fast) against one request per round trip
   (what the open-source QBWC servers do), and the CPU the gateway process and its
   PostgreSQL backends spend per posted invoice in that update (``--post-invoices``,
   ``--post-batches``, ``--post-rounds``; with ``--before`` the other checkout's gateway
   too, alternating);
3. the gateway process's peak memory (VmHWM) after each part;
4. the cost of a steady session call (getLastError on a live ticket, 10 clients at once)
   beside a spyne reference QBWC server (``bench/spyne_qbwc.py``, no database) started in
   the same run, and a burst of 50 Web Connectors logging in at once while that steady
   traffic goes on (its p99 shows whether logins make other calls wait).

Part 4 needs the bench extra (``pip install -e '.[bench]'``: spyne and waitress).

    .venv/bin/python bench/gateway.py                      # SQLite file database
    .venv/bin/python bench/gateway.py --database-url postgresql+asyncpg://postgres@127.0.0.1/x
    .venv/bin/python bench/gateway.py --parts 2 --post-batches 50 --post-invoices 2000 \
        --database-url postgresql+asyncpg://postgres@127.0.0.1/x --before /tmp/base

Tenants are created with the production Argon2 parameters, so ``authenticate`` costs what
it costs in production; its latency is reported on its own line as well.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx

from omni2qbd_gateway.tenants import NewTenant, create_tenant
from omni2qbd_gateway.workflow.approval import approve
from omni2qbd_gateway.workflow.scope import TenantScope
from omni2qbd_shared.db.engine import create_engine, session_factory, unit_of_work
from omni2qbd_shared.db.migrate import upgrade
from omni2qbd_shared.db.models import OutboxItem, Tenant
from omni2qbd_shared.entries import (
    Entry,
    EntryHeader,
    EntryKind,
    EntryLine,
    Ref,
    SourceRef,
    external_guid_for,
)
from omni2qbd_shared.messaging import Topology, delete_topology
from omni2qbd_sims.quickbooks import QuickBooksSimulator
from omni2qbd_sims.webconnector import soap as wc
from omni2qbd_sims.webconnector.simulator import WebConnectorSimulator

REPO = Path(__file__).resolve().parent.parent
SOURCE_DIRS = (
    ".",
    "shared",
    "services/qbwc-gateway",
    "services/fetcher",
    "services/mapper",
    "simulators",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class GatewayProcess:
    def __init__(
        self,
        database_url: str,
        amqp_url: str,
        batch: int,
        max_batch: int | None = None,
        source: Path | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.amqp_url = amqp_url
        self.namespace = f"bench{uuid.uuid4().hex[:8]}."
        env = {
            **os.environ,
            "OMNI2QBD_DATABASE_URL": database_url,
            "OMNI2QBD_AMQP_URL": amqp_url,
            "OMNI2QBD_AMQP_NAMESPACE": self.namespace,
            "OMNI2QBD_GATEWAY_PUBLIC_URL": self.url,
            "OMNI2QBD_GATEWAY_BATCH_MAX_REQUESTS": str(batch),
            "OMNI2QBD_GATEWAY_SET_MAX_REQUESTS": str(max_batch or 400),
            "OMNI2QBD_LOG_LEVEL": "WARNING",
        }
        if source is not None:
            # Another checkout's code (e.g. the commit before a change) ahead of this one's.
            env["PYTHONPATH"] = os.pathsep.join(str(source / part) for part in SOURCE_DIRS)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "omni2qbd", "run", "gateway", "--port", str(self.port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    ready_path = "/livez"

    async def wait(self) -> None:
        async with httpx.AsyncClient() as client:
            for _ in range(1200):  # a loaded machine can take a minute or two to start it
                try:
                    await client.get(f"{self.url}{self.ready_path}", timeout=1)
                    return
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        raise RuntimeError(f"{type(self).__name__} did not start")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_memory_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        namespace = getattr(self, "namespace", None)
        if namespace is not None:
            # Its queues would stay in the broker, results unread (5,000 per run).
            with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
                pool.submit(asyncio.run, _delete_namespace(self.amqp_url, namespace)).result()


async def _delete_namespace(amqp_url: str, namespace: str) -> None:
    await delete_topology(amqp_url, Topology(namespace=namespace))


def invoice(tenant_id: str, number: int) -> Entry:
    key = f"invoice:sales_order:{number}"
    return Entry(
        kind=EntryKind.INVOICE,
        source=SourceRef(kind="sales_order", cin7_id=str(number), revision="r1"),
        key=key,
        tenant_id=tenant_id,
        header=EntryHeader(party=Ref(name="Acme Corp"), is_pending=True, memo=f"SO-{number}"),
        lines=[
            EntryLine(
                item=Ref(name="Widget"),
                qty=Decimal(2),
                rate=Decimal(25),
                amount=Decimal("50.00"),
                description="Widget",
            ),
            EntryLine(item=Ref(name="Consulting"), amount=Decimal("150.00"), description="Setup"),
        ],
        ref_number=f"B{number}",
        txn_date=date(2026, 11, 20),
        total=Decimal("200.00"),
        external_guid=external_guid_for(tenant_id, key, "r1"),
    )


async def make_tenants(database_url: str, count: int, invoices: int) -> list[NewTenant]:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    created: list[NewTenant] = []
    try:
        for n in range(count):
            async with unit_of_work(sessions) as db:
                tenant = await create_tenant(
                    db, name=f"Bench {uuid.uuid4().hex[:6]} {n}", secret_key="bench", actor="bench"
                )
            created.append(tenant)
            async with unit_of_work(sessions) as db:
                for k in range(invoices):
                    entry = invoice(tenant.tenant_id, k)
                    db.add(
                        OutboxItem(
                            entry_id=str(uuid.uuid4()),
                            tenant_id=tenant.tenant_id,
                            entry_kind="invoice",
                            source_kind="sales_order",
                            cin7_id=str(k),
                            revision="r1",
                            ref_number=entry.ref_number,
                            body=entry.model_dump(mode="json"),
                        )
                    )
            async with unit_of_work(sessions) as db:
                await approve(db, TenantScope(tenant.tenant_id, "bench"), all_ready=True)
    finally:
        await engine.dispose()
    return created


async def file_ids(database_url: str, tenants: list[NewTenant]) -> dict[str, str]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as db:
            found = {}
            for tenant in tenants:
                row = await db.get(Tenant, tenant.tenant_id)
                assert row is not None
                found[tenant.tenant_id] = row.qb_file_id
            return found
    finally:
        await engine.dispose()


@dataclass
class Timings:
    calls: dict[str, list[float]] = field(default_factory=dict)

    def add(self, operation: str, seconds: float) -> None:
        self.calls.setdefault(operation, []).append(seconds)

    def all(self) -> list[float]:
        return [s for values in self.calls.values() for s in values]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


async def drive_session(
    client: httpx.AsyncClient,
    url: str,
    tenant: NewTenant,
    qb: QuickBooksSimulator,
    path: str,
    timings: Timings,
) -> int:
    """One Web Connector update, timing each SOAP call; returns the number of calls."""
    calls = 0

    async def call(operation: str, *values: str | int) -> bytes:
        nonlocal calls
        started = time.perf_counter()
        answer = await client.post(url, content=wc.build_envelope(operation, values))
        timings.add(operation, time.perf_counter() - started)
        calls += 1
        return answer.content

    await call("serverVersion")
    await call("clientVersion", "2.3.0.36")
    ticket, status = wc.read_strings(
        "authenticate", await call("authenticate", tenant.qbwc_username, tenant.qbwc_password)
    )[:2]
    if status in ("none", "nvu", "busy"):
        await call("closeConnection", ticket)
        return calls
    hcp = qb.company(path).hcp_response()
    while True:
        request = wc.read_string(
            "sendRequestXML", await call("sendRequestXML", ticket, hcp, path, "US", 13, 0)
        )
        hcp = ""
        if not request:
            await call("getLastError", ticket)
            break
        response = qb.process_request(path, request)
        percent = wc.read_int(
            "receiveResponseXML", await call("receiveResponseXML", ticket, response, "", "")
        )
        if percent >= 100 or percent < 0:
            break
    await call("closeConnection", ticket)
    return calls


async def concurrency_run(
    database_url: str, amqp_url: str, connectors: int, invoices: int, batch: int
) -> dict[str, float]:
    await asyncio.to_thread(upgrade, database_url)
    tenants = await make_tenants(database_url, connectors, invoices)
    ids = await file_ids(database_url, tenants)
    qb = QuickBooksSimulator()
    paths = {}
    for tenant in tenants:
        path = f"C:\\Bench\\{tenant.qbwc_username}.qbw"
        qb.company(path, file_id=ids[tenant.tenant_id]).seed_demo()
        paths[tenant.tenant_id] = path
    gateway = GatewayProcess(database_url, amqp_url, batch)
    try:
        await gateway.wait()
        timings = Timings()
        limits = httpx.Limits(max_connections=connectors + 5)
        async with httpx.AsyncClient(timeout=120, limits=limits) as client:
            cpu_before = gateway.cpu_seconds()
            started = time.perf_counter()
            counts = await asyncio.gather(
                *(
                    drive_session(client, f"{gateway.url}/qbwc", t, qb, paths[t.tenant_id], timings)
                    for t in tenants
                )
            )
            elapsed = time.perf_counter() - started
            cpu = gateway.cpu_seconds() - cpu_before
        posted = sum(len(qb.company(p).transactions("Invoice")) for p in paths.values())
        assert posted == connectors * invoices, f"posted {posted} of {connectors * invoices}"
        values = timings.all()
        auth = timings.calls["authenticate"]
        return {
            "connectors": connectors,
            "calls": sum(counts),
            "seconds": elapsed,
            "rps": sum(counts) / elapsed,
            "p50_ms": 1000 * statistics.median(values),
            "p99_ms": 1000 * percentile(values, 99),
            "auth_p50_ms": 1000 * statistics.median(auth),
            "cpu_ms_per_call": 1000 * cpu / sum(counts),
            "other_p50_ms": 1000
            * statistics.median(
                [s for op, v in timings.calls.items() if op != "authenticate" for s in v]
            ),
            "send_p50_ms": 1000 * statistics.median(timings.calls["sendRequestXML"]),
            "recv_p50_ms": 1000 * statistics.median(timings.calls["receiveResponseXML"]),
            "peak_mb": gateway.peak_memory_mb(),
        }
    finally:
        gateway.stop()


def _backend_cpu(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) of these PostgreSQL backends, read from /proc (the
    database server runs on this machine); backends already gone are left out."""
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


async def backend_cpu(database_url: str) -> dict[int, float] | None:
    """The CPU so far of every backend connected to the database of ``database_url`` (None
    on SQLite): sampled before and after a part, the difference is PostgreSQL's work for it."""
    if not database_url.startswith("postgresql"):
        return None
    base, name = database_url.replace("+asyncpg", "").rsplit("/", 1)
    conn = await asyncpg.connect(base + "/postgres")
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
    finally:
        await conn.close()
    return _backend_cpu([row["pid"] for row in rows])


def backends_spent(before: dict[int, float] | None, after: dict[int, float] | None) -> float:
    """Seconds the backends spent between two samples (a backend that started meanwhile
    counts whole; one that ended meanwhile is missed: the gateway's pool keeps its own)."""
    if before is None or after is None:
        return float("nan")
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


async def thousand_invoices(
    database_url: str,
    amqp_url: str,
    batch: int,
    invoices: int = 1000,
    source: Path | None = None,
) -> dict[str, float]:
    """Part 2: one Web Connector update posting ``invoices`` approved invoices; the gateway's
    CPU (and its PostgreSQL backends') during that update, per posted invoice."""
    await asyncio.to_thread(upgrade, database_url)
    tenants = await make_tenants(database_url, 1, invoices)
    ids = await file_ids(database_url, tenants)
    qb = QuickBooksSimulator()
    path = "C:\\Bench\\thousand.qbw"
    qb.company(path, file_id=ids[tenants[0].tenant_id]).seed_demo()
    gateway = GatewayProcess(
        database_url, amqp_url, batch, max_batch=1 if batch == 1 else None, source=source
    )
    try:
        await gateway.wait()
        tenant = tenants[0]
        simulator = WebConnectorSimulator(
            f"{gateway.url}/qbwc", tenant.qbwc_username, tenant.qbwc_password, qb, path
        )
        cpu_before = gateway.cpu_seconds()
        pg_before = await backend_cpu(database_url)
        started = time.perf_counter()
        report = await simulator.run_session()
        elapsed = time.perf_counter() - started
        pg_spent = backends_spent(pg_before, await backend_cpu(database_url))
        cpu = gateway.cpu_seconds() - cpu_before
        assert report.completed, report.summary()
        posted = len(qb.company(path).transactions("Invoice"))
        assert posted == invoices, f"posted {posted}"
        return {
            "batch": batch,
            "round_trips": report.round_trips,
            "sets": report.requests_processed,
            "seconds": elapsed,
            "gateway_ms_per_entry": 1000 * cpu / posted,
            "postgres_ms_per_entry": 1000 * pg_spent / posted,
            "peak_mb": gateway.peak_memory_mb(),
        }
    finally:
        gateway.stop()


class SpyneProcess(GatewayProcess):
    """The spyne reference server (bench/spyne_qbwc.py) as its own process."""

    def __init__(self, username: str, password: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.soap_url = self.url + "/"
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(REPO / "bench" / "spyne_qbwc.py"),
                "--port",
                str(self.port),
                "--username",
                username,
                "--password",
                password,
            ],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    ready_path = "/"


async def _soap(client: httpx.AsyncClient, url: str, operation: str, *values: str | int) -> bytes:
    answer = await client.post(
        url,
        content=wc.build_envelope(operation, values),
        headers={
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": wc.soap_action(operation),
        },
    )
    return answer.content


RESETS: dict[str, int] = {}  # connections closed under a request, per server URL


async def steady_calls(
    client: httpx.AsyncClient,
    url: str,
    ticket: str,
    *,
    clients: int,
    calls: int,
    stop: asyncio.Event | None = None,
) -> list[float]:
    """getLastError on a live ticket from ``clients`` loops, ``calls`` each (or until
    ``stop``); the latency of every call."""
    latencies: list[float] = []

    async def loop() -> None:
        for _ in range(calls):
            if stop is not None and stop.is_set():
                return
            started = time.perf_counter()
            try:
                answer = await _soap(client, url, "getLastError", ticket)
            except (httpx.ReadError, httpx.RemoteProtocolError):
                # A kept-alive connection closed under the request: counted, sent again.
                RESETS[url] = RESETS.get(url, 0) + 1
                answer = await _soap(client, url, "getLastError", ticket)
            latencies.append(time.perf_counter() - started)
            assert b"getLastErrorResult" in answer, answer[:300]

    await asyncio.gather(*(loop() for _ in range(clients)))
    return latencies


async def cost_per_call(
    database_urls: dict[str, str],
    amqp_url: str,
    clients: int,
    calls: int,
    burst: int,
    before: Path | None = None,
) -> dict[str, dict[str, float]]:
    """Part 4: the gateway (with its database) and the spyne reference, same run; with
    ``before``, also the gateway of that checkout (its own database), in the same rounds."""
    names = ["gateway"] + (["gateway before"] if before is not None else [])
    gateways: dict[str, GatewayProcess] = {}
    tenants: dict[str, list[NewTenant]] = {}
    for name in names:
        await asyncio.to_thread(upgrade, database_urls[name])
        tenants[name] = await make_tenants(database_urls[name], 1 + burst, 1)
    for name in names:
        source = before if name == "gateway before" else None
        gateways[name] = GatewayProcess(database_urls[name], amqp_url, 50, source=source)
    spyne = SpyneProcess("bench", "bench")
    results: dict[str, dict[str, float]] = {}
    try:
        await asyncio.gather(spyne.wait(), *(g.wait() for g in gateways.values()))
        # Idle connections are dropped before the servers' keep-alive timeout (uvicorn: 5 s)
        # could close one under a request sent at that moment (a ReadError, not a result).
        limits = httpx.Limits(max_connections=clients + burst + 5, keepalive_expiry=2.0)
        async with httpx.AsyncClient(timeout=120, limits=limits) as client:
            servers: dict[str, tuple[GatewayProcess, str, str, str]] = {
                "spyne (no database)": (spyne, spyne.soap_url, "bench", "bench"),
            }
            for name, gateway in gateways.items():
                servers[name] = (
                    gateway,
                    f"{gateway.url}/qbwc",
                    tenants[name][0].qbwc_username,
                    tenants[name][0].qbwc_password,
                )
            tickets: dict[str, str] = {}
            for name, (_server, url, user, password) in servers.items():
                tickets[name] = wc.read_strings(
                    "authenticate", await _soap(client, url, "authenticate", user, password)
                )[0]
                await steady_calls(client, url, tickets[name], clients=clients, calls=20)
            # Alternating rounds, so that both see the same (shared, varying) machine.
            measured: dict[str, tuple[list[float], float, float]] = {
                name: ([], 0.0, 0.0) for name in servers
            }
            rounds = 5
            for _round in range(rounds):
                for name, (server, url, _user, _password) in servers.items():
                    cpu_before = server.cpu_seconds()
                    started = time.perf_counter()
                    latencies = await steady_calls(
                        client, url, tickets[name], clients=clients, calls=max(1, calls // rounds)
                    )
                    seen, wall, cpu = measured[name]
                    measured[name] = (
                        seen + latencies,
                        wall + time.perf_counter() - started,
                        cpu + server.cpu_seconds() - cpu_before,
                    )
            for name, (latencies, elapsed, cpu) in measured.items():
                results[name] = {
                    "calls": len(latencies),
                    "rps": len(latencies) / elapsed,
                    "p50_ms": 1000 * statistics.median(latencies),
                    "p99_ms": 1000 * percentile(latencies, 99),
                    "cpu_ms_per_call": 1000 * cpu / len(latencies),
                }
            for name, gateway in gateways.items():
                results[f"burst {name}"] = await login_burst(client, gateway, tenants[name])
            for name, (_server, url, _user, _password) in servers.items():
                results[name]["resets"] = RESETS.get(url, 0)
    finally:
        for gateway in gateways.values():
            gateway.stop()
        spyne.stop()
    return results


async def login_burst(
    client: httpx.AsyncClient, gateway: GatewayProcess, tenants: list[NewTenant]
) -> dict[str, float]:
    """A burst of logins (tenants[1:]) while one Web Connector (tenants[0]) keeps calling."""
    url = f"{gateway.url}/qbwc"
    ticket = wc.read_strings(
        "authenticate",
        await _soap(
            client, url, "authenticate", tenants[0].qbwc_username, tenants[0].qbwc_password
        ),
    )[0]
    stop = asyncio.Event()
    steady = asyncio.create_task(
        steady_calls(client, url, ticket, clients=2, calls=1_000_000, stop=stop)
    )
    await asyncio.sleep(0.5)

    # Each Web Connector from its own address (its own office), as in life. The clients are
    # made before the burst: each httpx client builds an SSL context (~10 ms of CPU), work a
    # real Web Connector does on its own machine, not on the gateway's cores.
    clients = [
        httpx.AsyncClient(
            timeout=120,
            transport=httpx.AsyncHTTPTransport(local_address=f"127.0.1.{index + 1}"),
        )
        for index in range(len(tenants) - 1)
    ]

    async def login(own: httpx.AsyncClient, tenant: NewTenant) -> float:
        started = time.perf_counter()
        answer = await _soap(own, url, "authenticate", tenant.qbwc_username, tenant.qbwc_password)
        elapsed = time.perf_counter() - started
        assert wc.read_strings("authenticate", answer)[1] != "nvu"
        return elapsed

    try:
        logins = await asyncio.gather(
            *(login(own, t) for own, t in zip(clients, tenants[1:], strict=True))
        )
    finally:
        for own in clients:
            await own.aclose()
    stop.set()
    during = await steady
    return {
        "logins": len(logins),
        "auth_p50_ms": 1000 * statistics.median(logins),
        "auth_p99_ms": 1000 * percentile(logins, 99),
        "other_calls": len(during),
        "other_p99_ms": 1000 * percentile(during, 99),
    }


def database_for(base: str | None, workdir: Path, name: str) -> str:
    if base is None:
        return f"sqlite+aiosqlite:///{workdir / (name + '.db')}"

    db = f"omni2qbd_bench_{name}_{uuid.uuid4().hex[:6]}"

    async def create() -> None:
        conn = await asyncpg.connect(base.replace("+asyncpg", "").rsplit("/", 1)[0] + "/postgres")
        try:
            await conn.execute(f'CREATE DATABASE "{db}"')
        finally:
            await conn.close()

    asyncio.run(create())
    CREATED_DATABASES.append((base, db))
    return base.rsplit("/", 1)[0] + "/" + db


CREATED_DATABASES: list[tuple[str, str]] = []


def drop_created_databases() -> None:
    """The PostgreSQL databases this run created are dropped at its end."""

    async def drop() -> None:
        for base, db in CREATED_DATABASES:
            conn = await asyncpg.connect(
                base.replace("+asyncpg", "").rsplit("/", 1)[0] + "/postgres"
            )
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            finally:
                await conn.close()

    asyncio.run(drop())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", help="PostgreSQL URL (default: a SQLite file)")
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--invoices", type=int, default=40, help="per Web Connector")
    parser.add_argument("--batch", type=int, default=10, help="requests per set (part 1)")
    parser.add_argument("--levels", default="1,10,50")
    parser.add_argument("--parts", default="1,2,4", help="which parts to run")
    parser.add_argument("--steady-clients", type=int, default=10)
    parser.add_argument("--steady-calls", type=int, default=300, help="per client")
    parser.add_argument("--burst", type=int, default=50, help="logins at once (part 4)")
    parser.add_argument(
        "--before",
        help="parts 2 and 4 also run the gateway of this checkout (e.g. `git archive` of the "
        "commit before a change), in the same rounds, for before/after figures from one run",
    )
    parser.add_argument("--post-invoices", type=int, default=1000, help="part 2's invoices")
    parser.add_argument(
        "--post-batches", default="50,1", help="part 2's first set sizes (1: one per round trip)"
    )
    parser.add_argument("--post-rounds", type=int, default=1, help="part 2 runs this many times")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    try:
        run_parts(args, parts)
    finally:
        drop_created_databases()


def run_parts(args: argparse.Namespace, parts: set[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        print(f"database: {'PostgreSQL' if args.database_url else 'SQLite'}")
        if "4" in parts:
            before = Path(args.before).resolve() if args.before else None
            urls = {"gateway": database_for(args.database_url, workdir, "cost")}
            if before is not None:
                urls["gateway before"] = database_for(args.database_url, workdir, "costb")
            cost = asyncio.run(
                cost_per_call(
                    urls,
                    args.amqp_url,
                    args.steady_clients,
                    args.steady_calls,
                    args.burst,
                    before,
                )
            )
            print(f"\n4. steady getLastError, {args.steady_clients} clients at once, same run")
            print("server | calls | calls/s | p50 ms | p99 ms | server CPU ms/call")
            gateways = [name for name in ("gateway before", "gateway") if name in cost]
            for name in ["spyne (no database)", *gateways]:
                r = cost[name]
                print(
                    f"{name} | {r['calls']:.0f} | {r['rps']:.0f} | {r['p50_ms']:.1f} | "
                    f"{r['p99_ms']:.1f} | {r['cpu_ms_per_call']:.2f} | resets {r['resets']:.0f}"
                )
            for name in gateways:
                ratio = cost[name]["rps"] / cost["spyne (no database)"]["rps"]
                print(f"{name} / spyne throughput: {ratio:.2f}x")
            for name in gateways:
                b = cost[f"burst {name}"]
                print(
                    f"burst ({name}): {b['logins']:.0f} logins at once: authenticate p50 "
                    f"{b['auth_p50_ms']:.0f} ms, p99 {b['auth_p99_ms']:.0f} ms; meanwhile "
                    f"{b['other_calls']:.0f} other calls, p99 {b['other_p99_ms']:.1f} ms"
                )
        if "1" not in parts:
            args.levels = ""
        print(
            "\n1. concurrent Web Connectors (each: its own tenant, "
            f"{args.invoices} invoices, {args.batch} per set)"
        )
        print(
            "WCs | SOAP calls | seconds | calls/s | p50 ms | p99 ms | authenticate p50 ms | "
            "other calls p50 ms | sendRequestXML p50 ms | receiveResponseXML p50 ms | "
            "gateway CPU ms/call | gateway peak MB"
        )
        for level in (int(x) for x in args.levels.split(",") if x):
            url = database_for(args.database_url, workdir, f"c{level}")
            r = asyncio.run(concurrency_run(url, args.amqp_url, level, args.invoices, args.batch))
            cells = [
                f"{level}",
                f"{r['calls']:.0f}",
                f"{r['seconds']:.2f}",
                f"{r['rps']:.0f}",
                f"{r['p50_ms']:.1f}",
                f"{r['p99_ms']:.1f}",
                f"{r['auth_p50_ms']:.1f}",
                f"{r['other_p50_ms']:.1f}",
                f"{r['send_p50_ms']:.1f}",
                f"{r['recv_p50_ms']:.1f}",
                f"{r['cpu_ms_per_call']:.1f}",
                f"{r['peak_mb']:.0f}",
            ]
            print(" | ".join(cells))
        post_part(args, parts, workdir)


def post_part(args: argparse.Namespace, parts: set[str], workdir: Path) -> None:
    """Part 2, with ``--before``: the gateway of that checkout first, then this one, each on
    its own fresh database, alternating ``--post-rounds`` times."""
    if "2" not in parts:
        return
    print(f"\n2. posting {args.post_invoices:,} invoices in one Web Connector update")
    print(
        "gateway | requests per set | WC round trips | qbXML sets | seconds | "
        "gateway CPU ms/entry | PostgreSQL CPU ms/entry | gateway peak MB"
    )
    before = Path(args.before).resolve() if args.before else None
    sources: list[tuple[str, Path | None]] = [("this", None)]
    if before is not None:
        sources.insert(0, ("before", before))
    batches = [int(x) for x in args.post_batches.split(",") if x]
    for _round in range(args.post_rounds):
        for name, source in sources:
            for batch in batches:
                url = database_for(args.database_url, workdir, f"k{batch}")
                r = asyncio.run(
                    thousand_invoices(url, args.amqp_url, batch, args.post_invoices, source)
                )
                row = f"{name} | {batch} | {r['round_trips']:.0f} | {r['sets']:.0f}"
                print(
                    f"{row} | {r['seconds']:.1f} | {r['gateway_ms_per_entry']:.2f} | "
                    f"{r['postgres_ms_per_entry']:.2f} | {r['peak_mb']:.0f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
