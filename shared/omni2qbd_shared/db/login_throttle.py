"""The failed-sign-in counters behind ``omni2qbd_gateway.login_throttle`` (migration 0005).

One row per counter key and fixed time window. The key is a SHA-256 of what is counted (an
account, an address, or the pair), so the table holds no e-mail addresses or IP addresses,
and every key has the same small size. Rows older than two windows are swept, which keeps
the table bounded by the sign-in traffic of the last two windows.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index
from sqlmodel import Field, SQLModel


class LoginThrottleCount(SQLModel, table=True):
    """Sign-in attempts counted against one key in one window (gateway-owned)."""

    __tablename__ = "login_throttle"
    __table_args__ = (Index("ix_login_throttle_window_start", "window_start"),)

    key: str = Field(primary_key=True, max_length=64)
    # Start of the window in whole seconds since the epoch: an integer compares the same on
    # SQLite and PostgreSQL, where a stored datetime would lose its time zone on SQLite.
    window_start: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    attempts: int = 0
