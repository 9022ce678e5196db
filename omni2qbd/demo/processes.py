"""Child processes of the demo: started with one command each, stopped in reverse order."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx


class ProcessFailed(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ManagedProcess:
    """One ``omni2qbd ...`` process whose output goes to a log file."""

    name: str
    args: Sequence[str]
    env: dict[str, str]
    log_path: Path
    health_url: str | None = None
    health_path: str = "/livez"
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
            [sys.executable, "-m", "omni2qbd", *self.args],
            env={**os.environ, **self.env},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the terminal reaches the demo, not the children
        )
        log_file.close()

    def wait_until_up(self, timeout: float = 60.0) -> None:
        path = self.health_path
        if self.health_url is None:
            return
        deadline = time.monotonic() + timeout
        # One client for all the polls: each new one builds an SSL context (about 20 ms of
        # CPU), which made a slow start-up cost seconds of the demo's (and bench's) CPU.
        with httpx.Client(timeout=2) as client:
            while True:
                self.check_alive()
                try:
                    if client.get(self.health_url + path).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise ProcessFailed(f"{self.name} did not answer {path} within {timeout:.0f} s")
                time.sleep(0.2)

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            tail = (
                self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
            )
            raise ProcessFailed(
                f"{self.name} stopped unexpectedly (exit {self.process.returncode}); "
                f"its log is {self.log_path}:\n{tail}"
            )

    def stop(self, timeout: float = 25.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class ProcessGroup:
    """Processes started together and stopped together, last started first stopped."""

    processes: list[ManagedProcess] = field(default_factory=list)

    def start(self, process: ManagedProcess, *, wait: bool = True) -> ManagedProcess:
        self.processes.append(process)
        process.start()
        if wait:
            process.wait_until_up()
        return process

    def check_alive(self) -> None:
        for process in self.processes:
            process.check_alive()

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()
