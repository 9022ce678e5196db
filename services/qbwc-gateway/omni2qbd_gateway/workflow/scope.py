"""The one way the workflow reads or changes a tenant's rows (docs/design.md §8)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select as sa_select
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from omni2qbd_shared.db.tenancy import scoped

ModelT = TypeVar("ModelT", bound=SQLModel)


@dataclass(frozen=True)
class TenantScope:
    """A tenant's data as seen by one actor (who is named in the audit log)."""

    tenant_id: str
    actor: str

    def select(self, model: type[ModelT]) -> SelectOfScalar[ModelT]:
        """``SELECT model WHERE tenant_id = <this tenant>``."""
        return scoped(model, self.tenant_id)

    def columns(self, model: type[SQLModel], *columns: Any) -> Any:
        """``SELECT columns FROM model WHERE tenant_id = <this tenant>`` (rows of tuples)."""
        where = self.select(model).whereclause
        assert where is not None
        return sa_select(*columns).select_from(model).where(where)

    async def get(self, db: AsyncSession, model: type[ModelT], key: Any) -> ModelT | None:
        """A row by primary key, or None when it belongs to another tenant."""
        row = await db.get(model, key)
        if row is None or getattr(row, "tenant_id", None) != self.tenant_id:
            return None
        return row
