"""Sign-in throttling: attempts counted per account, per client address and per account at
an address; past a limit the attempt is refused before any password is checked.

Used by every password sign-in (the JSON API, the console, the Web Connector's
``authenticate``); ``realm`` keeps their accounts apart. The calling pattern is::

    async with unit_of_work(sessions) as db:
        reservation = await login_throttle.reserve(db, attempt, policy)
    if reservation.refusal is not None:
        ...  # answer "too many attempts", with reservation.refusal.retry_after
    ok = verify_password(...)
    if ok:
        async with unit_of_work(sessions) as db:
            await login_throttle.succeeded(db, reservation)

Why it is shaped this way:

- The attempt is counted *before* its password is checked, with one atomic
  ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` per counter. Twenty simultaneous guesses
  therefore take twenty slots; a check-then-record scheme would let all of them read "no
  failures yet". A correct password gives its slot back.
- A refusal is an answer, not a sleep: a sleeping throttle ties up a worker per guess and
  lets an attacker hold connections open.
- A correct password is never refused because of someone else's failures: the per-account
  count (failures from every address) is enforced only against addresses that have
  themselves failed on that account. An attacker guessing from many addresses is stopped by
  the per-address and per-pair limits, and the account's owner signs in from their own.
- Windows are fixed and counted together with the previous one, so a refusal lasts at least
  one full window; rows older than that are deleted on every reservation, which keeps the
  table bounded by the last two windows' traffic.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_shared.db.login_throttle import LoginThrottleCount
from omni2qbd_shared.db.models import utcnow


@dataclass(frozen=True)
class ThrottlePolicy:
    window_seconds: int = 15 * 60
    # Attempts from one client address, whatever the account (password spraying).
    per_address: int = 50
    # Attempts on one account from one address (guessing one person's password).
    per_account_at_address: int = 5
    # Attempts on one account from every address together (a guess spread over many
    # addresses); enforced only against addresses that already failed on this account.
    per_account: int = 100


@dataclass(frozen=True)
class Attempt:
    realm: str  # "api" (people) or "qbwc" (Web Connector users): separate name spaces
    account: str
    address: str | None


@dataclass(frozen=True)
class Refusal:
    scope: str  # "address" | "account"
    retry_after: int  # seconds until an attempt may succeed again
    message: str


@dataclass(frozen=True)
class Reservation:
    attempt: Attempt
    window_start: int
    refusal: Refusal | None


def _key(realm: str, *parts: str) -> str:
    return hashlib.sha256("\0".join((realm, *parts)).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class _Keys:
    address: str
    account: str
    pair: str


def _keys(attempt: Attempt) -> _Keys:
    account = attempt.account.strip().lower()
    address = (attempt.address or "unknown").strip().lower()
    return _Keys(
        address=_key(attempt.realm, "address", address),
        account=_key(attempt.realm, "account", account),
        pair=_key(attempt.realm, "pair", account, address),
    )


def _window_start(now: datetime, window_seconds: int) -> int:
    seconds = int(now.timestamp())
    return seconds - seconds % window_seconds


def _upsert(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


async def _count(session: AsyncSession, keys: list[str], window_start: int) -> dict[str, int]:
    """Add one attempt to each key's current window (one statement); the windows' new counts."""
    table: Any = LoginThrottleCount.__table__  # type: ignore[attr-defined]
    statement = (
        _upsert(session)(table)
        .values([{"key": key, "window_start": window_start, "attempts": 1} for key in keys])
        .on_conflict_do_update(
            index_elements=[table.c.key, table.c.window_start],
            set_={"attempts": table.c.attempts + 1},
        )
        .returning(table.c.key, table.c.attempts)
    )
    return {str(key): int(attempts) for key, attempts in (await session.exec(statement)).all()}


async def _previous(session: AsyncSession, keys: list[str], window_start: int) -> dict[str, int]:
    rows = await session.exec(
        select(LoginThrottleCount).where(
            col(LoginThrottleCount.key).in_(keys),
            col(LoginThrottleCount.window_start) == window_start,
        )
    )
    return {row.key: row.attempts for row in rows}


async def sweep(session: AsyncSession, policy: ThrottlePolicy, now: datetime | None = None) -> int:
    """Delete windows that no longer count (older than the previous one); rows deleted."""
    oldest_kept = _window_start(now or utcnow(), policy.window_seconds) - policy.window_seconds
    result = await session.exec(
        delete(LoginThrottleCount).where(col(LoginThrottleCount.window_start) < oldest_kept)
    )
    return int(result.rowcount or 0)


# The window each database was last swept in (by this process). A sweep per sign-in was a
# DELETE over the table at every attempt, a fifth of a Web Connector login's cost in a burst;
# once per window keeps the table just as bounded (it never holds more than two windows plus
# the current one's keys).
_swept_in: dict[tuple[str, int], int] = {}


async def _sweep_once_per_window(
    session: AsyncSession, policy: ThrottlePolicy, now: datetime, window_start: int
) -> None:
    database = (str(session.get_bind().engine.url), policy.window_seconds)
    if _swept_in.get(database) == window_start:
        return
    await sweep(session, policy, now)
    _swept_in[database] = window_start


def _wait(current: int, limit: int, now: datetime, window_start: int, window: int) -> int:
    """Seconds until the two counted windows hold no more than ``limit`` attempts."""
    until = window_start + window
    if current > limit:
        # This window alone is over the limit: it still counts as the previous one next.
        until += window
    return max(1, until - int(now.timestamp()))


async def reserve(
    session: AsyncSession,
    attempt: Attempt,
    policy: ThrottlePolicy | None = None,
    *,
    now: datetime | None = None,
) -> Reservation:
    """Count this attempt and say whether it is refused (check no password if it is)."""
    policy = policy or ThrottlePolicy()
    now = now or utcnow()
    window = policy.window_seconds
    start = _window_start(now, window)
    await _sweep_once_per_window(session, policy, now, start)
    keys = _keys(attempt)
    current = await _count(session, [keys.address, keys.account, keys.pair], start)
    before = await _previous(session, list(current), start - window)
    total = {key: current[key] + before.get(key, 0) for key in current}

    def refusal(key: str, limit: int, scope: str, message: str) -> Refusal:
        wait = _wait(current[key], limit, now, start, window)
        minutes = (wait + 59) // 60
        return Refusal(scope, wait, f"{message}; try again in {minutes} minute(s)")

    found: Refusal | None = None
    if total[keys.address] > policy.per_address:
        found = refusal(
            keys.address,
            policy.per_address,
            "address",
            "too many failed sign-ins from this address",
        )
    elif total[keys.pair] > policy.per_account_at_address or (
        # The pair's earlier failures (this attempt excluded) tie this address to the guessing.
        total[keys.account] > policy.per_account and total[keys.pair] > 1
    ):
        limiting = keys.pair if total[keys.pair] > policy.per_account_at_address else keys.account
        limit = policy.per_account_at_address if limiting == keys.pair else policy.per_account
        found = refusal(limiting, limit, "account", "too many failed sign-ins for this account")
    return Reservation(attempt, start, found)


async def succeeded(session: AsyncSession, reservation: Reservation) -> None:
    """The password was right: give the attempt's slot back and forget the pair's misses."""
    keys = _keys(reservation.attempt)
    await session.exec(
        update(LoginThrottleCount)
        .where(
            col(LoginThrottleCount.key).in_([keys.address, keys.account]),
            col(LoginThrottleCount.window_start) == reservation.window_start,
            col(LoginThrottleCount.attempts) > 0,
        )
        .values(attempts=LoginThrottleCount.attempts - 1)
    )
    await session.exec(delete(LoginThrottleCount).where(col(LoginThrottleCount.key) == keys.pair))
