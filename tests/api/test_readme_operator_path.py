"""The README's "A first invoice, step by step", run command by command as a new user would:
each line of the block as written (through bash, from an empty folder), with only the free
ports and the two printed values (the Cin7 API key, the Web Connector password) filled in.
Every command must succeed, and an invoice must end up in the QuickBooks simulator."""

from __future__ import annotations

import functools
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from omni2qbd_shared.messaging import Topology
from tests.conftest import REPO_ROOT, delete_topology, free_port, run_blocking

BLOCK = re.compile(r"<!-- operator-path:start -->\s*```bash\n(.*?)```", re.S)
CIN7_KEY = re.compile(r"username AcmeOutdoorAPI\s+API key (\w+)\s+\(Omni2QBD\)")
WC_PASSWORD = re.compile(r"Web Connector password: (\S+)")
COMPANY = "C:\\Companies\\Demo.qbw"
TIMEOUT = 240.0


def readme_commands() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    found = BLOCK.search(text)
    assert found, "README.md has no operator-path block"
    commands: list[str] = []
    pending = ""
    for raw in found.group(1).splitlines():
        line = raw.split("  #", 1)[0].rstrip()  # a comment starts after two spaces
        if not line.strip():
            continue
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        commands.append((pending + line).strip())
        pending = ""
    return commands


@dataclass
class Walk:
    folder: Path
    env: dict[str, str]
    ports: dict[str, int]
    values: dict[str, str] = field(default_factory=dict)
    background: list[subprocess.Popen[bytes]] = field(default_factory=list)
    outputs: list[tuple[str, str]] = field(default_factory=list)

    def fill(self, command: str) -> str:
        command = command.replace("127.0.0.1:8070", f"127.0.0.1:{self.ports['cin7']}")
        command = command.replace("127.0.0.1:8765", f"127.0.0.1:{self.ports['quickbooks']}")
        if command.startswith("omni2qbd sim cin7"):
            command = command.replace(" &", f" --port {self.ports['cin7']} &")
        if command.startswith("omni2qbd sim quickbooks"):
            command = command.replace(" &", f" --port {self.ports['quickbooks']} &")
        for name, value in self.values.items():
            command = command.replace(name, value)
        assert "_FROM_ABOVE" not in command, f"nothing printed earlier fills {command!r}"
        return command

    def run(self, command: str) -> None:
        filled = self.fill(command)
        if filled.endswith("&"):
            self.start(command, filled[:-1].strip())
            return
        done = subprocess.run(
            ["bash", "-c", filled],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        self.outputs.append((command, done.stdout + done.stderr))
        assert done.returncode == 0, f"`{command}` failed:\n{done.stdout}\n{done.stderr}"
        if (found := WC_PASSWORD.search(done.stdout)) is not None:
            self.values["WC_PASSWORD_FROM_ABOVE"] = found.group(1)

    def start(self, command: str, filled: str) -> None:
        log = self.folder / f"background-{len(self.background)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                ["bash", "-c", f"exec {filled}"],
                cwd=self.folder,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.background.append(process)
        if "sim cin7" in command:
            self._wait(lambda: _port_open(self.ports["cin7"]), process, log)
            found = None
            while found is None:
                found = CIN7_KEY.search(log.read_text())
                self._alive(process, log)
            self.values["CIN7_KEY_FROM_ABOVE"] = found.group(1)
        else:
            health = {
                "sim quickbooks": ("quickbooks", "/livez"),
                "run gateway": ("gateway", "/readyz"),
                "run mapper": ("mapper", "/readyz"),
            }
            for words, (name, path) in health.items():
                if words in command:
                    url = f"http://127.0.0.1:{self.ports[name]}{path}"
                    self._wait(functools.partial(_ok, url), process, log)

    def _alive(self, process: subprocess.Popen[bytes], log: Path) -> None:
        assert process.poll() is None, f"{process.args!r} exited:\n{log.read_text()}"

    def _wait(self, ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not ready():
            self._alive(process, log)
            assert time.monotonic() < deadline, f"{process.args!r} never became ready"
            time.sleep(0.2)

    def stop(self) -> None:
        for process in reversed(self.background):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _mapped(walk: Walk) -> bool:
    """The mapper has turned the fetched documents into entries and the gateway has them all:
    some invoice is ready, and every entry the mapper stored is in the gateway's outbox.
    (Read with SQL: polling `omni2qbd status` costs a process start each time, taking CPU
    from the mapper it waits for; the README's own status lines run after this.)"""
    with sqlite3.connect(walk.folder / "var" / "omni2qbd.db") as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        if not {"entries", "outbox"} <= tables:
            return False
        ready_invoices = db.execute(
            "SELECT count(*) FROM outbox WHERE state = 'ready' AND entry_kind = 'invoice'"
        ).fetchone()[0]
        entries = db.execute(
            "SELECT count(*) FROM entries WHERE entry_kind != 'cogs_contribution'"
        ).fetchone()[0]
        outbox = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    return bool(ready_invoices > 0 and entries == outbox)


@pytest.fixture
def walk(tmp_path: Path, amqp_url: str) -> Iterator[Walk]:
    namespace = f"t{uuid.uuid4().hex[:10]}."
    ports = {name: free_port() for name in ("cin7", "quickbooks", "gateway", "mapper")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNI2QBD_")}
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
            "OMNI2QBD_AMQP_URL": amqp_url,
            "OMNI2QBD_AMQP_NAMESPACE": namespace,
            "OMNI2QBD_GATEWAY_PORT": str(ports["gateway"]),
            "OMNI2QBD_MAPPER_PORT": str(ports["mapper"]),
            "OMNI2QBD_GATEWAY_PUBLIC_URL": f"http://localhost:{ports['gateway']}",
            "OMNI2QBD_LOG_JSON": "false",
            "OMNI2QBD_LOG_LEVEL": "WARNING",
        }
    )
    folder = tmp_path / "operator"
    folder.mkdir()
    running = Walk(folder, env, ports)
    try:
        yield running
    finally:
        running.stop()
        run_blocking(delete_topology(Topology(namespace=namespace)))


@pytest.mark.timeout(900)
def test_the_readme_operator_path_works_as_written(walk: Walk) -> None:
    commands = readme_commands()
    assert len(commands) >= 10
    for command in commands:
        if command.startswith("omni2qbd status") and not any(
            c.startswith("omni2qbd status") for c, _ in walk.outputs
        ):
            # A person reads the status once the mapper is done; the test waits for that.
            deadline = time.monotonic() + TIMEOUT
            while not _mapped(walk):
                assert time.monotonic() < deadline, "the fetched documents were never mapped"
                time.sleep(0.5)
        walk.run(command)

    outputs = dict(walk.outputs)
    qwc = (walk.folder / "acme.qwc").read_text()
    assert f"<AppURL>http://localhost:{walk.ports['gateway']}/qbwc</AppURL>" in qwc
    approved = outputs['omni2qbd approve "Acme Widgets" --all']
    assert re.search(r"approved [1-9]\d* entries", approved), approved
    final_status = [out for command, out in walk.outputs if command.startswith("omni2qbd status")]
    assert "posted" in final_status[-1], final_status[-1]
    assert "password:" in outputs["omni2qbd user create --email you@example.com --role operator"]
    company = quote(COMPANY, safe="")
    invoices = httpx.get(
        f"http://127.0.0.1:{walk.ports['quickbooks']}/companies/{company}/transactions",
        params={"txn_type": "Invoice"},
        timeout=30,
    ).json()
    assert len(invoices) >= 1, invoices
