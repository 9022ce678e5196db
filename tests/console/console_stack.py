"""The whole product on one machine for the browser tests: the Cin7 Omni simulator, the
gateway (which serves the console), the mapper and the fetcher as real processes, with a
QuickBooks simulator that a Web Connector simulator drives, as the demo does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import col, func, select

from omni2qbd.demo.company import demo_settings, seed_company
from omni2qbd.demo.processes import ManagedProcess, ProcessGroup, free_port
from omni2qbd_gateway.settings_store import save_settings
from omni2qbd_gateway.tenants import create_tenant
from omni2qbd_shared.config import PLACEHOLDER_SECRET_KEY
from omni2qbd_shared.db.engine import create_engine, session_factory, unit_of_work
from omni2qbd_shared.db.migrate import upgrade_async
from omni2qbd_shared.db.models import OutboxItem, QbwcSession, Tenant
from omni2qbd_shared.messaging import Topology
from omni2qbd_sims.cin7.generator import PROFILES
from omni2qbd_sims.quickbooks import QuickBooksSimulator
from omni2qbd_sims.quickbooks.company_file import CompanyFile
from omni2qbd_sims.webconnector import WebConnectorSimulator
from omni2qbd_sims.webconnector.report import SessionReport
from tests.conftest import AMQP_URL, REPO_ROOT, delete_topology, run_blocking

CIN7_SCALE = "0.02"
# The sales tax rate of each simulated Cin7 account, for the QuickBooks sales tax item.
TAX_RATES = tuple(Decimal(str(profile.tax_rate)) for profile in PROFILES)


@dataclass
class Account:
    tenant_id: str
    name: str
    qbwc_username: str
    qbwc_password: str
    company_path: str


@dataclass
class Person:
    email: str
    password: str


@dataclass
class ConsoleStack:
    data_dir: Path
    database_url: str
    namespace: str
    processes: ProcessGroup = field(default_factory=ProcessGroup)
    quickbooks: QuickBooksSimulator = field(default_factory=QuickBooksSimulator)
    urls: dict[str, str] = field(default_factory=dict)
    cin7_accounts: list[dict[str, Any]] = field(default_factory=list)

    # ---- processes --------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return {
            "OMNI2QBD_ENVIRONMENT": "development",
            "OMNI2QBD_SECRET_KEY": PLACEHOLDER_SECRET_KEY,
            "OMNI2QBD_DATABASE_URL": self.database_url,
            "OMNI2QBD_AMQP_URL": AMQP_URL,
            "OMNI2QBD_AMQP_NAMESPACE": self.namespace,
            "OMNI2QBD_FETCHER_POLL_INTERVAL_SECONDS": "5",
            "OMNI2QBD_MESSAGE_RETRY_DELAY_MS": "500",
            "OMNI2QBD_LOG_JSON": "true",
            "OMNI2QBD_CIN7_ALLOWED_HOSTS": "127.0.0.1",  # the Cin7 simulator
        }

    def start(self, name: str, args: list[str], port: int, health: str = "/livez") -> str:
        env = self.env()
        if name == "gateway":
            env["OMNI2QBD_GATEWAY_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
        process = ManagedProcess(
            name=name,
            args=args,
            env=env,
            log_path=self.data_dir / "logs" / f"{name}.log",
            health_url=f"http://127.0.0.1:{port}",
            health_path=health,
        )
        self.processes.start(process)
        self.urls[name] = f"http://127.0.0.1:{port}"
        return self.urls[name]

    def start_service(self, name: str) -> str:
        port = free_port()
        base = self.start(name, ["run", name, "--port", str(port)], port)
        deadline = time.monotonic() + 90
        while httpx.get(f"{base}/readyz", timeout=5).status_code != 200:
            self.processes.check_alive()
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} did not become ready")
            time.sleep(0.3)
        return base

    def start_cin7(self) -> None:
        port = free_port()
        args = ["sim", "cin7", "--port", str(port), "--seed", "7", "--scale", CIN7_SCALE]
        self.start("cin7", args, port, health="/_sim/tenants")
        self.cin7_accounts = httpx.get(f"{self.urls['cin7']}/_sim/tenants", timeout=10).json()

    def stop(self) -> None:
        self.processes.stop_all()
        run_blocking(delete_topology(Topology(namespace=self.namespace)))

    # ---- command line -------------------------------------------------------------------

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "omni2qbd", *args],
            env={**os.environ, **self.env()},
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def create_person(self, role: str, *tenants: str) -> Person:
        args = ["user", "create", "--email", f"{role}-{uuid.uuid4().hex[:6]}@example.com"]
        args += ["--role", role, "--json"]
        for tenant in tenants:
            args += ["--tenant", tenant]
        made = self.cli(*args)
        assert made.returncode == 0, made.stderr
        body = json.loads(made.stdout)
        return Person(body["email"], body["password"])

    # ---- database -----------------------------------------------------------------------

    def query(self, work: Any) -> Any:
        async def run() -> Any:
            engine = create_engine(self.database_url)
            try:
                async with unit_of_work(session_factory(engine)) as db:
                    return await work(db)
            finally:
                await engine.dispose()

        return run_blocking(run())

    def outbox_counts(self, tenant_id: str) -> Counter[str]:
        async def work(db: Any) -> Counter[str]:
            rows = await db.exec(
                select(OutboxItem.state, func.count())
                .where(OutboxItem.tenant_id == tenant_id)
                .group_by(OutboxItem.state)
            )
            return Counter({state: count for state, count in rows.all()})

        result: Counter[str] = self.query(work)
        return result

    def wait_for(self, what: str, check: Any, timeout: float = 180.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            self.processes.check_alive()
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.5)

    def wait_settled(self, tenant_id: str, quiet_seconds: float = 4.0) -> Counter[str]:
        """Until the tenant's outbox has entries and stopped changing for a few seconds."""
        last: Counter[str] | None = None
        stable_since = time.monotonic()
        deadline = time.monotonic() + 300
        while True:
            self.processes.check_alive()
            counts = self.outbox_counts(tenant_id)
            if counts != last:
                last, stable_since = counts, time.monotonic()
            elif sum(counts.values()) and time.monotonic() - stable_since >= quiet_seconds:
                return counts
            if time.monotonic() > deadline:
                raise AssertionError(f"work did not settle: {counts}")
            time.sleep(0.5)

    # ---- tenants and the Web Connector ----------------------------------------------------

    def create_account(self, cin7_index: int) -> Account:
        cin7 = self.cin7_accounts[cin7_index]
        name = cin7["company"]
        path = f"C:\\Companies\\{name}.qbw"

        async def work(db: Any) -> Account:
            created = await create_tenant(
                db,
                name=name,
                secret_key=PLACEHOLDER_SECRET_KEY,
                actor="console test",
                cin7_username=cin7["username"],
                cin7_api_key=cin7["connections"][0]["apiKey"],
                cin7_base_url=f"{self.urls['cin7']}/api/",
            )
            tenant = await db.get(Tenant, created.tenant_id)
            tenant.qb_company_path = path
            db.add(tenant)
            await save_settings(db, tenant.id, demo_settings(TAX_RATES[cin7_index]), actor="test")
            return Account(tenant.id, name, tenant.qbwc_username, created.qbwc_password, path)

        account: Account = self.query(work)
        file_id = self.query(lambda db: _file_id(db, account.tenant_id))
        company = self.quickbooks.company(path, file_id=file_id)
        seed_company(company, tax_rate=TAX_RATES[cin7_index])
        return account

    def company(self, account: Account) -> CompanyFile:
        return self.quickbooks.company(account.company_path)

    def connector(self, username: str, password: str, company_path: str) -> WebConnectorSimulator:
        return WebConnectorSimulator(
            f"{self.urls['gateway']}/qbwc",
            username,
            password,
            self.quickbooks,
            company_path,
            noop_pause_seconds=0.1,
        )

    def run_web_connector(self, account: Account) -> SessionReport:
        connector = self.connector(
            account.qbwc_username, account.qbwc_password, account.company_path
        )
        return run_blocking(connector.run_session())

    def run_web_connector_as(
        self, username: str, password: str, company_path: str
    ) -> SessionReport:
        return run_blocking(self.connector(username, password, company_path).run_session())

    def last_session_state(self, tenant_id: str) -> str | None:
        async def work(db: Any) -> str | None:
            row = (
                await db.exec(
                    select(QbwcSession)
                    .where(QbwcSession.tenant_id == tenant_id)
                    .order_by(col(QbwcSession.created_at).desc())
                )
            ).first()
            return None if row is None else row.state

        result: str | None = self.query(work)
        return result


async def _file_id(db: Any, tenant_id: str) -> str:
    tenant = await db.get(Tenant, tenant_id)
    return str(tenant.qb_file_id)


def build_stack(data_dir: Path) -> ConsoleStack:
    database_url = f"sqlite+aiosqlite:///{data_dir / 'console.db'}"
    run_blocking(upgrade_async(database_url))
    stack = ConsoleStack(data_dir, database_url, f"console{uuid.uuid4().hex[:8]}.")
    return stack
