"""The whole flow (Cin7 simulator → fetcher → mapper → gateway → Web Connector simulator →
QuickBooks simulator) with an outage in the middle, ending by counting every Cin7 document
in the QuickBooks simulator's company file: exactly once, or held with its reason.

The services reach RabbitMQ or PostgreSQL through a TCP proxy this test starts; the outage
is the proxy dropping every connection and refusing new ones while the machine's servers
keep running. The flow is the demo's (``omni2qbd demo --no-serve``), which prints the
held documents with their reasons and checks its own summary against the company file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.dead_letters import list_dead_letters
from omni2qbd_shared.messaging import Topology
from tests.conftest import AMQP_URL, REPO_ROOT, delete_topology, run_blocking
from tests.e2e.test_e2e_demo import check_exactly_once, company_file, posted_rows
from tests.faults.conftest import through
from tests.faults.tcp_proxy import ThreadedProxy

pytestmark = [
    pytest.mark.rabbitmq,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.timeout(900),
]

SCALE = "0.05"
OUTAGE_SECONDS = 15.0  # a fault parameter, not a measured figure


@pytest.fixture
def namespace(tmp_path: Path) -> Iterator[str]:
    name = f"flt{abs(hash(str(tmp_path))) % 10**8}."
    yield name
    run_blocking(delete_topology(Topology(namespace=name)))


def run_demo_with_outage(
    data_dir: Path, database_url: str, namespace: str, proxy: ThreadedProxy, env: dict[str, str]
) -> str:
    """Run the demo; once fetching started, cut the proxy for a while. Returns its output."""
    process = subprocess.Popen(
        [
            sys.executable, "-m", "omni2qbd", "demo", "--no-serve", "--scale", SCALE,
            "--data-dir", str(data_dir), "--database-url", database_url,
            "--amqp-namespace", namespace,
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "OMNI2QBD_AMQP_URL": AMQP_URL, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    restored = threading.Event()

    def outage() -> None:
        proxy.cut()
        time.sleep(OUTAGE_SECONDS)
        proxy.restore()
        restored.set()

    for line in process.stdout:
        lines.append(line)
        # The first progress line: documents are being fetched and mapped right now.
        if "fetched" in line and not lines_started(lines[:-1]):
            threading.Thread(target=outage, daemon=True).start()
    process.wait(timeout=60)
    output = "".join(lines)
    assert restored.wait(timeout=60), "the outage never ended: " + output[-2000:]
    assert process.returncode == 0, output[-4000:]
    return output


def lines_started(lines: list[str]) -> bool:
    return any("fetched" in line for line in lines)


def check_company_file(data_dir: Path, database_url: str, output: str) -> None:
    assert "exactly once" in output, output[-3000:]
    # Every posted entry is in the company file once; the held ones are named with why.
    check_exactly_once(company_file(data_dir), posted_rows(database_url))
    assert "foreign_currency" in output and "name_in_use" in output


def dead_letters(namespace: str) -> int:

    settings = AppSettings(amqp_url=AMQP_URL, amqp_namespace=namespace)
    return len(run_blocking(list_dead_letters(settings)))


def test_broker_outage_mid_flow_on_sqlite(tmp_path: Path, namespace: str) -> None:
    parts = urlsplit(AMQP_URL)
    proxy = ThreadedProxy(parts.hostname or "127.0.0.1", parts.port or 5672)
    try:
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
        output = run_demo_with_outage(
            tmp_path,
            database_url,
            namespace,
            proxy,
            {"OMNI2QBD_DEMO_SERVICES_AMQP_URL": through(AMQP_URL, proxy)},
        )
        check_company_file(tmp_path, database_url, output)
        assert dead_letters(namespace) == 0
        assert proxy.connections > 3  # the services connected again after the outage
    finally:
        proxy.close()


def test_database_outage_mid_flow_on_postgres(tmp_path: Path, namespace: str, pg_url: str) -> None:
    proxy = ThreadedProxy("127.0.0.1", 5432)
    try:
        output = run_demo_with_outage(
            tmp_path,
            pg_url,
            namespace,
            proxy,
            {"OMNI2QBD_DEMO_SERVICES_DATABASE_URL": through(pg_url, proxy)},
        )
        check_company_file(tmp_path, pg_url, output)
        assert dead_letters(namespace) == 0
        logs = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
        assert "message_dead_lettered" not in logs
    finally:
        proxy.close()
