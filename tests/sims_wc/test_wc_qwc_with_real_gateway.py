"""`omni2qbd sim webconnector` against the real gateway, set up the way a user would:
`tenant create`, `qwc`, then the Web Connector adds the application from that .qwc file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from omni2qbd_shared.messaging import Topology
from tests.conftest import AMQP_URL, REPO_ROOT, delete_topology, run_blocking
from tests.service_process import running_service, wait_ready


def omni2qbd(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "omni2qbd", *args],
        env={**os.environ, **env},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def namespace() -> Iterator[str]:
    """The gateway's broker names for this test, deleted afterwards (they piled up in the
    shared broker: eighteen queues per run)."""
    name = f"wcqwc{uuid.uuid4().hex[:8]}."
    yield name
    run_blocking(delete_topology(Topology(namespace=name)))


def test_update_from_a_qwc_file_reaches_the_right_company(
    tmp_path: Path, sqlite_database_url: str, namespace: str
) -> None:
    env = {
        "OMNI2QBD_DATABASE_URL": sqlite_database_url,
        "OMNI2QBD_AMQP_URL": AMQP_URL,
        "OMNI2QBD_AMQP_NAMESPACE": namespace,
    }
    created = omni2qbd(env, "tenant", "create", "--name", "Qwc Co", "--json")
    assert created.returncode == 0, created.stderr
    tenant = json.loads(created.stdout)
    qwc = omni2qbd(env, "qwc", tenant["tenant_id"])
    assert qwc.returncode == 0, qwc.stderr
    qwc_path = tmp_path / "tenant.qwc"
    qwc_path.write_text(qwc.stdout)

    with running_service("gateway", env) as (base, _process):
        assert wait_ready(base).status_code == 200
        common = [
            "sim",
            "webconnector",
            "--url",
            f"{base}/qbwc",
            "--password",
            tenant["qbwc_password"],
            "--noop-pause",
            "0.1",
        ]
        # Without the .qwc the company file never got this tenant's FileID: refused, and why.
        blind = omni2qbd(env, *common, "--user", tenant["qbwc_username"])
        assert "Wrong company file" in blind.stdout
        assert "request sets processed by QuickBooks: 0" in blind.stdout
        update = omni2qbd(env, *common, "--qwc", str(qwc_path))
        assert update.returncode == 0, update.stdout + update.stderr
        assert "Wrong company file" not in update.stdout
        assert "request sets processed by QuickBooks: 0" not in update.stdout
