"""`omni2qbd settings set|history`: versions with who and when, and the mapper is told."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import aio_pika
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared.db.settings_store import settings_history
from omni2qbd_shared.messages import TenantEventMessage
from omni2qbd_shared.messaging import Topology, declare_topology
from tests.conftest import AMQP_URL, REPO_ROOT
from tests.foundation.test_tenants import SECRET, create


def omni2qbd(database_url: str, namespace: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "OMNI2QBD_DATABASE_URL": database_url,
        "OMNI2QBD_SECRET_KEY": SECRET,
        "OMNI2QBD_ENVIRONMENT": "test",
        "OMNI2QBD_AMQP_URL": AMQP_URL,
        "OMNI2QBD_AMQP_NAMESPACE": namespace,
    }
    return subprocess.run(
        [sys.executable, "-m", "omni2qbd", *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_set_saves_a_new_version_and_announces_it(
    database_url: str,
    sessions: async_sessionmaker[AsyncSession],
    topology: Topology,
    tmp_path: Path,
) -> None:
    tenant = create(database_url)
    connection = await aio_pika.connect(AMQP_URL)
    channel = await connection.channel()
    await declare_topology(channel, topology)
    events = await channel.get_queue(topology.queue("mapper.tenant-events").name)

    example = omni2qbd(database_url, topology.namespace, "settings", "example")
    settings = json.loads(example.stdout)
    settings["accounts"]["income"] = "Product Sales"
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(settings))
    for expected_version in (1, 2):
        saved = omni2qbd(
            database_url,
            topology.namespace,
            "settings",
            "set",
            tenant["qbwc_username"],
            str(path),
            "--by",
            "Pat Bookkeeper",
        )
        assert saved.returncode == 0, saved.stderr
        assert f"saved settings version {expected_version}" in saved.stdout
        message = await events.get(timeout=10)
        await message.ack()
        event = TenantEventMessage.model_validate_json(message.body)
        assert (event.tenant_id, event.event, event.actor) == (
            tenant["tenant_id"],
            "settings_saved",
            "Pat Bookkeeper",
        )
    await connection.close()

    async with sessions() as session:
        versions = await settings_history(session, tenant["tenant_id"])
    assert [(v.version, v.created_by) for v in versions] == [
        (1, "Pat Bookkeeper"),
        (2, "Pat Bookkeeper"),
    ]
    assert versions[-1].body["accounts"]["income"] == "Product Sales"
    history = omni2qbd(database_url, topology.namespace, "settings", "history", tenant["tenant_id"])
    assert "version   2" in history.stdout and "by Pat Bookkeeper" in history.stdout


def test_invalid_settings_are_explained_and_not_saved(database_url: str, tmp_path: Path) -> None:
    tenant = create(database_url)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"time_zone": "Mars/Olympus", "inventory_method": "fifo"}))
    result = omni2qbd(database_url, "unused.", "settings", "set", tenant["tenant_id"], str(path))
    assert result.returncode == 2
    assert "nothing was saved" in result.stderr
    assert "time_zone" in result.stderr and "inventory_method" in result.stderr
    history = omni2qbd(database_url, "unused.", "settings", "history", tenant["tenant_id"])
    assert "no settings saved yet" in history.stdout
