"""``omni2qbd status``: what needs a person, with every reason; the demo's database found
when no other is configured, or a plain line saying how to point at one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from omni2qbd_shared.db.engine import create_engine, session_factory
from omni2qbd_shared.db.migrate import upgrade
from tests.api.api_helpers import blocked, deliver
from tests.conftest import REPO_ROOT, run_blocking
from tests.gateway.gateway_helpers import customer_add, invoice, new_tenant


def _status(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNI2QBD_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    return subprocess.run(
        [sys.executable, "-m", "omni2qbd", "status", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def _seed(url: str) -> str:
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        tenant = await new_tenant(sessions, "Demo: Acme")
        tid = tenant.tenant_id
        await deliver(sessions, invoice(tid, 1))
        await deliver(
            sessions,
            blocked(invoice(tid, 2, customer="Zed Stores"), "customer Zed Stores is unmatched"),
            held=True,
        )
        await deliver(
            sessions,
            blocked(customer_add(tid, "9", "A" * 50), "the name is 50 characters; 41 allowed"),
            held=True,
        )
        return tid
    finally:
        await engine.dispose()


def test_status_finds_the_demo_database_and_lists_what_needs_a_person(tmp_path: Path) -> None:
    nothing = _status(tmp_path)
    assert nothing.returncode == 2
    assert "OMNI2QBD_DATABASE_URL" in nothing.stderr and "var/demo/omni2qbd.db" in nothing.stderr

    demo_db = tmp_path / "var" / "demo" / "omni2qbd.db"
    demo_db.parent.mkdir(parents=True)
    url = f"sqlite+aiosqlite:///{demo_db}"
    upgrade(url)
    tenant_id = run_blocking(_seed(url))

    found = _status(tmp_path)
    assert found.returncode == 0, found.stderr
    assert "using the demo's database" in found.stderr
    text = found.stdout
    assert "Demo: Acme" in text and "needs attention" in text and "ready" in text
    assert "Needs a person (2):" in text
    assert "customer Zed Stores is unmatched" in text and "41 allowed" in text
    assert "Zed Stores · 2026-11-20 · 100.00 USD" in text

    as_json = json.loads(_status(tmp_path, "--json").stdout)
    assert as_json["tenant_id"] == tenant_id
    assert as_json["by_state"]["needs_attention"] == 2 and as_json["by_state"]["ready"] == 1
    assert len(as_json["needs_a_person"]) == 2
    history = _status(tmp_path, "Demo: Acme", "--all")
    assert history.returncode == 0 and "HELD (2)" in history.stdout
