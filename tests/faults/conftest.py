"""Proxies in front of the machine's RabbitMQ and PostgreSQL, one pair per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import AMQP_URL
from tests.faults.tcp_proxy import TcpProxy, ThreadedProxy


def through(url: str, proxy: TcpProxy | ThreadedProxy) -> str:
    """The same URL with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


@pytest.fixture
async def broker_proxy() -> AsyncIterator[TcpProxy]:
    parts = urlsplit(AMQP_URL)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672)
    await proxy.start()
    yield proxy
    await proxy.close()


@pytest.fixture
async def pg_proxy() -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy("127.0.0.1", 5432)
    await proxy.start()
    yield proxy
    await proxy.close()
