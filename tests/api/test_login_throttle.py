"""Sign-in throttling on SQLite and PostgreSQL: refusals per account, address and pair, a
correct password from a clean address never refused, atomic counting, a bounded table."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway import login_throttle as throttle
from omni2qbd_gateway.login_throttle import Attempt, Reservation, ThrottlePolicy
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.login_throttle import LoginThrottleCount

POLICY = ThrottlePolicy(window_seconds=600, per_address=8, per_account_at_address=3, per_account=5)
NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


async def _try(
    sessions: async_sessionmaker[AsyncSession],
    account: str,
    address: str,
    *,
    now: datetime = NOON,
    realm: str = "api",
) -> Reservation:
    async with unit_of_work(sessions) as db:
        return await throttle.reserve(db, Attempt(realm, account, address), POLICY, now=now)


async def _succeed(sessions: async_sessionmaker[AsyncSession], reservation: Reservation) -> None:
    async with unit_of_work(sessions) as db:
        await throttle.succeeded(db, reservation)


async def _rows(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with unit_of_work(sessions) as db:
        return int((await db.exec(select(func.count()).select_from(LoginThrottleCount))).one())


async def test_one_address_guessing_one_account_is_refused_after_the_limit(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    for _ in range(POLICY.per_account_at_address):
        assert (await _try(sessions, "ann@example.com", "10.0.0.9")).refusal is None
    refused = await _try(sessions, "ANN@example.com ", "10.0.0.9")
    assert refused.refusal is not None
    assert refused.refusal.scope == "account"
    assert refused.refusal.retry_after > 0
    assert "too many failed sign-ins for this account" in refused.refusal.message
    # Another account from that address, and the same name in the Web Connector's realm,
    # are counted apart.
    assert (await _try(sessions, "bob@example.com", "10.0.0.9")).refusal is None
    assert (await _try(sessions, "ann@example.com", "10.0.0.9", realm="qbwc")).refusal is None


async def test_a_correct_password_is_not_refused_for_failures_from_other_addresses(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # An attacker spreads guesses at one account over many addresses, past the account limit.
    for n in range(3 * POLICY.per_account):
        await _try(sessions, "ann@example.com", f"203.0.113.{n % 4}")
    # The attackers' addresses are refused ...
    assert (await _try(sessions, "ann@example.com", "203.0.113.1")).refusal is not None
    # ... the owner's own address is not, and their sign-in gives its slot back.
    owner = await _try(sessions, "ann@example.com", "198.51.100.7")
    assert owner.refusal is None
    await _succeed(sessions, owner)
    again = await _try(sessions, "ann@example.com", "198.51.100.7")
    assert again.refusal is None


async def test_one_address_spraying_many_accounts_is_refused(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    for n in range(POLICY.per_address):
        assert (await _try(sessions, f"user{n}@example.com", "10.1.1.1")).refusal is None
    refused = await _try(sessions, "someone@example.com", "10.1.1.1")
    assert refused.refusal is not None and refused.refusal.scope == "address"
    assert (await _try(sessions, "someone@example.com", "10.1.1.2")).refusal is None


async def test_success_forgets_the_pairs_earlier_misses(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    for _ in range(POLICY.per_account_at_address - 1):
        await _try(sessions, "ann@example.com", "10.0.0.9")
    await _succeed(sessions, await _try(sessions, "ann@example.com", "10.0.0.9"))
    for _ in range(POLICY.per_account_at_address):
        assert (await _try(sessions, "ann@example.com", "10.0.0.9")).refusal is None


async def test_refusals_end_after_the_windows_and_old_windows_are_swept(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    window = timedelta(seconds=POLICY.window_seconds)
    for _ in range(POLICY.per_account_at_address + 1):
        last = await _try(sessions, "ann@example.com", "10.0.0.9")
    assert last.refusal is not None
    # The next window still counts the previous one: still refused.
    assert (await _try(sessions, "ann@example.com", "10.0.0.9", now=NOON + window)).refusal
    rows_then = await _rows(sessions)
    assert rows_then == 6  # three counters in each of two windows
    # Two windows after the one the guesses filled, the counters are gone from the table.
    later = NOON + 3 * window
    assert (await _try(sessions, "ann@example.com", "10.0.0.9", now=later)).refusal is None
    assert await _rows(sessions) == 3
    async with unit_of_work(sessions) as db:
        assert await throttle.sweep(db, POLICY, later + 2 * window) == 3
    assert await _rows(sessions) == 0


async def test_simultaneous_guesses_each_take_a_slot(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    guesses = 12
    results = await asyncio.gather(
        *(_try(sessions, "ann@example.com", "10.0.0.9") for _ in range(guesses))
    )
    admitted = [r for r in results if r.refusal is None]
    assert len(admitted) == POLICY.per_account_at_address
    async with unit_of_work(sessions) as db:
        counts = (await db.exec(select(LoginThrottleCount.attempts))).all()
    assert sorted(counts) == [guesses, guesses, guesses]
