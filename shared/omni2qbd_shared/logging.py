"""Structured JSON logs; the tenant id travels in a context variable into every line."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_KEYS = {"password", "api_key", "secret_key", "ticket", "authorization", "strpassword"}


def _redact_secrets(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event):
        if key.lower() in _SECRET_KEYS:
            event[key] = "***"
    return event


def _stderr_logger(*_args: Any) -> structlog.PrintLogger:
    return structlog.PrintLogger(sys.stderr)


def configure_logging(level: str = "INFO", json_output: bool = True) -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_output
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact_secrets,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        # Resolve sys.stderr at each use: whoever replaces it later (a test runner, a daemon
        # wrapper) still gets the lines, and a closed old stream never breaks a handler.
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )


def bind_tenant(tenant_id: str | None) -> None:
    """Every log line from this task on carries ``tenant_id``."""
    if tenant_id is None:
        structlog.contextvars.unbind_contextvars("tenant_id")
    else:
        structlog.contextvars.bind_contextvars(tenant_id=tenant_id)
