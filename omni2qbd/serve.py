"""Run an ASGI app under uvicorn so that SIGTERM means a clean stop with exit status 0."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Generator
from typing import Any

import uvicorn

_HANDLED = (signal.SIGINT, signal.SIGTERM)


class _GracefulServer(uvicorn.Server):
    """uvicorn re-raises the signal after shutting down, which makes orchestrators log a
    crash (exit 143) for what was an orderly stop; this server just returns."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in _HANDLED}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def serve(app: Any, *, host: str, port: int, graceful_seconds: int = 20) -> None:
    # A service may ask for its own uvicorn options (the gateway: its HTTP head limits).
    options = getattr(getattr(app, "state", None), "uvicorn_options", None) or {}
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        timeout_graceful_shutdown=graceful_seconds,
        **options,
    )
    _GracefulServer(config).run()
