"""The signed-in person, from the workflow's users (the same accounts, passwords and login
throttle as the JSON API; the console only keeps its own cookie sessions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway.login_throttle import ThrottlePolicy
from omni2qbd_gateway.workflow import users
from omni2qbd_shared.db.models import aware
from omni2qbd_shared.db.people import User

if TYPE_CHECKING:
    from datetime import datetime

    from omni2qbd_gateway.console.access import ConsoleState


@dataclass(frozen=True)
class Person:
    principal: users.Principal

    @property
    def user_id(self) -> str:
        return self.principal.user_id

    @property
    def email(self) -> str:
        return self.principal.email

    @property
    def is_operator(self) -> bool:
        return self.principal.is_operator

    @property
    def tenant_ids(self) -> list[str]:
        return sorted(self.principal.roles)

    def may_see(self, tenant_id: str) -> bool:
        return self.is_operator or tenant_id in self.principal.roles

    def may_change(self, tenant_id: str) -> bool:
        """Bookkeepers and operators approve and change; viewers only read."""
        return users.role_satisfies(self.role_in(tenant_id), "bookkeeper")

    def role_in(self, tenant_id: str) -> str | None:
        return self.principal.role_in(tenant_id)


@dataclass(frozen=True)
class SignIn:
    person: Person | None
    refusal: str | None = None
    throttled: bool = False


async def sign_in(state: ConsoleState, email: str, password: str, address: str | None) -> SignIn:
    try:
        user = await users.check_password(
            state.sessions, email, password, address=address, policy=ThrottlePolicy()
        )
    except users.SignInRefused as refused:
        if refused.retry_after is not None:
            minutes = max(1, (refused.retry_after + 59) // 60)
            return SignIn(
                None,
                f"Too many sign-in attempts. Please wait {minutes} minute"
                f"{'s' if minutes != 1 else ''} and try again.",
                throttled=True,
            )
        return SignIn(None, "Wrong email or password.")
    async with state.db() as db:
        return SignIn(Person(await users.principal(db, user)))


async def person(db: AsyncSession, user_id: str, signed_in_at: datetime) -> Person | None:
    """The person behind a session, unless disabled or their password changed since."""
    user = await db.get(User, user_id)
    if user is None or user.disabled:
        return None
    if aware(user.password_changed_at) > aware(signed_in_at):
        return None
    return Person(await users.principal(db, user))
