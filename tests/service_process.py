"""Start ``omni2qbd run SERVICE`` as a real process and wait until it answers HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.conftest import REPO_ROOT, free_port


@contextmanager
def running_service(
    service: str, env: dict[str, str], *, port: int | None = None, timeout: float = 30.0
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = port or free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "omni2qbd", "run", service, "--port", str(port)],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            if process.poll() is not None:
                errors = process.stderr.read().decode() if process.stderr else ""
                raise AssertionError(f"{service} exited early: {errors}")
            try:
                httpx.get(f"{base}/livez", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield base, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_ready(base: str, timeout: float = 30.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(f"{base}/readyz", timeout=5)
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)
