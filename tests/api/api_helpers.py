"""Helpers for the API tests: a running gateway, users with a role, signed-in clients."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.outbox import upsert_entry
from omni2qbd_gateway.workflow.users import create_user
from omni2qbd_shared import messages as m
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.entries import Entry, Finding
from tests.gateway.gateway_helpers import Gateway


@dataclass(frozen=True)
class Person:
    user_id: str
    email: str
    password: str


async def new_person(
    sessions: async_sessionmaker[AsyncSession], role: str, tenants: Sequence[str] = ()
) -> Person:
    email = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    async with unit_of_work(sessions) as db:
        created = await create_user(db, email=email, role=role, tenants=tenants, actor="test")
    return Person(created.user_id, created.email, created.password)


async def sign_in(client: httpx.AsyncClient, person: Person) -> str:
    response = await client.post(
        "/auth/token", json={"email": person.email, "password": person.password}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@contextlib.asynccontextmanager
async def api_client(
    gateway: Gateway, token: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(
        base_url=f"{gateway.url}/api/v1", headers=headers, timeout=30
    ) as client:
        yield client


@contextlib.asynccontextmanager
async def signed_in(gateway: Gateway, person: Person) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(gateway) as anonymous:
        token = await sign_in(anonymous, person)
    async with api_client(gateway, token) as client:
        yield client


async def deliver(
    sessions: async_sessionmaker[AsyncSession],
    entry: Entry,
    *,
    held: bool = False,
    version: int = 1,
    entry_id: str | None = None,
) -> str:
    """An entry arriving from the mapper, through the gateway's qb.entries handler."""
    message = m.EntryMessage(
        entry_id=entry_id or str(uuid.uuid4()),
        tenant_id=entry.tenant_id,
        entry_kind=entry.kind.value,
        version=version,
        state="held" if held else "ready",
        source=m.EntrySource(
            kind=entry.source.kind, cin7_id=entry.source.cin7_id, revision=entry.source.revision
        ),
        entry=entry.model_dump(mode="json"),
    )
    async with unit_of_work(sessions) as db:
        await upsert_entry(message, db)
    return message.entry_id


def blocked(entry: Entry, message: str, field: str = "memberId") -> Entry:
    finding = Finding(code="unmatched_contact", blocking=True, message=message, field=field)
    return entry.model_copy(update={"findings": [finding]})
