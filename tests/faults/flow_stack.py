"""The whole product as real processes, for fault scenarios that end by counting every Cin7
document in the QuickBooks simulator's company file.

Built from the demo's own steps (``omni2qbd.demo.flow.Demo``): the gateway, mapper and
fetcher run as ``omni2qbd run SERVICE`` processes on PostgreSQL and RabbitMQ; the Cin7 Omni
simulator runs in this process (so the test can count its documents), and so does the
QuickBooks simulator that the Web Connector simulator drives. A scenario kills, restarts or
duplicates processes between the steps, then ``account_for_every_document`` checks that every
Cin7 document was fetched once and is in QuickBooks exactly once, or held with its reason.
"""

from __future__ import annotations

import contextlib
import json
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import col

from omni2qbd.demo.flow import Demo, DemoOptions, _post
from omni2qbd.demo.processes import ManagedProcess, free_port
from omni2qbd.demo.progress import Snapshot, snapshot
from omni2qbd.demo.summary import DOCUMENT_KINDS, build_summary
from omni2qbd_fetcher.kinds import KINDS
from omni2qbd_mapper.mapping import map_document
from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.db.engine import create_engine, session_factory
from omni2qbd_shared.db.migrate import upgrade_async
from omni2qbd_shared.db.models import Entry, FetchedDocument, OutboxItem, aware
from omni2qbd_shared.db.settings_store import latest_settings
from omni2qbd_shared.db.tenancy import scoped
from omni2qbd_shared.dead_letters import list_dead_letters
from omni2qbd_shared.messaging import Topology
from omni2qbd_shared.qb_lists import QbLists
from omni2qbd_shared.tenant_settings import load_settings_text
from omni2qbd_sims.cin7 import SimConfig, describe, generate
from omni2qbd_sims.cin7 import create_app as create_cin7
from omni2qbd_sims.cin7.server import serve_in_thread
from omni2qbd_sims.webconnector import WebConnectorSimulator
from omni2qbd_sims.webconnector.report import SessionReport
from tests.conftest import AMQP_URL, delete_topology

RESOURCE_OF_KIND = {spec.kind: spec.resource for spec in KINDS} | {
    "supplier_credit_note": "PurchaseOrders"
}
WAITING = ("approved", "queued", "sent", "in_doubt")


@dataclass
class Accounting:
    """Where every Cin7 document of the tenant ended up."""

    in_cin7: int = 0
    posted: int = 0  # every entry of the document is in QuickBooks exactly once
    held: Counter[str] = field(default_factory=Counter)  # reason code -> documents
    dead_lettered: dict[str, str] = field(default_factory=dict)  # document name -> reason
    waiting_in_cin7: int = 0  # not importable yet (not approved/invoiced in Cin7)
    lists: int = 0  # contacts and products: they feed the documents' entries
    qb_transactions: int = 0


class FlowStack(Demo):
    """One tenant's whole flow; every process it starts is stopped by ``close``."""

    def __init__(
        self,
        data_dir: Path,
        database_url: str,
        namespace: str,
        *,
        scale: float = 0.01,
        env: dict[str, str] | None = None,
    ) -> None:
        self.lines: list[str] = []
        self.t0 = time.monotonic()
        super().__init__(
            DemoOptions(
                data_dir=data_dir,
                scale=scale,
                amqp_url=AMQP_URL,
                database=database_url,
                amqp_namespace=namespace,
                settle_seconds=1.5,
                timeout_seconds=180.0,
            ),
            lambda line: self.lines.append(f"{time.monotonic() - self.t0:6.1f} {line}"),
        )
        self.extra_env = env or {}
        self.store = generate(self.options.seed, scale)
        self.cin7_account = describe(self.store)[0]
        self.ports: dict[str, int] = {}
        self.exits = contextlib.ExitStack()

    def _env(self) -> dict[str, str]:
        return {**super()._env(), **self.extra_env}

    def close(self) -> None:
        super().close()
        self.exits.close()

    # ---- starting and stopping -----------------------------------------------------------

    async def start(self, *, fetch: bool = True) -> None:
        """Cin7 and QuickBooks simulators, the tenant, the gateway with the Web Connector's
        first session (the lists), then the mapper and the fetcher; then one full fetch."""
        opts = self.options
        opts.data_dir.mkdir(parents=True, exist_ok=True)
        await upgrade_async(opts.database_url)
        self.engine = create_engine(opts.database_url)
        self.sessions = session_factory(self.engine)
        api = self.exits.enter_context(
            serve_in_thread(create_cin7(self.store, SimConfig(rate_limits_enabled=False)))
        )
        self.urls["cin7-simulator"] = api.removesuffix("/api")
        username = self.cin7_account["username"]
        tax_rate = await self._tax_rate(username, self.cin7_account["connections"][0]["apiKey"])
        self.tenant, self.password = await self._tenant(self.cin7_account, tax_rate)
        self.company = self._company(self.tenant, tax_rate)
        # The mapper starts with the gateway (nothing reaches it before the fetcher runs);
        # the fetcher only after the first session mirrored the QuickBooks lists, as in the demo.
        self.start_services(["gateway", "mapper"])
        first = await self.connector().run_session()
        assert first.completed, first.summary()
        self.start_services(["fetcher"])
        if fetch:
            await self.fetch()

    def start_services(self, names: list[str], service: str | None = None) -> None:
        """``omni2qbd run SERVICE`` as each name, started together, waited on until each
        answers; a restart keeps the port it had (the Web Connector's URL stays the same)."""
        started = []
        for name in names:
            port = self.ports.setdefault(name, free_port())
            process = ManagedProcess(
                name=name,
                args=["run", service or name, "--port", str(port)],
                env=self._env(),
                log_path=self.options.data_dir / "logs" / f"{name}.log",
                health_url=f"http://127.0.0.1:{port}",
                health_path="/readyz",
            )
            self.processes.start(process, wait=False)
            self.urls[name] = f"http://127.0.0.1:{port}"
            started.append(process)
        for process in started:
            process.wait_until_up(90)

    def kill(self, name: str) -> None:
        """kill -9: no shutdown, no acknowledgements, no closed sessions."""
        managed = next(p for p in self.processes.processes if p.name == name)
        assert managed.process is not None and managed.process.poll() is None
        managed.process.send_signal(signal.SIGKILL)
        managed.process.wait(30)
        self.processes.processes.remove(managed)

    async def refresh(self) -> datetime:
        started = datetime.now(UTC)
        await _post(f"{self.urls['fetcher']}/tenants/{self.tenant.id}/refresh")
        return started

    async def fetch(self) -> Snapshot:
        """One sync of every kind, waited on until mapping settled."""
        return await self._wait_settled(self.tenant.id, await self.refresh())

    # ---- the Web Connector --------------------------------------------------------------

    def connector(self, url: str | None = None, **faults: Any) -> WebConnectorSimulator:
        return WebConnectorSimulator(
            f"{url or self.urls['gateway']}/qbwc",
            self.tenant.qbwc_username,
            self.password,
            self.quickbooks,
            self.company.path,
            noop_pause_seconds=0.2,
            **faults,
        )

    async def approve(self, *, retry_failed: bool = True) -> int:
        return await self._approve_ready(self.tenant.id, retry_failed=retry_failed)

    async def waiting(self) -> int:
        snap = await snapshot(self.sessions_or_fail, self.tenant.id)
        return sum(snap.outbox.get(state, 0) for state in WAITING)

    async def post_everything(self, url: str | None = None, rounds: int = 12) -> list[str]:
        """As the demo: approve what is ready, run the Web Connector, until nothing waits."""
        statuses: list[str] = []
        for round_number in range(1, rounds + 1):
            await self.approve(retry_failed=round_number <= 3)
            if round_number > 1 and await self.waiting() == 0:
                return statuses
            report = await self.connector(url).run_session()
            statuses.append(report.status)
            self.say(f"session {round_number}: {report.status}")
            await self._wait_quiet(self.tenant.id)
            self.say("quiet")
        snap = await snapshot(self.sessions_or_fail, self.tenant.id)
        raise AssertionError(f"still waiting after {rounds} sessions: {snap.line()} {statuses}")

    async def session(self, url: str | None = None, **faults: Any) -> SessionReport:
        report = await self.connector(url, **faults).run_session()
        await self._wait_quiet(self.tenant.id)
        return report

    @property
    def sessions_or_fail(self) -> Any:
        assert self.sessions is not None
        return self.sessions

    # ---- the final count ----------------------------------------------------------------

    async def account_for_every_document(self) -> Accounting:
        """Every Cin7 document fetched once; each in QuickBooks exactly once (figures read
        from the company file), or held with its reason, or dead-lettered with its reason, or
        waiting for a step in Cin7. Anything else fails with the documents named."""
        sessions = self.sessions_or_fail
        tenant_id = self.tenant.id
        snap = await snapshot(sessions, tenant_id)
        summary = await build_summary(
            sessions, tenant_id, self.company, snap, round_trips=0, session_count=0
        )
        assert summary.ok, summary.render()
        async with sessions() as db:
            fetched = (await db.exec(scoped(FetchedDocument, tenant_id))).all()
            entries = (
                await db.exec(scoped(Entry, tenant_id).where(col(Entry.state) != "superseded"))
            ).all()
            outbox = (await db.exec(scoped(OutboxItem, tenant_id))).all()
        records = self.store.tenants[self.cin7_account["username"]].records
        in_cin7 = {
            (resource, str(number))
            for resource in set(RESOURCE_OF_KIND.values())
            for number in records[resource]
        }
        seen = Counter((RESOURCE_OF_KIND[d.kind], d.cin7_id) for d in fetched)
        missing = in_cin7 - set(seen)
        extra = set(seen) - in_cin7
        assert not missing and not extra, f"not fetched: {missing}; unknown: {extra}"

        dead = await list_dead_letters(
            AppSettings(amqp_url=AMQP_URL, amqp_namespace=self.options.amqp_namespace),
            tenant_id,
        )
        dead_by_document = {d.what.split(" (")[0]: d.reason for d in dead}
        result = Accounting(in_cin7=len(in_cin7), qb_transactions=len(self.company.transactions()))
        kinds = {(d.kind, d.cin7_id) for d in fetched}
        unaccounted: list[str] = []
        for kind, cin7_id in sorted(kinds):
            name = f"Cin7 {kind} {cin7_id}"
            if kind not in DOCUMENT_KINDS:
                result.lists += 1
                continue
            mine = [e for e in entries if (e.source_kind, e.cin7_id) == (kind, cin7_id)]
            items = [
                o
                for o in outbox
                if (o.source_kind, o.cin7_id) == (kind, cin7_id) and o.state != "superseded"
            ]
            held = [
                str(finding.get("code"))
                for entry in mine
                if entry.state == "needs_attention"
                for finding in entry.findings
                if finding.get("blocking")
            ]
            if name in dead_by_document:
                result.dead_lettered[name] = dead_by_document[name]
            elif held:
                result.held[held[0]] += 1
            elif not mine:
                # No entry: only right when the mapping itself says the document is not
                # importable yet (a document lost on the way would have entries here).
                status = await self._mapping_status(fetched, kind, cin7_id)
                if status in ("not_ready", "void", "ignored"):
                    result.waiting_in_cin7 += 1
                else:
                    unaccounted.append(f"{name}: mapping says {status}, but it has no entry")
            elif items and all(o.state == "posted" for o in items):
                result.posted += 1
            else:
                states = sorted({e.state for e in mine} | {o.state for o in items})
                unaccounted.append(f"{name}: {', '.join(states)}")
        assert not unaccounted, "neither in QuickBooks nor held: " + "; ".join(unaccounted)
        assert result.posted > 0
        return result

    async def _mapping_status(
        self, fetched: Sequence[FetchedDocument], kind: str, cin7_id: str
    ) -> str:
        """What the mapping makes of the document's latest revision, on its own."""
        revisions = [d for d in fetched if (d.kind, d.cin7_id) == (kind, cin7_id)]
        latest = max(revisions, key=lambda d: aware(d.fetched_at))
        async with self.sessions_or_fail() as db:
            saved = await latest_settings(db, self.tenant.id)
        assert saved is not None
        settings = load_settings_text(json.dumps(saved.body))
        mapped = map_document(kind, latest.payload, settings, QbLists.empty(), cin7_id=cin7_id)
        return str(mapped.status.value)


def small_sets(size: int, *, takeover_after_seconds: int) -> dict[str, str]:
    """Gateway settings for a session of many round trips (so a fault lands between them),
    and how soon the same Web Connector coming back takes its session over."""
    return {
        "OMNI2QBD_GATEWAY_BATCH_MAX_REQUESTS": str(size),
        "OMNI2QBD_GATEWAY_SET_MAX_REQUESTS": str(size),
        "OMNI2QBD_GATEWAY_TAKEOVER_AFTER_SECONDS": str(takeover_after_seconds),
    }


@contextlib.asynccontextmanager
async def flow_stack(
    data_dir: Path,
    database_url: str,
    *,
    env: dict[str, str] | None = None,
    fetch: bool = True,
    before_start: Callable[[FlowStack], object] | None = None,
) -> AsyncIterator[FlowStack]:
    """A started stack (``before_start`` may change the Cin7 data first), closed after."""
    namespace = f"flow{abs(hash(str(data_dir))) % 10**8}."
    stack = FlowStack(data_dir, database_url, namespace, env=env)
    if before_start is not None:
        before_start(stack)
    try:
        await stack.start(fetch=fetch)
        stack.say("started")
        yield stack
    finally:
        stack.say("closing")
        stack.close()
        stack.say("closed")
        print("\n".join(stack.lines))  # noqa: T201 - the stack's log, shown when a test fails
        if stack.engine is not None:
            await stack.engine.dispose()
        await delete_topology(Topology(namespace=namespace))
