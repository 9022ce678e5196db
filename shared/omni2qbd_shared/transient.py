"""Which errors are worth waiting out: the database or broker was briefly unavailable.

A consumer keeps a message whose handler failed this way and runs it again once the outage
is over, instead of counting it towards the dead-letter queue: a 30-second PostgreSQL
failover must delay documents, never dead-letter them.
"""

from __future__ import annotations

import errno

import aiormq
from aio_pika.exceptions import AMQPConnectionError, ChannelInvalidStateError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# SQLSTATE classes and codes that say "try again": connection exceptions (08), serialization
# failure and deadlock (40001, 40P01), operator intervention / failover (57P01-57P03),
# insufficient resources (53), lock not available (55P03).
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "53", "57P", "40001", "40P01", "55P03")
# SQLite reports a writer holding the file with these words (after busy_timeout ran out).
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")
# asyncpg's own names for a dropped or refused connection.
_ASYNCPG_CONNECTION_ERRORS = (
    "ConnectionDoesNotExistError",
    "ConnectionFailureError",
    "CannotConnectNowError",
    "ConnectionRejectionError",
    "InterfaceError",
    "InternalClientError",
)


# Pool exhaustion, a closed driver connection, and the broker's connection or channel going away.
_TRANSIENT_TYPES = (
    PoolTimeout,
    InterfaceError,
    ConnectionError,
    AMQPConnectionError,
    ChannelInvalidStateError,
    aiormq.exceptions.ConnectionClosed,
)

_CONNECTION_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ETIMEDOUT,
    errno.EPIPE,
}


def _sqlstate(error: BaseException) -> str | None:
    for attribute in ("sqlstate", "pgcode"):
        value = getattr(error, attribute, None)
        if isinstance(value, str):
            return value
    return None


def _causes(error: BaseException) -> list[BaseException]:
    """The error, the driver error it wraps, and what caused those."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or any(current is known for known in seen):
            continue
        seen.append(current)
        pending.extend([current.__cause__, current.__context__, getattr(current, "orig", None)])
    return seen


def is_transient(error: BaseException) -> bool:
    """True for a database or broker outage, a failover, a deadlock or serialization failure."""
    return any(_is_transient_cause(cause) for cause in _causes(error))


def _is_transient_cause(cause: BaseException) -> bool:
    if isinstance(cause, DBAPIError) and cause.connection_invalidated:
        return True
    if isinstance(cause, _TRANSIENT_TYPES):
        return True
    if isinstance(cause, OSError) and cause.errno in _CONNECTION_ERRNOS:
        return True
    state = _sqlstate(cause)
    if state is not None and state.startswith(_TRANSIENT_SQLSTATE_PREFIXES):
        return True
    return _is_asyncpg_connection_error(cause) or _is_sqlite_busy(cause)


def _is_asyncpg_connection_error(cause: BaseException) -> bool:
    kind = type(cause)
    return kind.__name__ in _ASYNCPG_CONNECTION_ERRORS and "asyncpg" in kind.__module__


def _is_sqlite_busy(cause: BaseException) -> bool:
    if not (isinstance(cause, OperationalError) or type(cause).__name__ == "OperationalError"):
        return False
    text = str(cause).lower()
    return any(words in text for words in _SQLITE_BUSY)
