"""Each service starts with one command, reports health, and stops cleanly on SIGTERM."""

from __future__ import annotations

import importlib.util
import signal
import uuid

import httpx
import pytest

from omni2qbd_shared.messaging import Topology
from tests.conftest import AMQP_URL, closed_port, delete_topology, run_blocking
from tests.service_process import running_service, wait_ready

SERVICES = ["gateway", "fetcher", "mapper"]


def _available(service: str) -> bool:

    return importlib.util.find_spec(f"omni2qbd_{service}.app") is not None


@pytest.mark.parametrize("service", SERVICES)
def test_service_is_ready_with_real_database_and_broker(service: str, database_url: str) -> None:
    if not _available(service):
        pytest.fail(f"omni2qbd_{service}.app is missing")
    namespace = f"health{uuid.uuid4().hex[:8]}."
    env = {
        "OMNI2QBD_DATABASE_URL": database_url,
        "OMNI2QBD_AMQP_URL": AMQP_URL,
        "OMNI2QBD_AMQP_NAMESPACE": namespace,
    }
    try:
        _check_service(service, env)
    finally:
        run_blocking(delete_topology(Topology(namespace=namespace)))


def _check_service(service: str, env: dict[str, str]) -> None:
    with running_service(service, env) as (base, process):
        assert httpx.get(f"{base}/livez").json()["status"] == "ok"
        ready = wait_ready(base)
        assert ready.status_code == 200, ready.text
        metrics = httpx.get(f"{base}/metrics")
        assert metrics.status_code == 200
        assert f'omni2qbd_ready{{service="{service}"}} 1.0' in metrics.text
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0  # the wait only bounds a hang; the log says how it stopped
        assert process.stderr is not None
        log = process.stderr.read()
        assert b"service_stopped" in log
        # A clean stop: uvicorn's graceful shutdown finished in time (it did not cancel
        # requests at its own deadline) and every stop hook of the service ran without error.
        assert b"timeout graceful shutdown exceeded" not in log
        assert b"stop_hook_failed" not in log


def test_readyz_names_the_broker_when_it_is_unreachable(sqlite_database_url: str) -> None:

    env = {
        "OMNI2QBD_DATABASE_URL": sqlite_database_url,
        "OMNI2QBD_AMQP_URL": f"amqp://guest:guest@127.0.0.1:{closed_port()}/",
    }
    with running_service("gateway", env) as (base, _process):
        response = httpx.get(f"{base}/readyz", timeout=10)
        assert response.status_code == 503
        failed = response.json()["failed"]
        assert set(failed) == {"broker"}
        assert "cannot connect to RabbitMQ" in failed["broker"]
        assert "guest:guest" not in response.text  # no credentials in the answer
        assert httpx.get(f"{base}/livez").status_code == 200


def test_readyz_names_the_database_when_it_is_unreachable() -> None:
    env = {
        "OMNI2QBD_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/x",
        "OMNI2QBD_AMQP_URL": AMQP_URL,
    }
    with running_service("gateway", env) as (base, _process):
        response = httpx.get(f"{base}/readyz", timeout=10)
        assert response.status_code == 503
        assert "database" in response.json()["failed"]
