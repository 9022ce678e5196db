"""Logs are JSON lines that carry the tenant and never a secret."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from omni2qbd_shared.logging import bind_tenant, configure_logging


def test_json_lines_carry_the_tenant_and_hide_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json_output=True)
    bind_tenant("tenant-42")
    try:
        structlog.get_logger("t").info("authenticated", password="hunter2", api_key="k-1")
    finally:
        bind_tenant(None)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["event"] == "authenticated"
    assert line["tenant_id"] == "tenant-42"
    assert line["level"] == "info"
    assert line["password"] == "***" and line["api_key"] == "***"
    structlog.get_logger("t").info("after")
    assert "tenant_id" not in json.loads(capsys.readouterr().err.strip().splitlines()[-1])


def test_standard_library_logs_are_json_with_the_tenant(capsys: pytest.CaptureFixture[str]) -> None:

    configure_logging("INFO", json_output=True)
    bind_tenant("tenant-7")
    try:
        logging.getLogger("omni2qbd_fetcher.cin7_client").warning("network error; retry in %ss", 2)
    finally:
        bind_tenant(None)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["event"] == "network error; retry in 2s"
    assert line["tenant_id"] == "tenant-7"
    assert line["level"] == "warning"
    assert line["logger"] == "omni2qbd_fetcher.cin7_client"
