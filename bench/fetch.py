"""Benchmark of the fetcher: Cin7 simulator -> fetcher -> RabbitMQ (docs/design.md §2, issue 3 §6).

Measures documents per second fetched and published, and the process's peak memory:

* ``limited``: one tenant, the simulator enforcing Cin7's limits (3/s, 60/min, 5,000/day per
  key) and the fetcher's limiter set to the same. The bound is the fastest any client could go:
  the minimum number of list requests that paging needs (rows=250 per kind and date field),
  spaced as tightly as the limits allow. The goal is at least 90% of that bound.
* ``unlimited``: every tenant at once with all limits off: the pipeline's own ceiling (HTTP,
  hashing, database, broker confirms).

Each mode runs in its own process so its peak RSS is its own. Needs RabbitMQ; the database is a
temporary SQLite file unless --database-url is given. Run:

    .venv/bin/python bench/fetch.py                 # both modes (~2 minutes)
    .venv/bin/python bench/fetch.py --mode unlimited --scale 2
    .venv/bin/python bench/fetch.py --mode unlimited --scale 6.7 --tenants 1 \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1/omni2qbd_bench   # issue 15's sync

``fetcher_cpu_ms_per_document`` is this process's CPU (HTTP client, hashing, database, broker
client; not the simulator's) from the first request to the last confirm, per published document;
``simulator_cpu_seconds`` the Cin7 simulator's over the same span.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from omni2qbd_fetcher.kinds import KINDS, MODIFIED_COGS
from omni2qbd_fetcher.options import FetcherOptions
from omni2qbd_fetcher.rate_limit import CIN7_LIMITS
from omni2qbd_fetcher.repository import tenant_access
from omni2qbd_fetcher.tenant_sync import TenantSyncer
from omni2qbd_gateway.tenants import create_tenant
from omni2qbd_shared.db.engine import create_engine, session_factory, unit_of_work
from omni2qbd_shared.db.migrate import upgrade
from omni2qbd_shared.messaging import Publisher, Topology, connect, declare_topology

SECRET = "bench-secret-key-0123456789-0123456789-0123456789"
ROWS = 250


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_simulator(
    seed: int, scale: float, limits_on: bool
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "omni2qbd_sims.cin7.cli",
        "--port",
        str(port),
        "--seed",
        str(seed),
        "--scale",
        str(scale),
    ]
    if not limits_on:
        command.append("--no-rate-limits")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{root}/_sim/tenants", timeout=2).status_code == 200:
                return process, root
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the Cin7 simulator did not start")


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) another process used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fastest_schedule(requests: int, limits: Sequence[tuple[int, float]]) -> float:
    """Seconds from the first to the last of ``requests`` sent as early as the limits allow."""
    times: list[float] = []
    for index in range(requests):
        earliest = 0.0
        for count, window in limits:
            if index >= count:
                earliest = max(earliest, times[index - count] + window)
        times.append(earliest)
    return times[-1] if times else 0.0


def minimum_requests(counts: dict[str, int], date_fields: dict[str, int]) -> int:
    """List requests any paging client needs: every full page plus the short/empty last one."""
    return sum((counts[resource] // ROWS + 1) * date_fields[resource] for resource in counts)


async def run_mode(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    limits_on = mode == "limited"
    scale = args.limited_scale if limits_on else args.scale
    process, root = start_simulator(args.seed, scale, limits_on)
    database_url = args.database_url
    tmp = None
    if database_url is None:
        tmp = tempfile.TemporaryDirectory()
        database_url = f"sqlite+aiosqlite:///{Path(tmp.name) / 'bench.db'}"
    topology = Topology(namespace=f"bench{uuid.uuid4().hex[:8]}.", retry_delay_ms=1000)
    try:
        await asyncio.to_thread(upgrade, database_url)
        async with httpx.AsyncClient(timeout=10) as http:
            accounts = (await http.get(f"{root}/_sim/tenants")).json()
        if limits_on:
            accounts = accounts[:1]
        elif args.tenants:
            accounts = accounts[: args.tenants]
        engine = create_engine(database_url)
        sessions = session_factory(engine)
        connection = await connect(args.amqp_url)
        channel = await connection.channel()
        await declare_topology(channel, topology)
        publisher = await Publisher.open(connection, topology)
        tenants = []
        for account in accounts:
            async with unit_of_work(sessions) as session:
                created = await create_tenant(
                    session,
                    name=account["company"],
                    secret_key=SECRET,
                    actor="bench",
                    cin7_username=account["username"],
                    cin7_api_key=account["connections"][0]["apiKey"],
                    cin7_base_url=f"{root}/api",
                )
            async with unit_of_work(sessions) as session:
                access = await tenant_access(session, created.tenant_id, SECRET)
            tenants.append(access)
        options = FetcherOptions(
            rows=ROWS,
            overlap=timedelta(minutes=5),
            request_timeout=120.0,
            cin7_limits=CIN7_LIMITS if limits_on else None,
            cin7_allowed_hosts=("127.0.0.1",),  # the simulator
        )
        syncer = TenantSyncer(sessions=sessions, publisher=publisher, options=options)
        started, cpu_started = time.perf_counter(), time.process_time()
        sim_started = process_cpu(process.pid)
        results = await asyncio.gather(*(syncer.turn(t) for t in tenants if t is not None))
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        sim_cpu = process_cpu(process.pid) - sim_started
        published = sum(r.published for r in results)
        requests = sum(client.requests_sent for _, client in syncer._clients.values())
        await syncer.aclose()
        async with httpx.AsyncClient(timeout=10) as http:
            stats = (await http.get(f"{root}/_sim/stats")).json()["usage"]
        throttled = sum(usage["throttled"] for usage in stats.values())
        queue_name = topology.queue("mapper.cin7-documents").name
        counting = await connection.channel()  # a fresh channel: robust ones cache declarations
        declared = await counting.declare_queue(queue_name, passive=True)
        in_queue = declared.declaration_result.message_count
        await counting.close()
        report: dict[str, Any] = {
            "mode": mode,
            "tenants": len(tenants),
            "scale": scale,
            "documents_published": published,
            "messages_in_queue": in_queue,
            "requests": requests,
            "throttled_429": throttled,
            "seconds": round(elapsed, 2),
            "documents_per_second": round(published / elapsed, 1),
            "fetcher_cpu_seconds": round(cpu, 2),
            "fetcher_cpu_ms_per_document": round(1000 * cpu / published, 3) if published else None,
            "simulator_cpu_seconds": round(sim_cpu, 2),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
        if limits_on:
            counts = accounts[0]["counts"]
            fields = {spec.resource: len(spec.date_fields) for spec in KINDS}
            # The COGS passes start at the first pass (nothing to read): one request each.
            needed = minimum_requests(
                {s.resource: counts[s.resource] for s in KINDS}, {r: 1 for r in fields}
            )
            needed += sum(1 for s in KINDS if MODIFIED_COGS in s.date_fields)
            floor = fastest_schedule(needed, CIN7_LIMITS)
            report.update(
                minimum_requests=needed,
                bound_seconds=round(floor, 2),
                bound_documents_per_second=round(published / floor, 1) if floor else None,
                percent_of_bound=round(100 * floor / elapsed, 1) if floor else None,
            )
        for spec in topology.all_queues():
            for name in (spec.name, spec.retry_queue, spec.dead_letter_queue):
                await channel.queue_delete(name)
        for exchange in topology.exchanges:
            await channel.exchange_delete(topology.exchange_name(exchange))
        await publisher.close()
        await connection.close()
        await engine.dispose()
        return report
    finally:
        process.terminate()
        process.wait(timeout=30)
        if tmp is not None:
            tmp.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=["both", "limited", "unlimited"], default="both")
    parser.add_argument("--scale", type=float, default=2.0, help="data scale, unlimited run")
    parser.add_argument("--limited-scale", type=float, default=8.0, help="data scale, limited run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--tenants", type=int, default=0, help="unlimited run: the first N accounts only (0: all)"
    )
    parser.add_argument(
        "--amqp-url",
        default=os.environ.get("OMNI2QBD_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
    )
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--json", action="store_true", help="print JSON lines only")
    args = parser.parse_args()
    if args.mode != "both":
        print(json.dumps(asyncio.run(run_mode(args.mode, args))))
        return
    reports = []
    for mode in ("unlimited", "limited"):
        command = [
            sys.executable,
            __file__,
            "--mode",
            mode,
            "--scale",
            str(args.scale),
            "--limited-scale",
            str(args.limited_scale),
            "--seed",
            str(args.seed),
            "--tenants",
            str(args.tenants),
            "--amqp-url",
            args.amqp_url,
        ]
        if args.database_url:
            command += ["--database-url", args.database_url]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        reports.append(json.loads(done.stdout.strip().splitlines()[-1]))
    for report in reports:
        print(json.dumps(report) if args.json else "  ".join(f"{k}={v}" for k, v in report.items()))


if __name__ == "__main__":
    main()
