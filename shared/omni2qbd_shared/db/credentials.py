"""Reading a tenant's Cin7 credentials (written by the gateway, read by the fetcher)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared import secrets
from omni2qbd_shared.db.models import Cin7Credential


@dataclass(frozen=True)
class Cin7Access:
    username: str
    api_key: str = field(repr=False)
    base_url: str


async def cin7_access(
    session: AsyncSession, tenant_id: str, *, secret_key: str
) -> Cin7Access | None:
    """The tenant's Cin7 credentials, decrypted; None when none are configured."""
    credential = await session.get(Cin7Credential, tenant_id)
    if credential is None:
        return None
    return Cin7Access(
        username=credential.username,
        api_key=secrets.decrypt(secret_key, credential.api_key_encrypted),
        base_url=credential.base_url,
    )
