"""Tenants through the real command line, against a migrated database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared.db.credentials import cin7_access
from omni2qbd_shared.db.models import Cin7Credential, Tenant
from omni2qbd_shared.secrets import verify_generated_password as verify_password
from tests.conftest import closed_port

SECRET = "test-secret-key-that-is-long-enough-for-production"


def omni2qbd(
    database_url: str, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "OMNI2QBD_DATABASE_URL": database_url,
        "OMNI2QBD_SECRET_KEY": SECRET,
        "OMNI2QBD_ENVIRONMENT": "test",
    }
    return subprocess.run(
        [sys.executable, "-m", "omni2qbd", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        input=stdin,
    )


def create(database_url: str, *extra: str, stdin: str | None = None) -> dict[str, Any]:
    result = omni2qbd(
        database_url, "tenant", "create", "--name", "Acme Widgets", *extra, "--json", stdin=stdin
    )
    assert result.returncode == 0, result.stderr
    created: dict[str, Any] = json.loads(result.stdout)
    return created


async def test_create_prints_credentials_and_stores_only_a_hash(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # No Cin7 to test against here (tests/api/test_tenant_commands.py tests the check).
    created = create(
        database_url,
        "--cin7-username",
        "acme",
        "--cin7-api-key-stdin",
        "--skip-cin7-check",
        stdin="k-123-secret\n",
    )
    assert set(created) == {"tenant_id", "qbwc_username", "qbwc_password"}
    async with sessions() as session:
        tenant = await session.get(Tenant, created["tenant_id"])
        assert tenant is not None
        assert tenant.qbwc_username == created["qbwc_username"]
        assert created["qbwc_password"] not in tenant.qbwc_password_hash
        assert tenant.qbwc_password_hash.startswith("$argon2id$v=19$m=4096,t=1,p=1$")
        assert verify_password(tenant.qbwc_password_hash, created["qbwc_password"])
        credential = (await session.exec(select(Cin7Credential))).one()
        assert "k-123-secret" not in credential.api_key_encrypted
        access = await cin7_access(session, tenant.id, secret_key=SECRET)
        assert access is not None and access.api_key == "k-123-secret"
        assert "k-123-secret" not in repr(access)


async def test_rotate_password_replaces_the_old_one(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    created = create(database_url)
    result = omni2qbd(database_url, "tenant", "rotate-password", created["qbwc_username"], "--json")
    assert result.returncode == 0, result.stderr
    rotated = json.loads(result.stdout)
    assert rotated["qbwc_password"] != created["qbwc_password"]
    async with sessions() as session:
        tenant = await session.get(Tenant, created["tenant_id"])
        assert tenant is not None
        assert verify_password(tenant.qbwc_password_hash, rotated["qbwc_password"])
        assert not verify_password(tenant.qbwc_password_hash, created["qbwc_password"])


def test_list_shows_tenants_and_unknown_tenant_is_explained(database_url: str) -> None:
    created = create(database_url)
    listed = omni2qbd(database_url, "tenant", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [row["tenant_id"] for row in json.loads(listed.stdout)] == [created["tenant_id"]]
    missing = omni2qbd(database_url, "tenant", "rotate-password", "nobody")
    assert missing.returncode == 2
    assert "no tenant 'nobody'" in missing.stderr


def test_half_given_cin7_credentials_are_refused(database_url: str) -> None:
    result = omni2qbd(database_url, "tenant", "create", "--name", "X", "--cin7-username", "u")
    assert result.returncode == 2
    assert "--cin7-api-key-stdin" in result.stderr


def test_a_cin7_key_on_the_command_line_is_refused(database_url: str) -> None:
    """The key would show in `ps`; it comes from stdin or OMNI2QBD_CIN7_API_KEY instead."""
    result = omni2qbd(
        database_url,
        "tenant",
        "create",
        "--name",
        "X",
        "--cin7-username",
        "u",
        "--cin7-api-key",
        "k-on-the-command-line",
    )
    assert result.returncode == 2
    assert "ps" in result.stderr and "--cin7-api-key-stdin" in result.stderr


def test_database_without_schema_or_server_gets_one_plain_line(tmp_path: Path) -> None:
    empty = omni2qbd(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}", "tenant", "list")
    assert empty.returncode == 2
    assert "run `omni2qbd migrate` first" in empty.stderr
    assert "Traceback" not in empty.stderr
    down = omni2qbd(
        f"postgresql+asyncpg://postgres:pw@127.0.0.1:{closed_port()}/x", "tenant", "list"
    )
    assert down.returncode == 2
    assert "cannot use the database postgresql+asyncpg://127.0.0.1:" in down.stderr
    assert "pw" not in down.stderr and "Traceback" not in down.stderr
