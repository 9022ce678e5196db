"""End-to-end benchmark: N Cin7 sales orders from the simulator to posted in QuickBooks (issue 15).

Runs the real services as processes (fetcher, mapper, gateway) against the Cin7 simulator (its
rate limits off; the fetcher keeps its own client-side Cin7 limits, 3 requests a second and 60
a minute, unless ``--fetcher-cin7-limits off``), a Web Connector simulator and the QuickBooks
simulator, by driving the same steps as ``omni2qbd demo`` (bookkeeper approvals included).
Prints:

* seconds per stage: fetch (refresh until the last document is stored), map (refresh until the
  last entry is stored before posting starts), post (first approval until the last posting);
* CPU milliseconds per Cin7 document per service and the peak memory (VmHWM) per service
  (the QuickBooks and Web Connector simulators run inside this process);
* the mapper's CPU per mapped document in the first and the last tenth of the mapping, and
  their ratio (flat means near 1);
* per Cin7 kind, from the mapper's ``document_mapped`` log lines (each carries its batch's
  CPU milliseconds per document): the CPU per document in the first and the last tenth of
  that kind's documents and their ratio, so flatness per kind (sales orders especially) is
  checkable at any size; runs of code whose lines lack it (``--baseline``) show none.

The demo tenant is the simulator's first account (1,500 sales orders at scale 1), so N orders
means scale N/1500; purchase orders, credit notes and adjustments come along in proportion.
Needs RabbitMQ (and PostgreSQL for ``--db postgres``; a fresh database is created and dropped).

    .venv/bin/python bench/pipeline.py --orders 10000 --db postgres
    .venv/bin/python bench/pipeline.py --orders 1000 --db sqlite
    .venv/bin/python bench/pipeline.py --orders 2000 --db postgres --baseline ba15b4d

``--baseline REV`` first runs the same bench on REV's services (``git archive``, on PYTHONPATH)
in the same sitting, then on this checkout's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import func
from sqlmodel import col, select

from omni2qbd.demo import flow as demo_flow
from omni2qbd.demo.flow import Demo, DemoOptions, DemoRun, _Connector
from omni2qbd.demo.processes import ManagedProcess
from omni2qbd.demo.summary import build_summary
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import Entry, FetchedDocument, OutboxItem
from omni2qbd_shared.messaging import Topology, delete_topology
from omni2qbd_sims.quickbooks.company_file import CompanyFile
from omni2qbd_sims.quickbooks.model import TxnSnapshot

ORDERS_AT_SCALE_ONE = 1500  # the first simulated account's sales orders at scale 1
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
SAMPLE_SECONDS = 0.5
CLOCK_TICKS = 100  # os.sysconf("SC_CLK_TCK") on Linux
BENCH_PROCESS = "bench process (QuickBooks + Web Connector sims)"


def _proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime, stime, cutime, cstime (fields 14-17; the split starts at field 3)
    return sum(int(v) for v in fields[11:15]) / CLOCK_TICKS


SERVERS = {"postgres": "PostgreSQL (all backends)", "beam.smp": "RabbitMQ"}


def _servers_cpu_seconds() -> dict[str, float]:
    """CPU seconds so far of the PostgreSQL and RabbitMQ processes on this machine (shared
    with whatever else uses them; a backend that exited no longer counts)."""
    used = dict.fromkeys(SERVERS.values(), 0.0)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.find("(") + 1 : text.rfind(")")]
        if name in SERVERS:
            fields = text.rsplit(")", 1)[1].split()
            used[SERVERS[name]] += sum(int(v) for v in fields[11:13]) / CLOCK_TICKS
    return used


def _proc_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Sample:
    at: float
    fetched: int
    entries: int
    posted: int
    mapper_cpu: float
    mapped: int
    cpu: dict[str, float] = field(default_factory=dict)  # every service's CPU seconds so far


@dataclass
class Measures:
    samples: list[Sample] = field(default_factory=list)
    refresh_at: float | None = None
    post_started_at: float | None = None
    cpu: dict[str, float] = field(default_factory=dict)
    peak_mb: dict[str, float] = field(default_factory=dict)


class MapperLog:
    """Counts the mapper's ``document_mapped`` log lines, reading only what was appended."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.count = 0
        self._partial = b""

    def read(self) -> int:
        if not self.path.exists():
            return self.count
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read()
        self.offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        self.count += sum(1 for line in lines if b'"document_mapped"' in line)
        return self.count


class PipelineBench(Demo):
    """The demo's steps with the Cin7 limits off, sampled while they run."""

    def __init__(
        self,
        options: DemoOptions,
        *,
        fetcher_cin7_limits: str | None = None,
        overlap: bool = False,
    ) -> None:
        super().__init__(options, say=self._say)
        self._fetcher_cin7_limits = fetcher_cin7_limits
        self.overlap = overlap
        self.service_env: dict[str, str] = {}
        self._connector: _Connector | None = None
        self.measures = Measures()
        self.mapper_log_path = options.data_dir / "logs" / "mapper.log"
        self._mapper_log = MapperLog(self.mapper_log_path)
        self._tenant_id: str | None = None

    def _say(self, line: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)

    def _env(self) -> dict[str, str]:
        env = super()._env()
        if self._fetcher_cin7_limits is not None:
            env["OMNI2QBD_FETCHER_CIN7_LIMITS"] = self._fetcher_cin7_limits
        env.update(self.service_env)
        return env

    def _start(
        self,
        name: str,
        args: list[str],
        port: int,
        health_path: str = "/livez",
        *,
        wait: bool = True,
    ) -> ManagedProcess:
        if name == "cin7-simulator":
            args = [*args, "--no-rate-limits"]
        return super()._start(name, args, port, health_path, wait=wait)

    def _pids(self) -> dict[str, int]:
        return {
            p.name: p.process.pid
            for p in self.processes.processes
            if p.process is not None and p.process.poll() is None
        }

    async def _connect_quickbooks(self, *args: Any, **kwargs: Any) -> _Connector:
        self._connector = await super()._connect_quickbooks(*args, **kwargs)
        return self._connector

    async def _fetch(self, tenant_id: str, username: str) -> Any:
        """With ``--overlap``: the stand-in bookkeeper approves what is ready every second
        while documents arrive (as the demo's rounds do: every entry with no blocking finding,
        with the customers and vendors it needs) and the Web Connector runs sessions back to
        back (as one long session does while work keeps arriving), so posting overlaps
        fetching and mapping. The demo's own rounds then approve and send what is left."""
        if not self.overlap:
            return await super()._fetch(tenant_id, username)
        self.say("Approving every second what is ready; Web Connector sessions back to back")
        settled = asyncio.Event()
        helpers = [
            asyncio.create_task(self._approve_until(tenant_id, settled)),
            asyncio.create_task(self._sessions_until(settled)),
        ]
        try:
            self.measures.post_started_at = time.monotonic()
            snap = await self._refresh_and_settle(tenant_id)
        finally:
            settled.set()
            await asyncio.gather(*helpers)
        return snap, None

    async def _approve_until(self, tenant_id: str, settled: asyncio.Event) -> None:
        while not settled.is_set():
            await super()._approve_ready(tenant_id, retry_failed=False)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(settled.wait(), 1.0)

    async def _sessions_until(self, settled: asyncio.Event) -> None:
        """Web Connector sessions one after the other; after a session that sent nothing, a
        pause of half a second (the simulated Web Connector's schedule)."""
        assert self._connector is not None
        while not settled.is_set():
            report = await self._connector.run_session()
            if report.requests_processed == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(settled.wait(), 0.5)

    async def _approve_ready(self, tenant_id: str, *, retry_failed: bool) -> int:
        if self.measures.post_started_at is None:
            self.measures.post_started_at = time.monotonic()
        return await super()._approve_ready(tenant_id, retry_failed=retry_failed)

    async def _wait_settled(self, tenant_id: str, since: Any) -> Any:
        self._tenant_id = tenant_id
        if self.measures.refresh_at is None:
            self.measures.refresh_at = time.monotonic()
        return await super()._wait_settled(tenant_id, since)

    async def _sample(self) -> None:
        assert self.sessions is not None
        while True:
            await asyncio.sleep(SAMPLE_SECONDS)
            tenant_id = self._tenant_id
            pids = self._pids()
            for name, pid in pids.items():
                try:
                    self.measures.cpu[name] = _proc_cpu_seconds(pid)
                    self.measures.peak_mb[name] = _proc_peak_mb(pid)
                except (OSError, ValueError, IndexError):
                    pass
            if tenant_id is None or "mapper" not in pids:
                continue
            async with unit_of_work(self.sessions, read_only=True) as session:
                counts = []
                for statement in (
                    select(func.count())
                    .select_from(FetchedDocument)
                    .where(col(FetchedDocument.tenant_id) == tenant_id),
                    select(func.count())
                    .select_from(Entry)
                    .where(col(Entry.tenant_id) == tenant_id),
                    select(func.count())
                    .select_from(OutboxItem)
                    .where(
                        col(OutboxItem.tenant_id) == tenant_id, col(OutboxItem.state) == "posted"
                    ),
                ):
                    counts.append(int((await session.exec(statement)).one()))
            self.measures.samples.append(
                Sample(
                    time.monotonic(),
                    fetched=counts[0],
                    entries=counts[1],
                    posted=counts[2],
                    mapper_cpu=self.measures.cpu.get("mapper", 0.0),
                    mapped=self._mapper_log.read(),
                    cpu={
                        **self.measures.cpu,
                        BENCH_PROCESS: _proc_cpu_seconds_self(),
                        **_servers_cpu_seconds(),
                    },
                )
            )

    async def _run(self, opts: DemoOptions) -> DemoRun:
        sampler = asyncio.create_task(self._sample())
        try:
            return await super()._run(opts)
        finally:
            sampler.cancel()
            self.measures.cpu[BENCH_PROCESS] = _proc_cpu_seconds_self()
            self.measures.peak_mb[BENCH_PROCESS] = _proc_peak_mb_self()


class IndexedCompany:
    """The company file as the demo's summary reads it, once posting has ended: its look-ups
    by ExternalGUID and RefNumber from an index built once instead of a scan per entry (the
    scans made the summary of a 10,000-order run take about 12 minutes). Same answers."""

    def __init__(self, company: CompanyFile) -> None:
        self._company = company
        self._by_guid: dict[str, list[TxnSnapshot]] | None = None
        self._by_ref: dict[tuple[str, str], int] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._company, name)

    def _index(self) -> dict[str, list[TxnSnapshot]]:
        if self._by_guid is None:
            self._by_guid = {}
            with self._company.lock:
                for txn in self._company.txns.values():
                    if txn.deleted:
                        continue
                    guid = (txn.body.findtext("ExternalGUID") or "").upper()
                    self._by_guid.setdefault(guid, []).append(self._company.snapshot(txn))
                    ref = txn.body.findtext("RefNumber")
                    if ref is not None:
                        key = (ref, txn.txn_type)
                        self._by_ref[key] = self._by_ref.get(key, 0) + 1
        return self._by_guid

    def find_by_external_guid(self, external_guid: str) -> list[TxnSnapshot]:
        return list(self._index().get(external_guid.strip().upper(), []))

    def count_by_ref_number(self, ref_number: str, txn_type: str | None = None) -> int:
        self._index()
        if txn_type is not None:
            return self._by_ref.get((ref_number, txn_type), 0)
        return sum(n for (ref, _type), n in self._by_ref.items() if ref == ref_number)


_build_summary = build_summary  # the demo's own, which the wrapper below calls


async def _summary_with_index(
    sessions: Any, tenant_id: str, company: CompanyFile, *args: Any, **kwargs: Any
) -> Any:
    return await _build_summary(sessions, tenant_id, IndexedCompany(company), *args, **kwargs)  # type: ignore[arg-type]


# The demo module's name for it, replaced in this process only (the bench's demo).
setattr(demo_flow, "build_summary", _summary_with_index)  # noqa: B010


def _proc_cpu_seconds_self() -> float:
    return time.process_time()


def _proc_peak_mb_self() -> float:
    return _proc_peak_mb(int(Path("/proc/self/stat").read_text().split()[0]))


def _last_change(samples: list[Sample], attr: str, until: float | None = None) -> float | None:
    """When the counter ``attr`` last changed (before ``until``)."""
    last, previous = None, None
    for sample in samples:
        if until is not None and sample.at > until:
            break
        value = getattr(sample, attr)
        if previous is not None and value != previous:
            last = sample.at
        previous = value
    return last


def _tenths(samples: list[Sample], until: float | None) -> tuple[float, float] | None:
    """Mapper CPU ms per mapped document in the first and the last tenth of the mapping."""
    mapping = [s for s in samples if until is None or s.at <= until]
    if len(mapping) < 3:
        return None
    start, end = mapping[0], mapping[-1]
    total = end.mapped - start.mapped
    if total < 20:
        return None
    first = next(s for s in mapping if s.mapped - start.mapped >= total / 10)
    last_start = [s for s in mapping if s.mapped - start.mapped <= total * 9 / 10][-1]
    last_end = next(s for s in mapping if s.mapped == end.mapped)

    def per_doc(a: Sample, b: Sample) -> float:
        return 1000 * (b.mapper_cpu - a.mapper_cpu) / max(b.mapped - a.mapped, 1)

    return per_doc(start, first), per_doc(last_start, last_end)


def per_kind_cpu(log_path: Path) -> dict[str, Any]:
    """Per kind: documents, mean batch size, CPU ms per document overall and in the first and
    the last tenth of the kind's first mappings (log order), and last/first."""
    by_kind: dict[str, list[tuple[float, int]]] = {}
    if log_path.exists():
        with log_path.open("rb") as handle:
            for raw in handle:
                if b'"document_mapped"' not in raw or b'"batch_cpu_ms"' not in raw:
                    continue
                line = json.loads(raw)
                by_kind.setdefault(str(line["kind"]), []).append(
                    (float(line["batch_cpu_ms"]), int(line["batch_size"]))
                )
    figures: dict[str, Any] = {}
    for kind, rows in sorted(by_kind.items(), key=lambda item: -len(item[1])):
        cpu = [ms for ms, _size in rows]
        tenth = max(len(cpu) // 10, 1)
        first = sum(cpu[:tenth]) / tenth
        last = sum(cpu[-tenth:]) / tenth
        figures[kind] = {
            "documents": len(cpu),
            "mean_batch_size": round(sum(size for _ms, size in rows) / len(rows), 1),
            "cpu_ms_per_document": round(sum(cpu) / len(cpu), 2),
            "first_tenth": round(first, 2),
            "last_tenth": round(last, 2),
            "ratio": round(last / first, 2) if first else None,
        }
    return figures


def mapper_cpu_split(log_path: Path, mapper_cpu_seconds: float) -> dict[str, float]:
    """The mapper's CPU seconds in its batches of documents, results and list changes (the
    sums of their log lines), and the rest: start-up, tenant events, the consumers' plumbing
    (JSON, AMQP, acks, publishing, logging)."""
    batches = {"results_tracked": "result_batches", "list_changes_checked": "list_change_batches"}
    seconds = {"document_batches": 0.0, "result_batches": 0.0, "list_change_batches": 0.0}
    if log_path.exists():
        with log_path.open("rb") as handle:
            for raw in handle:
                if b'"batch_cpu_ms"' not in raw:
                    continue
                line = json.loads(raw)
                if line.get("event") in batches:
                    seconds[batches[line["event"]]] += (
                        line["batch_cpu_ms"] * line["batch_size"] / 1000
                    )
                elif line.get("event") == "document_mapped":
                    seconds["document_batches"] += line["batch_cpu_ms"] / 1000
    seconds["rest"] = mapper_cpu_seconds - sum(seconds.values())
    return {name: round(value, 2) for name, value in seconds.items()}


def stage_cpu(
    samples: list[Sample], done: float | None, start: float | None = None
) -> dict[str, float] | None:
    """CPU seconds each process used from ``start`` (the first sample if None) to ``done``:
    a stage's own processes against what ran beside them on the same cores, PostgreSQL and
    RabbitMQ included; "wall" is the stage's seconds (two cores: 2 x wall)."""
    if not samples or done is None:
        return None
    first = next((s for s in samples if start is None or s.at >= start), samples[0])
    end = next((s for s in samples if s.at >= done), samples[-1])
    used = {name: end.cpu[name] - first.cpu.get(name, 0.0) for name in end.cpu}
    used["all"] = sum(used.values())
    used["wall"] = end.at - first.at
    return {name: round(value, 1) for name, value in sorted(used.items())}


def report(bench: PipelineBench, run: DemoRun, orders: int, db: str, wall: float) -> dict[str, Any]:
    m = bench.measures
    samples = m.samples
    refresh = m.refresh_at or (samples[0].at if samples else 0.0)
    # Without --overlap, posting starts once mapping settled; with it, from the refresh on.
    before_posting = None if bench.overlap else m.post_started_at
    fetch_done = _last_change(samples, "fetched", before_posting)
    map_done = _last_change(samples, "entries", before_posting)
    post_done = _last_change(samples, "posted")
    last = samples[-1] if samples else Sample(0, 0, 0, 0, 0, 0)
    documents = max(last.fetched, 1)
    tenths = _tenths(samples, map_done)
    result: dict[str, Any] = {
        "orders": orders,
        "db": db,
        "overlap": bench.overlap,
        "service_env": bench.service_env,
        "documents_fetched": last.fetched,
        "entries": last.entries,
        "posted": last.posted,
        "mapper_documents_mapped": last.mapped,
        "seconds": {
            "fetch": round((fetch_done or refresh) - refresh, 1),
            "map": round((map_done or refresh) - refresh, 1),
            "post": round((post_done or 0) - (m.post_started_at or 0), 1) if post_done else None,
            "fetch_to_posted": round((post_done or refresh) - refresh, 1),
            "wall_including_startup_and_settle_waits": round(wall, 1),
        },
        "cpu_ms_per_document": {
            name: round(1000 * seconds / documents, 2) for name, seconds in sorted(m.cpu.items())
        },
        "peak_memory_mb": {name: round(mb) for name, mb in sorted(m.peak_mb.items())},
        "mapper_cpu_ms_per_mapped_document": (
            {
                "first_tenth": round(tenths[0], 2),
                "last_tenth": round(tenths[1], 2),
                "ratio": round(tenths[1] / tenths[0], 2) if tenths[0] else None,
            }
            if tenths
            else None
        ),
        "fetch_stage_cpu_seconds": stage_cpu(samples, fetch_done),
        "fetch_and_map_cpu_seconds": stage_cpu(samples, map_done),
        "fetch_to_posted_cpu_seconds": stage_cpu(samples, post_done),
        "post_stage_cpu_seconds": stage_cpu(samples, post_done, m.post_started_at),
        "mapper_cpu_ms_per_document_by_kind": per_kind_cpu(bench.mapper_log_path),
        "mapper_cpu_seconds": mapper_cpu_split(bench.mapper_log_path, m.cpu.get("mapper", 0.0)),
        "summary_ok": run.summary.ok,
    }
    return result


async def _create_pg() -> str:
    name = f"bench_pipeline_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def _drop_pg(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=10_000, help="Cin7 sales orders")
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to settle")
    parser.add_argument(
        "--keep-data",
        action="store_true",
        help="keep the data directory (logs) and the PostgreSQL database after the run",
    )
    parser.add_argument(
        "--fetcher-cin7-limits",
        metavar="LIMITS",
        default=None,
        help="the fetcher's own Cin7 request limits (OMNI2QBD_FETCHER_CIN7_LIMITS, e.g. 'off'); "
        "by default Cin7's (3 a second, 60 a minute), which bound a fetch of more than 60 pages",
    )
    parser.add_argument(
        "--service-env",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="a setting for the services (e.g. OMNI2QBD_MAPPER_PREFETCH=100); repeatable",
    )
    parser.add_argument(
        "--overlap",
        action="store_true",
        help="approve what is ready every second and run Web Connector sessions back to back "
        "from the refresh on, so posting overlaps fetching and mapping (by default the demo's "
        "bookkeeper approves once mapping settled)",
    )
    parser.add_argument(
        "--baseline",
        metavar="GIT_REVISION",
        default=None,
        help="first run the same bench on that revision's code (git archive), then this one's",
    )
    args = parser.parse_args(argv)
    if args.baseline:
        return _with_baseline(args.baseline, argv if argv is not None else sys.argv[1:])

    data_dir = Path(tempfile.mkdtemp(prefix="omni2qbd-bench-pipeline-"))
    pg_name = asyncio.run(_create_pg()) if args.db == "postgres" else None
    namespace = f"bench.{uuid.uuid4().hex[:8]}."
    options = DemoOptions(
        data_dir=data_dir,
        seed=args.seed,
        scale=args.orders / ORDERS_AT_SCALE_ONE,
        database=(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{pg_name}" if pg_name else None),
        amqp_namespace=namespace,
        max_sessions=500,
        timeout_seconds=args.timeout,
    )
    bench = PipelineBench(
        options, fetcher_cin7_limits=args.fetcher_cin7_limits, overlap=args.overlap
    )
    bench.service_env = dict(pair.split("=", 1) for pair in args.service_env)
    started = time.monotonic()
    try:
        run = asyncio.run(bench.run())
        wall = time.monotonic() - started
        bench.close()
    except BaseException:
        bench.close()
        raise
    finally:
        if pg_name and not args.keep_data:
            asyncio.run(_drop_pg(pg_name))
        asyncio.run(_delete_namespace(options.amqp_url, namespace))
    figures = report(bench, run, args.orders, args.db, wall)
    print(json.dumps(figures, indent=2))
    if args.keep_data:
        print(f"data kept in {data_dir}", file=sys.stderr)
        if pg_name:
            print(f"database kept: {pg_name} (drop it when done)", file=sys.stderr)
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


def _with_baseline(revision: str, argv: list[str]) -> int:
    """The run on ``revision``'s services (this bench script, its code on PYTHONPATH: the
    services are child processes and inherit it), then the run on this checkout's."""
    from bench.console import export_revision, source_env  # noqa: PLC0415 (only a --baseline run needs it)

    rest = [
        a for i, a in enumerate(argv) if a != "--baseline" and argv[i - 1 : i] != ["--baseline"]
    ]
    rest = [a for a in rest if not a.startswith("--baseline=")]
    with tempfile.TemporaryDirectory(prefix="omni2qbd-bench-baseline-") as tmp:
        tree = export_revision(revision, Path(tmp))
        for label, env, cwd in (
            (f"baseline {revision}", source_env(tree), tree),
            ("this checkout", None, None),
        ):
            print(f"== {label}", flush=True)
            # The services run as ``python -m omni2qbd``, which puts the working directory
            # first on sys.path: the baseline's run works in its tree, or this checkout's
            # ``omni2qbd`` package would load beside the baseline's shared code.
            subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), *rest],
                env=env,
                cwd=cwd,
                check=True,
            )
    return 0


async def _delete_namespace(amqp_url: str, namespace: str) -> None:
    """Remove the run's queues and exchanges (they are the run's alone)."""
    await delete_topology(amqp_url, Topology(namespace=namespace))


if __name__ == "__main__":
    sys.exit(main())
