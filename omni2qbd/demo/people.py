"""The demo's people: an operator and a bookkeeper of the demo tenant, with fresh passwords
on every run (printed beside the API and console addresses)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.workflow.users import UserNotFound, create_user, reset_password
from omni2qbd_shared.db.engine import unit_of_work

DEMO_PEOPLE = (
    ("operator", "operator@demo.omni2qbd.local"),
    ("bookkeeper", "bookkeeper@demo.omni2qbd.local"),
)


@dataclass(frozen=True)
class DemoPerson:
    role: str
    email: str
    password: str


async def demo_people(
    sessions: async_sessionmaker[AsyncSession], tenant_id: str
) -> list[DemoPerson]:
    people: list[DemoPerson] = []
    async with unit_of_work(sessions) as db:
        for role, email in DEMO_PEOPLE:
            try:
                renewed = await reset_password(db, email, actor="demo")
                password = renewed.password
            except UserNotFound:
                tenants = [] if role == "operator" else [tenant_id]
                created = await create_user(
                    db, email=email, role=role, tenants=tenants, actor="demo"
                )
                password = created.password
            people.append(DemoPerson(role, email, password))
    return people
