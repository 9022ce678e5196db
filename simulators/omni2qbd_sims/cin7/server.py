"""Run the simulator in a background thread on a free port (tests, benchmarks, demos)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import httpx
import uvicorn
from fastapi import FastAPI


@contextmanager
def serve_in_thread(
    app: FastAPI,
    host: str = "127.0.0.1",
    *,
    lifespan: Literal["on", "off"] = "off",
    suffix: str = "/api",
) -> Iterator[str]:
    """Serve ``app`` with uvicorn until the block ends; yields its base URL + ``suffix``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan=lifespan, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the Cin7 simulator did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}{suffix}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


class SimAdmin:
    """Synchronous helper for the ``/_sim`` admin API of a running simulator."""

    def __init__(self, base_url: str) -> None:
        self.root = base_url.removesuffix("/api")
        self._http = httpx.Client(base_url=self.root, timeout=10)

    def close(self) -> None:
        self._http.close()

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        response = self._http.post(path, json=body)
        response.raise_for_status()
        return response.json()

    def add_fault(self, kind: str, **options: Any) -> Any:
        return self._post("/_sim/faults", {"kind": kind, **options})

    def clear_faults(self) -> None:
        self._http.delete("/_sim/faults").raise_for_status()

    def configure(self, **options: Any) -> Any:
        return self._post("/_sim/config", options)

    def change_document(self, username: str, resource: str, record_id: int, **changes: Any) -> Any:
        body = {"username": username, "resource": resource, "id": record_id, "changes": changes}
        return self._post("/_sim/change-document", body)

    def change_cost(self, username: str, resource: str, record_id: int, factor: float) -> Any:
        body = {"username": username, "resource": resource, "id": record_id, "factor": factor}
        return self._post("/_sim/change-cost", body)

    def stats(self) -> dict[str, dict[str, int]]:
        usage: dict[str, dict[str, int]] = self._http.get("/_sim/stats").json()["usage"]
        return usage

    def reset_usage(self) -> None:
        self._http.post("/_sim/reset-usage").raise_for_status()
