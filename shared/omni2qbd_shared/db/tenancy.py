"""The one helper every tenant-owned query goes through (docs/design.md §8)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlmodel import SQLModel, select
from sqlmodel.sql.expression import SelectOfScalar

ModelT = TypeVar("ModelT", bound=SQLModel)


class TenantScopeError(LookupError):
    pass


def scoped(model: type[ModelT], tenant_id: str) -> SelectOfScalar[ModelT]:
    """``SELECT model WHERE tenant_id = :tenant_id``; refuses models without a tenant column."""
    column: Any = getattr(model, "tenant_id", None)
    if column is None:
        raise TenantScopeError(f"{model.__name__} is not tenant-owned")
    if not tenant_id:
        raise TenantScopeError("a tenant id is required")
    return select(model).where(column == tenant_id)
