"""The demo's steps: start the stack, fetch, map, approve, post, summarise, serve."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aio_pika
import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd.demo.company import demo_settings, seed_company
from omni2qbd.demo.people import DemoPerson, demo_people
from omni2qbd.demo.processes import ManagedProcess, ProcessGroup, free_port
from omni2qbd.demo.progress import Snapshot, snapshot
from omni2qbd.demo.summary import Summary, build_summary
from omni2qbd_gateway.settings_store import save_settings
from omni2qbd_gateway.tenants import create_tenant, rotate_password, set_cin7_credentials
from omni2qbd_gateway.workflow import approval
from omni2qbd_gateway.workflow.scope import TenantScope
from omni2qbd_shared.cli_support import TenantNotFound, get_tenant
from omni2qbd_shared.config import PLACEHOLDER_SECRET_KEY, without_credentials
from omni2qbd_shared.db.engine import create_engine, session_factory, unit_of_work
from omni2qbd_shared.db.migrate import upgrade_async
from omni2qbd_shared.db.models import GatewayPendingMessage, OutboxItem, QbLink, Tenant
from omni2qbd_shared.db.settings_store import latest_settings
from omni2qbd_shared.db.tenancy import scoped
from omni2qbd_shared.kinds import EntryState
from omni2qbd_sims.quickbooks import QuickBooksSimulator
from omni2qbd_sims.quickbooks.company_file import CompanyFile
from omni2qbd_sims.quickbooks.http_api import create_app as create_quickbooks_app
from omni2qbd_sims.quickbooks.persistence import load_companies, save_companies
from omni2qbd_sims.quickbooks.serving import running_server
from omni2qbd_sims.webconnector import SessionReport, WebConnectorSimulator

TENANT_NAME = "Demo: {company}"
COMPANY_PATH = "C:\\Companies\\{name}.qbw"
AMQP_NAMESPACE = "demo."
# Approved and not yet answered by QuickBooks: a Web Connector run still has work.
IN_FLIGHT = (EntryState.APPROVED, EntryState.QUEUED, EntryState.SENT, EntryState.IN_DOUBT)
Say = Callable[[str], None]


@dataclass(frozen=True)
class DemoOptions:
    data_dir: Path
    seed: int = 7
    scale: float = 0.1
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    change: bool = False
    max_sessions: int = 30
    settle_seconds: float = 3.0
    timeout_seconds: float = 600.0
    database: str | None = None  # default: a SQLite file in data_dir
    amqp_namespace: str = AMQP_NAMESPACE

    @property
    def database_url(self) -> str:
        if self.database:
            return self.database
        return f"sqlite+aiosqlite:///{(self.data_dir / 'omni2qbd.db').resolve()}"

    @property
    def quickbooks_state(self) -> Path:
        return self.data_dir / "quickbooks-company-files.pickle"


@dataclass
class DemoRun:
    summary: Summary
    urls: dict[str, str]
    changed: str | None
    people: list[DemoPerson] = field(default_factory=list)


class DemoError(RuntimeError):
    pass


@dataclass
class _Connector:
    """The demo's Web Connector, and what its sessions did so far (for the summary)."""

    simulator: WebConnectorSimulator
    sessions: int = 0
    round_trips: int = 0

    async def run_session(self) -> SessionReport:
        report = await self.simulator.run_session()
        self.sessions += 1
        self.round_trips += report.round_trips
        return report


class Demo:
    """Owns everything the demo starts; ``close`` stops it all in reverse order."""

    def __init__(self, options: DemoOptions, say: Say) -> None:
        self.options = options
        self.say = say
        self.processes = ProcessGroup()
        self.quickbooks = QuickBooksSimulator()
        self.engine: AsyncEngine | None = None
        self.sessions: async_sessionmaker[AsyncSession] | None = None
        self.urls: dict[str, str] = {}
        self.people: list[DemoPerson] = []
        self._quickbooks_server: Any = None
        self._services: dict[str, ManagedProcess] = {}

    # ---- lifecycle ------------------------------------------------------------------

    def close(self) -> None:
        self.processes.stop_all()
        if self._quickbooks_server is not None:
            self._quickbooks_server.__exit__(None, None, None)
            self._quickbooks_server = None
        save_companies(self.quickbooks, self.options.quickbooks_state)

    def _env(self) -> dict[str, str]:
        return {
            "OMNI2QBD_ENVIRONMENT": "development",
            "OMNI2QBD_SECRET_KEY": PLACEHOLDER_SECRET_KEY,
            # A fault test routes the services (not the demo's own checks) through a proxy.
            "OMNI2QBD_DATABASE_URL": os.environ.get(
                "OMNI2QBD_DEMO_SERVICES_DATABASE_URL", self.options.database_url
            ),
            "OMNI2QBD_AMQP_URL": os.environ.get(
                "OMNI2QBD_DEMO_SERVICES_AMQP_URL", self.options.amqp_url
            ),
            "OMNI2QBD_AMQP_NAMESPACE": self.options.amqp_namespace,
            "OMNI2QBD_FETCHER_POLL_INTERVAL_SECONDS": "15",
            "OMNI2QBD_MESSAGE_RETRY_DELAY_MS": "1000",
            "OMNI2QBD_LOG_JSON": "true",
            # The demo's tenant points at its own Cin7 simulator on this machine.
            "OMNI2QBD_CIN7_ALLOWED_HOSTS": "api.cin7.com,127.0.0.1",
        }

    def _start(
        self,
        name: str,
        args: list[str],
        port: int,
        health_path: str = "/livez",
        *,
        wait: bool = True,
    ) -> ManagedProcess:
        process = ManagedProcess(
            name=name,
            args=args,
            env=self._env(),
            log_path=self.options.data_dir / "logs" / f"{name}.log",
            health_url=f"http://127.0.0.1:{port}",
            health_path=health_path,
        )
        self.processes.start(process, wait=wait)
        self.urls[name] = f"http://127.0.0.1:{port}"
        self._services[name] = process
        return process

    # ---- steps ----------------------------------------------------------------------

    async def run(self) -> DemoRun:
        opts = self.options
        opts.data_dir.mkdir(parents=True, exist_ok=True)
        self.say(f"Data in {opts.data_dir} (database, QuickBooks company file, logs)")
        await self._check_broker()
        await upgrade_async(opts.database_url)
        self.engine = create_engine(opts.database_url)
        self.sessions = session_factory(self.engine)
        try:
            return await self._run(opts)
        finally:
            await self.engine.dispose()

    async def _run(self, opts: DemoOptions) -> DemoRun:
        assert self.sessions is not None
        # The gateway and the mapper only need the database: started now, their start-up
        # (mostly imports, seconds each) overlaps with the Cin7 simulator's instead of
        # following it; each is waited for where it is first needed.
        self._start_service("gateway", wait=False)
        self._start_service("mapper", wait=False)
        account = await self._start_cin7(opts)
        tax_rate = await self._tax_rate(account["username"], account["connections"][0]["apiKey"])
        tenant, password = await self._tenant(account, tax_rate)
        self.people = await demo_people(self.sessions, tenant.id)
        company = self._company(tenant, tax_rate)
        self._quickbooks_server = running_server(create_quickbooks_app(self.quickbooks))
        self.urls["quickbooks-simulator"] = self._quickbooks_server.__enter__()
        connector = await self._connect_quickbooks(tenant, password, company)
        # Mapping starts once the QuickBooks lists are mirrored, so contacts that already
        # exist in QuickBooks are matched rather than proposed as new.
        self._start_service("fetcher", wait=False)  # it polls Cin7 as soon as it is up
        await self._wait_ready(["mapper", "fetcher"])
        snap, changed = await self._fetch(tenant.id, account["username"])
        snap = await self._post_everything(tenant.id, connector, snap)
        save_companies(self.quickbooks, opts.quickbooks_state)
        summary = await build_summary(
            self.sessions,
            tenant.id,
            company,
            snap,
            round_trips=connector.round_trips,
            session_count=connector.sessions,
        )
        self.urls["web-connector-user"] = tenant.qbwc_username
        # Shown so a person can point the Web Connector simulator (or a real one) at it; the
        # demo tenant gets a new password on every run.
        self.urls["web-connector-password"] = password
        return DemoRun(summary, dict(self.urls), changed, list(self.people))

    async def _start_cin7(self, opts: DemoOptions) -> dict[str, Any]:
        """Start the Cin7 Omni simulator; its first account is the demo's."""
        cin7_port = free_port()
        self.say("Starting the Cin7 Omni simulator ...")
        self._start(
            "cin7-simulator",
            [
                "sim",
                "cin7",
                "--port",
                str(cin7_port),
                "--seed",
                str(opts.seed),
                "--scale",
                str(opts.scale),
            ],
            cin7_port,
            health_path="/_sim/tenants",
        )
        account: dict[str, Any] = (await _get_json(f"{self.urls['cin7-simulator']}/_sim/tenants"))[
            0
        ]
        return account

    async def _connect_quickbooks(
        self, tenant: Tenant, password: str, company: CompanyFile
    ) -> _Connector:
        """Start the gateway and run the Web Connector's first session against it."""
        await self._wait_ready(["gateway"])
        connector = _Connector(
            WebConnectorSimulator(
                f"{self.urls['gateway']}/qbwc",
                tenant.qbwc_username,
                password,
                self.quickbooks,
                company.path,
                noop_pause_seconds=0.2,
            )
        )
        self.say("Web Connector: first session reads the QuickBooks lists (customers, items ...)")
        await connector.run_session()
        return connector

    async def _fetch(self, tenant_id: str, username: str) -> tuple[Snapshot, str | None]:
        """Fetch and map everything; with ``--change``, edit an invoiced order and again."""
        self.say("Fetching from Cin7 Omni and mapping into entries ...")
        snap = await self._refresh_and_settle(tenant_id)
        if not self.options.change:
            return snap, None
        changed = await self._change_posted_invoice(tenant_id, username)
        if changed:
            snap = await self._refresh_and_settle(tenant_id)
        return snap, changed

    async def _refresh_and_settle(self, tenant_id: str) -> Snapshot:
        started = datetime.now(UTC)
        await _post(f"{self.urls['fetcher']}/tenants/{tenant_id}/refresh")
        return await self._wait_settled(tenant_id, started)

    async def _post_everything(
        self, tenant_id: str, connector: _Connector, snap: Snapshot
    ) -> Snapshot:
        """Approve and run Web Connector sessions until nothing waits to be sent."""
        assert self.sessions is not None
        for round_number in range(1, self.options.max_sessions + 1):
            await self._approve_round(tenant_id, round_number)
            snap = await snapshot(self.sessions, tenant_id)
            waiting = sum(snap.outbox.get(s, 0) for s in IN_FLIGHT)
            if waiting == 0 and round_number > 1:
                break
            report = await connector.run_session()
            snap = await snapshot(self.sessions, tenant_id)
            self.say(
                f"  Web Connector session {connector.sessions}: {report.status} | {snap.line()}"
            )
            await self._wait_quiet(tenant_id)
        return snap

    async def _approve_round(self, tenant_id: str, round_number: int) -> None:
        # The demo stands in for the bookkeeper: whatever is ready (and, for a couple of
        # rounds, whatever failed) is approved before each Web Connector run.
        approved = await self._approve_ready(tenant_id, retry_failed=round_number <= 3)
        if round_number == 1:
            self.say(
                f"Approved {approved} entries with no blocking finding "
                "(the demo stands in for the bookkeeper here)"
            )
        elif approved:
            self.say(f"  approved {approved} more (new versions, or a retry after a failure)")

    async def _approve_ready(self, tenant_id: str, *, retry_failed: bool) -> int:
        """Approve as a bookkeeper would through the workflow: every ready entry with the
        customer and vendor adds it needs (an invoice whose add is not prepared yet waits for
        the next round instead of failing), and, for a few rounds, a retry of what failed."""
        assert self.sessions is not None
        scope = TenantScope(tenant_id, "demo (auto-approve)")
        async with unit_of_work(self.sessions) as session:
            result = await approval.approve(session, scope, all_ready=True)
            count = len(result.approved) + len(result.dependencies)
            if retry_failed:
                failed = await session.exec(
                    scoped(OutboxItem, tenant_id).where(OutboxItem.state == EntryState.FAILED)
                )
                for row in failed.all():
                    await approval.retry(session, scope, row.entry_id)
                    count += 1
        return count

    async def _wait_quiet(self, tenant_id: str) -> None:
        """Let results and list changes from a session reach the mapper before going on.

        A queue's message count leaves out what a consumer holds unacknowledged, so "quiet"
        means empty queues and no change in the entries for two seconds in a row (a loaded
        machine maps slowly; up to two minutes are allowed).
        """
        assert self.sessions is not None
        previous: Snapshot | None = None
        quiet_checks = 0
        for _ in range(240):
            await asyncio.sleep(0.5)
            snap = await snapshot(self.sessions, tenant_id)
            unchanged = previous is not None and (snap.entries, snap.outbox) == (
                previous.entries,
                previous.outbox,
            )
            quiet_checks = quiet_checks + 1 if unchanged and await self._queues_empty() else 0
            if quiet_checks >= 4 or (unchanged and await self._idle()):
                return
            previous = snap

    async def _tax_rate(self, username: str, api_key: str) -> Decimal:
        """The sales tax rate the Cin7 account's orders use (the QuickBooks tax item's rate)."""
        url = f"{self.urls['cin7-simulator']}/api/v1/SalesOrders?rows=50&fields=taxRate"
        async with httpx.AsyncClient(auth=(username, api_key), timeout=30) as client:
            response = await client.get(url)
        response.raise_for_status()
        rates = [Decimal(str(row["taxRate"])) for row in response.json() if row.get("taxRate")]
        return max(rates, key=rates.count) if rates else Decimal("0")

    async def _tenant(self, account: dict[str, Any], tax_rate: Decimal) -> tuple[Tenant, str]:
        assert self.sessions is not None
        name = TENANT_NAME.format(company=account["company"])
        base_url = f"{self.urls['cin7-simulator']}/api/"
        api_key = account["connections"][0]["apiKey"]
        async with unit_of_work(self.sessions) as session:
            try:
                tenant = await get_tenant(session, name)
                await set_cin7_credentials(
                    session,
                    tenant.id,
                    secret_key=PLACEHOLDER_SECRET_KEY,
                    username=account["username"],
                    api_key=api_key,
                    base_url=base_url,
                    actor="demo",
                )
                password = (await rotate_password(session, tenant.id, actor="demo")).qbwc_password
                self.say(f"Re-using the demo tenant {name!r} (a re-run posts nothing twice)")
            except TenantNotFound:
                created = await create_tenant(
                    session,
                    name=name,
                    secret_key=PLACEHOLDER_SECRET_KEY,
                    actor="demo",
                    cin7_username=account["username"],
                    cin7_api_key=api_key,
                    cin7_base_url=base_url,
                )
                tenant = await get_tenant(session, created.tenant_id)
                password = created.qbwc_password
                self.say(f"Created the demo tenant {name!r}")
            tenant.qb_company_path = COMPANY_PATH.format(name="Demo Outdoor")
            session.add(tenant)
            if await latest_settings(session, tenant.id) is None:
                await save_settings(session, tenant.id, demo_settings(tax_rate), actor="demo")
        return tenant, password

    def _company(self, tenant: Tenant, tax_rate: Decimal) -> CompanyFile:
        load_companies(self.quickbooks, self.options.quickbooks_state)
        assert tenant.qb_company_path is not None
        company = self.quickbooks.company(tenant.qb_company_path, file_id=tenant.qb_file_id)
        seed_company(company, tax_rate=tax_rate)
        return company

    def _start_service(self, name: str, *, wait: bool = True) -> None:
        self.say(f"Starting the {name} ...")
        port = free_port()
        self._start(name, ["run", name, "--port", str(port)], port, wait=wait)

    async def _wait_ready(self, names: list[str]) -> None:
        deadline = time.monotonic() + 90
        async with httpx.AsyncClient(timeout=5) as client:
            for name in names:
                # Listening first (a service started without waiting may still be importing).
                await asyncio.to_thread(self._services[name].wait_until_up)
                while True:
                    self.processes.check_alive()
                    response = await client.get(f"{self.urls[name]}/readyz")
                    if response.status_code == 200:
                        break
                    if time.monotonic() > deadline:
                        raise DemoError(f"the {name} is not ready: {response.text}")
                    await asyncio.sleep(0.3)

    async def _wait_settled(self, tenant_id: str, since: datetime) -> Snapshot:
        """Until every kind synced since ``since`` and counts stopped moving, with progress."""
        assert self.sessions is not None
        deadline = time.monotonic() + self.options.timeout_seconds
        last_line, stable_since = "", time.monotonic()
        previous: Snapshot | None = None
        while True:
            self.processes.check_alive()
            snap = await snapshot(self.sessions, tenant_id, since)
            line = snap.line()
            if line != last_line:
                self.say(f"  {line}")
                last_line = line
            if previous is None or (snap.fetched, snap.entries, snap.outbox) != (
                previous.fetched,
                previous.entries,
                previous.outbox,
            ):
                stable_since = time.monotonic()
            previous = snap
            fetched_all = snap.kinds_synced_since >= 6
            quiet = time.monotonic() - stable_since >= self.options.settle_seconds
            if fetched_all and quiet and await self._queues_empty():
                return snap
            # Unchanged since the last look, and the services provably idle: settled without
            # waiting out the clock (``_idle``).
            if fetched_all and stable_since < time.monotonic() - 0.4 and await self._idle():
                return snap
            if time.monotonic() > deadline:
                raise DemoError(f"work did not settle in {self.options.timeout_seconds:.0f} s")
            await asyncio.sleep(0.5)

    async def _check_broker(self) -> None:
        try:
            connection = await asyncio.wait_for(aio_pika.connect(self.options.amqp_url), 10)
        except Exception as exc:
            raise DemoError(
                f"cannot reach RabbitMQ at {without_credentials(self.options.amqp_url)} ({exc}). "
                "Start it (for example `rabbitmq-server -detached`) or point --amqp-url / "
                "OMNI2QBD_AMQP_URL at one."
            ) from exc
        await connection.close()

    async def _idle(self) -> bool:
        """Nothing waits in a queue or to be published, the mapper and the gateway handle
        no delivery, and none was handled while this looked.

        A queue's message count leaves out deliveries a consumer holds; the services count
        those in ``/metrics``. Their handled totals unchanged around the queue check mean no
        delivery went from one queue to the next meanwhile. Without it, only the clock says
        the work is done (``settle_seconds``, four quiet checks)."""
        before = await self._deliveries()
        if before is None or before[0]:
            return False
        if not await self._queues_empty() or await self._results_waiting():
            return False
        return await self._deliveries() == before

    async def _deliveries(self) -> tuple[float, float] | None:
        """Deliveries the mapper and the gateway handle now, and have handled so far."""
        in_flight = handled = 0.0
        async with httpx.AsyncClient(timeout=5) as client:
            for name in ("mapper", "gateway"):
                try:
                    text = (await client.get(f"{self.urls[name]}/metrics")).text
                except (KeyError, httpx.HTTPError):
                    return None
                for family in text_string_to_metric_families(text):
                    for sample in family.samples:
                        if sample.name == "omni2qbd_messages_in_flight":
                            in_flight += sample.value
                        elif sample.name == "omni2qbd_deliveries_handled_total":
                            handled += sample.value
        return in_flight, handled

    async def _results_waiting(self) -> bool:
        """Results and list changes the gateway recorded but has not published yet."""
        assert self.sessions is not None
        async with self.sessions() as session:
            waiting = await session.exec(select(func.count()).select_from(GatewayPendingMessage))
            return bool(waiting.one())

    async def _queues_empty(self) -> bool:
        connection = await aio_pika.connect(self.options.amqp_url)
        try:
            channel = await connection.channel()
            for queue in (
                "mapper.cin7-documents",
                "mapper.qb-results",
                "mapper.qb-lists",
                "gateway.qb-entries",
            ):
                declared = await channel.declare_queue(
                    f"{self.options.amqp_namespace}{queue}", passive=True
                )
                if declared.declaration_result.message_count:
                    return False
        finally:
            await connection.close()
        return True

    async def _change_posted_invoice(self, tenant_id: str, username: str) -> str | None:
        """Edit a sales order in Cin7 whose invoice is already in QuickBooks (as a draft)."""

        assert self.sessions is not None
        async with self.sessions() as session:
            links = (await session.exec(scoped(QbLink, tenant_id))).all()
        invoices = sorted(
            (link for link in links if link.entry_kind == "invoice"), key=lambda link: link.cin7_id
        )
        if not invoices:
            self.say("--change: no invoice is in QuickBooks yet; run the demo once first")
            return None
        link = invoices[0]
        body = {
            "username": username,
            "resource": "SalesOrders",
            "id": int(link.cin7_id),
            "changes": {"freightTotal": 12.34, "customerOrderNo": "CHANGED-BY-DEMO"},
        }
        await _post(f"{self.urls['cin7-simulator']}/_sim/change-document", json_body=body)
        self.say(
            f"--change: edited Cin7 sales order {link.cin7_id} (invoice {link.ref_number}, "
            "still a draft in QuickBooks): it will be re-imported as an InvoiceMod"
        )
        return link.cin7_id


async def _get_json(url: str) -> Any:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(url)
        response.raise_for_status()
        return response.json()


async def _post(url: str, json_body: Any = None) -> Any:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(url, json=json_body)
        if response.status_code >= 400:
            raise DemoError(f"POST {url} answered {response.status_code}: {response.text}")
        return response.json() if response.content else None
