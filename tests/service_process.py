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
    # A free port can be taken by another test's process before this one binds it: then this
    # service exits with "address already in use" while the other answers on the port, so a
    # start on a port of our own choosing is tried again on another one.
    for attempt in range(3):
        chosen = port or free_port()
        process = _start(service, env, chosen)
        try:
            base = _wait_up(service, process, chosen, timeout)
        except _PortTaken:
            if port is not None or attempt == 2:
                raise
            continue
        try:
            yield base, process
        finally:
            _stop(process)
        return


class _PortTaken(AssertionError):
    pass


def _start(service: str, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "omni2qbd", "run", service, "--port", str(port)],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_up(service: str, process: subprocess.Popen[bytes], port: int, timeout: float) -> str:
    """Until the service answers 200 on /livez (another server on the port does not count)."""
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            errors = process.stderr.read().decode() if process.stderr else ""
            if "address already in use" in errors.lower():
                raise _PortTaken(f"{service}: port {port} was taken: {errors[-500:]}")
            raise AssertionError(f"{service} exited early: {errors}")
        try:
            if httpx.get(f"{base}/livez", timeout=1).status_code == 200:
                return base
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            _stop(process)
            raise AssertionError(f"{service} did not answer /livez on port {port} in {timeout} s")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
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
