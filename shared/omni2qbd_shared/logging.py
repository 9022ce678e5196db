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
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact_secrets,
        structlog.processors.format_exc_info,
    ]
    _route_standard_logging(level, shared, renderer)
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        # Resolve sys.stderr at each use: whoever replaces it later (a test runner, a daemon
        # wrapper) still gets the lines, and a closed old stream never breaks a handler.
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )


class _StderrHandler(logging.Handler):
    """Writes to whatever sys.stderr is at the time of each record (never to a stream that
    was replaced and closed since)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


def _route_standard_logging(level: str, shared: list[Any], renderer: Any) -> None:
    """Libraries (httpx, aio-pika, uvicorn, our stdlib loggers) log in the same JSON lines,
    with the tenant bound in the context."""
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    handler.set_name("omni2qbd")
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == "omni2qbd":
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.getLevelNamesMapping().get(level.upper(), logging.INFO))
    # One line per HTTP request from httpx is noise at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def bind_tenant(tenant_id: str | None) -> None:
    """Every log line from this task on carries ``tenant_id``."""
    if tenant_id is None:
        structlog.contextvars.unbind_contextvars("tenant_id")
    else:
        structlog.contextvars.bind_contextvars(tenant_id=tenant_id)
